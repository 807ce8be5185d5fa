// Package srs rewrites the envelope sender of forwarded mail with the
// Sender Rewriting Scheme, so that SPF at the destination checks the
// forwarder's domain, and turns a bounce sent to a rewritten address back
// into the original sender.
//
// Addresses follow the widely deployed form (libsrs2, postsrsd):
//
//	SRS0=HHHH=TT=orig.example=user@forwarder.example
//	SRS1=HHHH=first.example==HHHH=TT=orig.example=user@forwarder.example
//
// HHHH is the start of an HMAC-SHA1 over the rest, keyed with a secret
// that only this server knows, and TT the day of the rewrite in base32
// modulo 1024, so a forged or stale address is refused instead of making
// the server a bounce relay.
package srs

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// MaxAge is how long a rewritten address is accepted back: bounces come
// within days, and the timestamp wraps after 1024 days.
const MaxAge = 21 * 24 * time.Hour

const (
	hashLen   = 4
	maxAddr   = 512 // RFC 5321 §4.5.3.1: 64 + 1 + 255, with room for the SRS parts
	base32Set = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

// Errors of Reverse.
var (
	ErrNotSRS  = errors.New("srs: not a rewritten address")
	ErrBadHash = errors.New("srs: hash does not match")
	ErrExpired = errors.New("srs: timestamp expired")
)

// Rewriter rewrites and reverses addresses for one forwarding domain.
type Rewriter struct {
	secret []byte
	domain string
	now    func() time.Time
}

// New returns a Rewriter signing with secret for domain (the domain that
// receives the bounces, one of ours).
func New(secret []byte, domain string) *Rewriter {
	return &Rewriter{secret: secret, domain: strings.ToLower(domain), now: time.Now}
}

// SetClock replaces the clock (tests).
func (r *Rewriter) SetClock(now func() time.Time) { r.now = now }

// Domain is the domain rewritten addresses belong to.
func (r *Rewriter) Domain() string { return r.domain }

func (r *Rewriter) hash(parts ...string) string {
	m := hmac.New(sha1.New, r.secret)
	for _, p := range parts {
		m.Write([]byte(strings.ToLower(p)))
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))[:hashLen]
}

func (r *Rewriter) stamp(t time.Time) string {
	day := t.Unix() / 86400 % 1024
	return string([]byte{base32Set[day>>5], base32Set[day&31]})
}

func splitAddr(addr string) (local, domain string, ok bool) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", "", false
	}
	return addr[:at], addr[at+1:], true
}

// Forward rewrites sender for a copy forwarded from our domain. The null
// sender and addresses of our own domain stay as they are (SPF passes for
// them already); so does an address too long to rewrite.
func (r *Rewriter) Forward(sender string) string {
	local, domain, ok := splitAddr(sender)
	if !ok || strings.EqualFold(domain, r.domain) {
		return sender
	}
	var out string
	switch {
	case hasPrefixFold(local, "SRS0") && len(local) > 4 && isSep(local[4]):
		// Already rewritten by a first hop: SRS1 keeps that hop's address
		// so the bounce goes back through it.
		rest := local[5:]
		out = "SRS1=" + r.hash(domain, rest) + "=" + domain + "==" + rest
	case hasPrefixFold(local, "SRS1") && len(local) > 4 && isSep(local[4]):
		// SRS1=HHHH=first==rest: replace the hash, keep the first hop.
		parts := strings.SplitN(local[5:], "=", 3)
		if len(parts) < 3 {
			return sender
		}
		first, rest := parts[1], strings.TrimPrefix(parts[2], "=")
		out = "SRS1=" + r.hash(first, rest) + "=" + first + "==" + rest
	default:
		ts := r.stamp(r.now())
		out = "SRS0=" + r.hash(ts, domain, local) + "=" + ts + "=" + domain + "=" + local
	}
	out += "@" + r.domain
	if len(out) > maxAddr {
		return sender
	}
	return out
}

// Reverse turns a rewritten address of our domain back into the address
// the bounce is for: the original sender for SRS0, the first hop's SRS0
// address for SRS1. ErrNotSRS for anything else.
func (r *Rewriter) Reverse(addr string) (string, error) {
	if len(addr) > maxAddr {
		return "", ErrNotSRS
	}
	local, domain, ok := splitAddr(addr)
	if !ok || !strings.EqualFold(domain, r.domain) || len(local) < 5 || !isSep(local[4]) {
		return "", ErrNotSRS
	}
	switch {
	case hasPrefixFold(local, "SRS0"):
		parts := strings.SplitN(local[5:], "=", 4)
		if len(parts) != 4 || parts[2] == "" || parts[3] == "" {
			return "", ErrNotSRS
		}
		hash, ts, odomain, olocal := parts[0], parts[1], parts[2], parts[3]
		if !hmac.Equal([]byte(strings.ToLower(hash)), []byte(strings.ToLower(r.hash(ts, odomain, olocal)))) {
			return "", ErrBadHash
		}
		if !r.fresh(ts) {
			return "", ErrExpired
		}
		return olocal + "@" + odomain, nil
	case hasPrefixFold(local, "SRS1"):
		parts := strings.SplitN(local[5:], "=", 3)
		if len(parts) != 3 || parts[1] == "" || !strings.HasPrefix(parts[2], "=") || len(parts[2]) < 2 {
			return "", ErrNotSRS
		}
		hash, first, rest := parts[0], parts[1], parts[2][1:]
		if !hmac.Equal([]byte(strings.ToLower(hash)), []byte(strings.ToLower(r.hash(first, rest)))) {
			return "", ErrBadHash
		}
		return "SRS0=" + rest + "@" + first, nil
	}
	return "", ErrNotSRS
}

// fresh reports whether timestamp ts is at most MaxAge old, counting in
// the 1024-day cycle.
func (r *Rewriter) fresh(ts string) bool {
	if len(ts) != 2 {
		return false
	}
	hi := strings.IndexByte(base32Set, upper(ts[0]))
	lo := strings.IndexByte(base32Set, upper(ts[1]))
	if hi < 0 || lo < 0 {
		return false
	}
	then := int64(hi<<5 | lo)
	today := r.now().Unix() / 86400 % 1024
	age := (today - then + 1024) % 1024
	return age <= int64(MaxAge/(24*time.Hour))
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func isSep(c byte) bool { return c == '=' || c == '-' || c == '+' }

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
