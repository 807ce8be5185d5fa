package authcheck

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Canonicalization and the pieces of signing shared by DKIM (RFC 6376
// §3.4, §3.7, §5.4.2), ARC and our ARC sealer.

// appendCanonHeader appends a field canonicalized with "simple" (as it
// is) or "relaxed" (RFC 6376 §3.4.2): lower-case name, the value unfolded
// with each run of white space as one space, none around the colon or at
// the end. A bare CR or LF counts as white space (smtpd refuses them; a
// caller that does not gets what other verifiers make of them).
func appendCanonHeader(dst, raw []byte, relaxed bool) []byte {
	if !relaxed {
		return append(dst, raw...)
	}
	name, value, _ := bytes.Cut(raw, []byte(":"))
	name = bytes.TrimRight(name, " \t")
	for _, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst = append(dst, b)
	}
	dst = append(dst, ':')
	space, started := false, false
	for _, b := range value {
		switch b {
		case ' ', '\t', '\r', '\n':
			space = true
		default:
			if space && started {
				dst = append(dst, ' ')
			}
			space, started = false, true
			dst = append(dst, b)
		}
	}
	return append(dst, '\r', '\n')
}

// relaxedHeader is a field canonicalized the relaxed way, as a string.
func relaxedHeader(raw []byte) string {
	return string(appendCanonHeader(nil, raw, true))
}

// canonHeader canonicalizes a field with "simple" or "relaxed".
func canonHeader(raw []byte, relaxed bool) string {
	return string(appendCanonHeader(nil, raw, relaxed))
}

// selectFields picks the fields named in h= for signing: each name takes
// the last instance not taken yet (RFC 6376 §5.4.2); a name without one
// more instance adds nothing.
func selectFields(fields []field, names []string) [][]byte {
	used := make([]bool, len(fields))
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
		out[k] = withoutSpace(v)
	}
	return out, nil
}

// withoutSpace is v with its white space removed, as
// strings.Join(strings.Fields(v), "") has it, without allocating for the
// common value that has none.
func withoutSpace(v string) string {
	spaces := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= utf8.RuneSelf:
			return strings.Join(strings.Fields(v), "")
		case asciiSpace(c):
			spaces++
		}
	}
	if spaces == 0 {
		return v
	}
	out := make([]byte, 0, len(v)-spaces)
	for i := 0; i < len(v); i++ {
		if !asciiSpace(v[i]) {
			out = append(out, v[i])
		}
	}
	return string(out)
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
