// Package mutf7 is IMAP's modified UTF-7 (RFC 3501 §5.1.3), in which
// IMAP4rev1 sessions and Dovecot's Maildir folders name mailboxes; the
// store and IMAP4rev2 sessions (RFC 9051 §5.1) use UTF-8.
package mutf7

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

var b64mod = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

var errUTF7 = errors.New("invalid modified UTF-7")

// Encode turns a UTF-8 mailbox name into modified UTF-7.
func Encode(s string) string {
	var b strings.Builder
	var pending []rune
	flush := func() {
		if len(pending) == 0 {
			return
		}
		u := utf16.Encode(pending)
		buf := make([]byte, 2*len(u))
		for i, c := range u {
			buf[2*i], buf[2*i+1] = byte(c>>8), byte(c)
		}
		b.WriteByte('&')
		b.WriteString(b64mod.EncodeToString(buf))
		b.WriteByte('-')
		pending = pending[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteRune(r)
			}
			continue
		}
		pending = append(pending, r)
	}
	flush()
	return b.String()
}

// Decode turns a modified UTF-7 name into UTF-8.
func Decode(s string) (string, error) {
	if !strings.Contains(s, "&") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		// 8-bit bytes pass through: IMAP4rev2-aware clients send UTF-8
		// with only "&" escaped even before ENABLE.
		c := s[i]
		if c != '&' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", errUTF7
		}
		enc := s[i+1 : i+1+end]
		i += end + 1
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := b64mod.DecodeString(enc)
		if err != nil || len(raw)%2 != 0 {
			return "", errUTF7
		}
		u := make([]uint16, len(raw)/2)
		for j := range u {
			u[j] = uint16(raw[2*j])<<8 | uint16(raw[2*j+1])
		}
		for _, r := range utf16.Decode(u) {
			if r == utf8.RuneError || (r >= 0x20 && r <= 0x7e) {
				return "", errUTF7 // printable ASCII must not be encoded
			}
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}
