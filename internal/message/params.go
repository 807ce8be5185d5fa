package message

import (
	"bytes"
	"mime"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// Bounds on parameter lists, against hostile headers.
const (
	maxParams       = 64
	maxParamSection = 100 // RFC 2231 continuation numbers above this are dropped
)

// parseContentType splits a Content-Type value (RFC 2045 §5.1) leniently.
// ok is false when there is no usable type/subtype.
func parseContentType(v string) (typ, sub string, params []Param, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", "", nil, false
	}
	head, rest, _ := strings.Cut(v, ";")
	head = stripComments(head)
	t, s, found := strings.Cut(head, "/")
	t, s = lower(strings.TrimSpace(t)), lower(strings.TrimSpace(s))
	if !found || !isToken(t) || !isToken(s) {
		return "", "", nil, false
	}
	return t, s, parseParams(rest), true
}

// parseDisposition splits a Content-Disposition value (RFC 2183 §2).
func parseDisposition(v string) (string, []Param) {
	head, rest, _ := strings.Cut(v, ";")
	d := lower(strings.TrimSpace(stripComments(head)))
	if !isToken(d) {
		return "", nil
	}
	return d, parseParams(rest)
}

// parseParams parses "; key=value" pairs leniently: values may be tokens,
// quoted strings, or (broken but common) unquoted text with spaces. The
// first occurrence of a key wins; RFC 2231 sections are then joined.
func parseParams(s string) []Param {
	var out []Param
	for s != "" && len(out) < maxParams {
		var item string
		item, s = cutParam(s)
		k, v, found := strings.Cut(item, "=")
		k = lower(strings.TrimSpace(stripComments(k)))
		if !found || k == "" || !isToken(k) {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) > 0 && v[0] == '"' {
			v = unquote(v)
		} else {
			v = strings.TrimSpace(stripComments(v))
		}
		if paramIndex(out, k) < 0 {
			out = append(out, Param{Key: k, Value: v})
		}
	}
	return joinRFC2231(out)
}

// cutParam returns the text up to the next ';' outside a quoted string.
func cutParam(s string) (item, rest string) {
	quoted, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\' && quoted:
			esc = true
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// unquote removes the quotes and backslash escapes of a quoted string
// (RFC 5322 §3.2.4); a missing closing quote is tolerated.
func unquote(v string) string {
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			i++
			b.WriteByte(v[i])
			continue
		}
		if c == '"' {
			break
		}
		b.WriteByte(c)
	}
	return b.String()
}

// stripComments removes RFC 5322 comments "(...)" outside quoted strings.
func stripComments(s string) string {
	if strings.IndexByte(s, '(') < 0 {
		return s
	}
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (quoted || depth > 0):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case c == '"' && depth == 0:
			quoted = !quoted
			b.WriteByte(c)
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isToken reports whether s is a non-empty RFC 2045 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

func paramIndex(ps []Param, key string) int {
	for i, p := range ps {
		if p.Key == key {
			return i
		}
	}
	return -1
}

func paramValue(ps []Param, key string) string {
	if i := paramIndex(ps, key); i >= 0 {
		return ps[i].Value
	}
	return ""
}

// section is one piece of an RFC 2231 parameter: name*n or name*n*.
type section struct {
	n   int
	ext bool
	v   string
}

// joinRFC2231 joins continued parameters (RFC 2231 §3) into one. When the
// first section is charset-encoded (§4) the result keeps the "name*" key
// and the charset'language'%XX form, with plain sections percent-encoded.
func joinRFC2231(ps []Param) []Param {
	hasStar := false
	for _, p := range ps {
		if strings.IndexByte(p.Key, '*') >= 0 {
			hasStar = true
			break
		}
	}
	if !hasStar {
		return ps
	}
	var out []Param
	groups := map[string][]section{}
	var order []string
	for _, p := range ps {
		base, n, ext, ok := splitSectionKey(p.Key)
		if !ok {
			if paramIndex(out, p.Key) < 0 {
				out = append(out, p)
			}
			continue
		}
		if _, seen := groups[base]; !seen {
			order = append(order, base)
		}
		groups[base] = append(groups[base], section{n, ext, p.Value})
	}
	for _, base := range order {
		secs := groups[base]
		sort.SliceStable(secs, func(i, j int) bool { return secs[i].n < secs[j].n })
		if secs[0].n != 0 {
			continue // no first section: unusable
		}
		out = append(out, joinSections(base, secs))
	}
	return out
}

// splitSectionKey parses "name*", "name*3" or "name*3*".
func splitSectionKey(k string) (base string, n int, ext, ok bool) {
	base, rest, found := strings.Cut(k, "*")
	if !found || base == "" {
		return "", 0, false, false
	}
	if rest == "" {
		return base, 0, true, true
	}
	ext = strings.HasSuffix(rest, "*")
	rest = strings.TrimSuffix(rest, "*")
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || n > maxParamSection {
		return "", 0, false, false
	}
	return base, n, ext, true
}

func joinSections(base string, secs []section) Param {
	var b strings.Builder
	last := -1
	for _, s := range secs {
		if s.n == last {
			continue // duplicate section number: first wins
		}
		last = s.n
		if secs[0].ext && !s.ext {
			pctEncode(&b, s.v)
		} else {
			b.WriteString(s.v)
		}
	}
	if secs[0].ext {
		return Param{Key: base + "*", Value: b.String()}
	}
	return Param{Key: base, Value: b.String()}
}

// decodeExtValue decodes an RFC 2231 §4 value charset'language'%XX to UTF-8.
func decodeExtValue(v string) string {
	cs, rest, ok := strings.Cut(v, "'")
	if !ok {
		return toUTF8("", percentDecode(v))
	}
	_, rest, ok = strings.Cut(rest, "'")
	if !ok {
		rest = v
	}
	return toUTF8(cs, percentDecode(rest))
}

func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

// Filename returns the attachment's file name for display, decoded to
// UTF-8 from RFC 2231 or RFC 2047 encoding: the disposition's filename, or
// else the Content-Type name (RFC 2183 §2.3).
func (p *Part) Filename() string {
	for _, src := range []struct {
		ps  []Param
		key string
	}{{p.DispositionParams, "filename"}, {p.Params, "name"}} {
		if v := paramValue(src.ps, src.key+"*"); v != "" {
			return decodeExtValue(v)
		}
		if v := paramValue(src.ps, src.key); v != "" {
			return decodeHeader(v)
		}
	}
	return ""
}

// decodeHeader decodes RFC 2047 encoded-words to UTF-8, leaving malformed
// ones as they are; raw 8-bit text is kept when it is UTF-8 (RFC 6532) and
// read as Latin-1 otherwise.
func decodeHeader(v string) string {
	if strings.Contains(v, "=?") {
		d := mime.WordDecoder{CharsetReader: charset.Reader}
		if s, err := d.DecodeHeader(v); err == nil {
			v = s
		}
	}
	if utf8.ValidString(v) {
		return v
	}
	return toUTF8("iso-8859-1", []byte(v))
}

// toUTF8 converts text in a charset to valid UTF-8. Text under an unknown
// charset keeps its valid UTF-8 and gets U+FFFD for the rest, rather than
// failing.
func toUTF8(cs string, b []byte) string {
	switch lower(cs) {
	case "utf-8", "utf8":
		if utf8.Valid(b) {
			return string(b)
		}
		return strings.ToValidUTF8(string(b), "\uFFFD")
	case "", "us-ascii", "ascii":
		if utf8.Valid(b) {
			return string(b)
		}
		// 8-bit text under no (or a wrong ASCII) label is most often
		// Windows-1252, the superset of Latin-1 mailers used.
		cs = "windows-1252"
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(r); err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return strings.ToValidUTF8(out.String(), "\uFFFD")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// pctEncode writes v with every byte that is not an RFC 2231
// attribute-char percent-encoded.
func pctEncode(b *strings.Builder, v string) {
	const hexdig = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c > ' ' && c < 0x7f && strings.IndexByte(`()<>@,;:\"/[]?=*'%`, c) < 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
}
