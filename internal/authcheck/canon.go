package authcheck

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"postern/internal/resolve"
)

// The DKIM machinery ARC needs (RFC 6376 §3.4, §3.6, §3.7), which
// go-msgauth keeps to itself: canonicalization, header selection, keys,
// signature checks. DKIM-Signature fields themselves go through
// go-msgauth.

// relaxedHeader canonicalizes one field the relaxed way (RFC 6376
// §3.4.2): lower-case name, unfolded value, runs of white space as one
// space, none around the colon or at the end.
func relaxedHeader(raw []byte) string {
	name, value, _ := bytes.Cut(raw, []byte(":"))
	v := strings.ReplaceAll(string(value), "\r\n", "")
	v = strings.Join(strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
	return strings.ToLower(strings.TrimRight(string(name), " \t")) + ":" + v + "\r\n"
}

// canonHeader canonicalizes a field with "simple" or "relaxed".
func canonHeader(raw []byte, relaxed bool) string {
	if relaxed {
		return relaxedHeader(raw)
	}
	return string(raw)
}

// selectFields picks the fields named in h= for signing: each name takes
// the last instance not taken yet (RFC 6376 §5.4.2); a name without one
// more instance adds nothing.
func selectFields(fields []field, names []string) [][]byte {
	used := map[int]bool{}
	var out [][]byte
	for _, name := range names {
		name = strings.TrimSpace(name)
		for i := len(fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(fields[i].name, name) {
				used[i] = true
				out = append(out, fields[i].raw)
				break
			}
		}
	}
	return out
}

// withoutSignature returns a field with the value of its b= tag removed
// (RFC 6376 §3.7), everything else as it was; the value may take the
// field's final CRLF with it, which the signed form leaves out anyway.
func withoutSignature(raw []byte) []byte {
	s := string(raw)
	colon := strings.IndexByte(s, ':')
	if colon < 0 {
		return raw
	}
	for pos := colon + 1; pos <= len(s); {
		end := strings.IndexByte(s[pos:], ';')
		if end < 0 {
			end = len(s)
		} else {
			end += pos
		}
		part := s[pos:end]
		if k, _, ok := strings.Cut(part, "="); ok && strings.TrimSpace(k) == "b" {
			valStart := pos + strings.IndexByte(part, '=') + 1
			return []byte(s[:valStart] + s[end:])
		}
		pos = end + 1
	}
	return raw
}

// tagList parses a tag=value list (RFC 6376 §3.2), white space removed
// from values; a repeated tag or a bad list is an error.
func tagList(value string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(value, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("malformed tag list")
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("tag %s repeated", k)
		}
		out[k] = strings.Join(strings.Fields(v), "")
	}
	return out, nil
}

// bodyHasher hashes a body canonicalized the simple or relaxed way (RFC
// 6376 §3.4.3, §3.4.4), streaming: empty lines are held back until a
// line with content shows they are not trailing.
type bodyHasher struct {
	h       hash.Hash
	relaxed bool
	limit   int64 // l=, -1 for none
	written int64
	pending int // empty lines held back
	any     bool
}

func (b *bodyHasher) write(p []byte) {
	if b.limit >= 0 {
		room := b.limit - b.written
		if room <= 0 {
			return
		}
		if int64(len(p)) > room {
			p = p[:room]
		}
	}
	b.written += int64(len(p))
	b.h.Write(p)
}

func (b *bodyHasher) line(l []byte) {
	l = bytes.TrimSuffix(l, []byte("\r\n"))
	if b.relaxed {
		l = collapseWSP(bytes.TrimRight(l, " \t"))
	}
	if len(l) == 0 {
		b.pending++
		return
	}
	for ; b.pending > 0; b.pending-- {
		b.write([]byte("\r\n"))
	}
	b.write(l)
	b.write([]byte("\r\n"))
	b.any = true
}

// collapseWSP turns each run of spaces and tabs into one space.
func collapseWSP(l []byte) []byte {
	out := make([]byte, 0, len(l))
	for i := 0; i < len(l); i++ {
		wsp := l[i] == ' ' || l[i] == '\t'
		switch {
		case !wsp:
			out = append(out, l[i])
		case i == 0 || (l[i-1] != ' ' && l[i-1] != '\t'):
			out = append(out, ' ')
		}
	}
	return out
}

// bodyHash returns the hash of the canonical body read from r.
func bodyHash(r io.Reader, relaxed bool, limit int64) ([]byte, error) {
	b := &bodyHasher{h: sha256.New(), relaxed: relaxed, limit: limit}
	br := bufio.NewReader(r)
	for {
		l, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			rest, rerr := br.ReadBytes('\n')
			l, err = append(append([]byte(nil), l...), rest...), rerr
		}
		if len(l) > 0 {
			b.line(l)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if !b.any && !relaxed {
		b.write([]byte("\r\n")) // simple: an empty body is one CRLF
	}
	return b.h.Sum(nil), nil
}

// errTemporary marks a key that could not be fetched now.
var errTemporary = errors.New("key unavailable")

// publicKey fetches the key of selector s at domain d (RFC 6376 §3.6.2).
func (c *Checker) publicKey(ctx context.Context, s, d string) (crypto.PublicKey, error) {
	txts, err := c.o.Resolver.LookupTXT(ctx, s+"._domainkey."+d)
	switch {
	case resolve.IsTemporary(err):
		return nil, fmt.Errorf("%w: %v", errTemporary, err)
	case err != nil:
		return nil, fmt.Errorf("no key for %s._domainkey.%s", s, d)
	case len(txts) != 1:
		return nil, fmt.Errorf("%d key records for %s._domainkey.%s", len(txts), s, d)
	}
	return c.keys.parse(txts[0])
}

// maxParsedKeys bounds the key cache; when full it starts again.
const maxParsedKeys = 1000

// keyCache keeps keys parsed by the text of their record. The resolver's
// cache decides how long a record is believed (its TTL); a record that
// changes is another entry. It is safe for concurrent use.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]parsedKey
}

type parsedKey struct {
	key crypto.PublicKey
	err error
}

func (kc *keyCache) parse(record string) (crypto.PublicKey, error) {
	kc.mu.Lock()
	p, ok := kc.keys[record]
	kc.mu.Unlock()
	if ok {
		return p.key, p.err
	}
	key, err := parseKeyRecord(record)
	kc.mu.Lock()
	if kc.keys == nil || len(kc.keys) >= maxParsedKeys {
		kc.keys = map[string]parsedKey{}
	}
	kc.keys[record] = parsedKey{key, err}
	kc.mu.Unlock()
	return key, err
}

// parseKeyRecord reads a DKIM key record (RFC 6376 §3.6.1).
func parseKeyRecord(record string) (crypto.PublicKey, error) {
	tags, err := tagList(record)
	if err != nil {
		return nil, err
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return nil, fmt.Errorf("key version %q", v)
	}
	raw, err := base64.StdEncoding.DecodeString(tags["p"])
	if err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("key revoked or malformed")
	}
	switch tags["k"] {
	case "", "rsa":
		pub, err := x509.ParsePKIXPublicKey(raw)
		if err != nil {
			if pk, err2 := x509.ParsePKCS1PublicKey(raw); err2 == nil {
				pub = pk
			} else {
				return nil, fmt.Errorf("malformed RSA key")
			}
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok || rk.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key missing or under 1024 bits (RFC 8301)")
		}
		return rk, nil
	case "ed25519":
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("malformed Ed25519 key")
		}
		return ed25519.PublicKey(raw), nil
	}
	return nil, fmt.Errorf("key type %q", tags["k"])
}

// verifySignature checks sig over data's SHA-256 with a rsa-sha256 or
// ed25519-sha256 key (RFC 8463 signs the hash too).
func verifySignature(alg string, key crypto.PublicKey, data string, sig []byte) error {
	sum := sha256.Sum256([]byte(data))
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg != "rsa-sha256" {
			return fmt.Errorf("algorithm %s with an RSA key", alg)
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig)
	case ed25519.PublicKey:
		if alg != "ed25519-sha256" {
			return fmt.Errorf("algorithm %s with an Ed25519 key", alg)
		}
		if !ed25519.Verify(k, sum[:], sig) {
			return errors.New("signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unknown key")
}
