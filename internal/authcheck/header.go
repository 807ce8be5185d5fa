package authcheck

import (
	"bytes"
	"errors"
	"io"
	"net/mail"
	"strings"
)

// Limits of the header reader: smtpd bounds the header block already;
// these keep the checks bounded whoever calls them.
const (
	maxHeaderBytes  = 1 << 20
	maxHeaderFields = 1000
	// maxFromDomains bounds the domains of a From field that are checked.
	maxFromDomains = 10
)

var errHeaderTooLarge = errors.New("header too large")

// field is one header field: its name and its raw bytes (name, colon,
// folded value, CRLF).
type field struct {
	name string
	raw  []byte
}

// value is the unfolded value, trimmed.
func (f field) value() string {
	_, v, _ := bytes.Cut(f.raw, []byte(":"))
	v = bytes.TrimSpace(v)
	if bytes.IndexByte(v, '\n') < 0 {
		return string(v)
	}
	// Unfolded: every CRLF and lone LF removed, as the field was
	// folded with them.
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\n':
		case v[i] == '\r' && i+1 < len(v) && v[i+1] == '\n':
		default:
			out = append(out, v[i])
		}
	}
	return strings.TrimSpace(string(out))
}

// readHeader reads the header fields of a message, up to the empty line,
// as the message parser (and mail readers) do. A line that is not a field
// (no colon, white space inside the name) is kept as a field without a
// name, which no check matches: ending the header there would hide the
// fields after it, a From among them, from the checks but not from the
// reader. White space before the colon is the obsolete syntax of RFC 5322
// §4.5, read as the name.
func readHeader(r io.Reader) ([]field, error) {
	// The header is read into one buffer and the fields are slices of it:
	// continuation lines follow their field, so a field's raw bytes are
	// contiguous, and no line is copied on its own.
	lr := io.LimitReader(r, maxHeaderBytes+1)
	buf := make([]byte, 0, 2048)
	eof := false
	var spans [][2]int // each field's start and end in buf
	off := 0           // start of the next line
	done := func(err error) ([]field, error) {
		fields := make([]field, len(spans))
		for i, sp := range spans {
			raw := buf[sp[0]:sp[1]:sp[1]]
			fields[i] = field{name: fieldName(raw), raw: raw}
		}
		return fields, err
	}
	for {
		nl := bytes.IndexByte(buf[off:], '\n')
		if nl < 0 && !eof {
			if len(buf) > maxHeaderBytes {
				return done(errHeaderTooLarge)
			}
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := lr.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil {
				eof = true
			}
			continue
		}
		lineEnd := len(buf)
		if nl >= 0 {
			lineEnd = off + nl + 1
		}
		if lineEnd > maxHeaderBytes {
			return done(errHeaderTooLarge)
		}
		line := buf[off:lineEnd]
		if len(line) == 0 || bytes.Equal(line, []byte("\r\n")) || bytes.Equal(line, []byte("\n")) {
			return done(nil)
		}
		if (line[0] == ' ' || line[0] == '\t') && len(spans) > 0 {
			spans[len(spans)-1][1] = lineEnd
		} else {
			if len(spans) == maxHeaderFields {
				return done(errHeaderTooLarge)
			}
			spans = append(spans, [2]int{off, lineEnd})
		}
		off = lineEnd
		if nl < 0 {
			return done(nil)
		}
	}
}

// WithoutOurResults returns the header section head (the lines before
// the empty one) without the Authentication-Results fields that claim
// authservID (RFC 8601 §5), and how many it removed (head itself when
// none). It reads head as the checks do: a line that is no field ends
// nothing, so no claim hides behind one.
func WithoutOurResults(head []byte, authservID string) ([]byte, int) {
	id := strings.ToLower(authservID)
	var kept []byte
	dropped := 0
	take := func(f []byte) {
		if strings.EqualFold(fieldName(f), "Authentication-Results") && AuthServID(field{raw: f}.value()) == id {
			dropped++
			return
		}
		kept = append(kept, f...)
	}
	start := 0
	for pos := 0; pos < len(head); {
		next := len(head)
		if end := bytes.IndexByte(head[pos:], '\n'); end >= 0 {
			next = pos + end + 1
		}
		if pos > start && head[pos] != ' ' && head[pos] != '\t' {
			take(head[start:pos])
			start = pos
		}
		pos = next
	}
	if start < len(head) {
		take(head[start:])
	}
	if dropped == 0 {
		return head, 0
	}
	return kept, dropped
}

// fieldName is the name of a header line, "" when it is not a field.
func fieldName(line []byte) string {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return ""
	}
	name := bytes.TrimRight(line[:i], " \t")
	if len(name) == 0 || bytes.ContainsAny(name, " \t") {
		return ""
	}
	return string(name)
}

func fieldsNamed(fields []field, name string) []field {
	var out []field
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			out = append(out, f)
		}
	}
	return out
}

// fromDomains returns the domains of the From field's addresses
// (RFC 7489 §3.1: the author domains), lower-case and distinct. A value
// that does not parse as an address list still gives the domains that
// follow an "@": a mangled From must not slip past the checks, as mail
// readers show it anyway.
func fromDomains(value string) []string {
	var out []string
	add := func(d string) {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if d != "" && len(out) < maxFromDomains && !contains(out, d) {
			out = append(out, d)
		}
	}
	if list, err := mail.ParseAddressList(value); err == nil {
		for _, a := range list {
			if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
				add(a.Address[at+1:])
			}
		}
		return out
	}
	for rest := value; ; {
		at := strings.IndexByte(rest, '@')
		if at < 0 {
			return out
		}
		rest = rest[at+1:]
		end := strings.IndexFunc(rest, func(r rune) bool {
			return !(r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
		})
		if end < 0 {
			end = len(rest)
		}
		add(rest[:end])
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// AuthServID returns the authserv-id of an Authentication-Results value
// (RFC 8601 §2.2): its first token, comments skipped.
func AuthServID(value string) string {
	v := stripComments(value)
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, "; \t\r\n"); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(v)
}

// stripComments removes RFC 5322 comments (nested, with quoted pairs).
func stripComments(s string) string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && depth > 0:
			i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pvalue makes s safe as a property value of Authentication-Results: a
// token or an address as it is, anything else quoted (RFC 8601 §2.2).
func pvalue(s string) string {
	if len(s) > 254 {
		s = s[:254]
	}
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_@+=/:", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return quote(s)
}

// quote makes a quoted-string of s, without control characters.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// comment makes an RFC 5322 comment of s.
func comment(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '(' || r == ')' || r == '\\' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
	}
	return "(" + s + ")"
}
