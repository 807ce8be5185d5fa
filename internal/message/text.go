package message

import (
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"
)

// previewRaw is the encoded text kept from a part that may give the
// preview once the search budget is spent.
const previewRaw = 16 * 1024

// textCollector gathers the decoded text of text parts for search and the
// preview, keeping a bounded amount of each part's encoded body.
type textCollector struct {
	lim    Limits
	search strings.Builder
	// plain and html are the first text/plain and text/html previews found
	// (RFC 8970 §3 prefers plain text).
	plain, html string
	donePlain   bool
	doneHTML    bool
	raw         []byte // the current part's encoded body, up to rawCap
	rawCap      int
	// parts, kept bytes and cut are the Limits.TextParts form.
	parts []string
	kept  int
	cut   bool
}

// used is the search text budget spent so far.
func (t *textCollector) used() int {
	if t.lim.TextParts {
		return t.kept
	}
	return t.search.Len()
}

func newTextCollector(lim Limits) *textCollector {
	return &textCollector{lim: lim}
}

// begin tells whether a leaf part's body should be collected, and sets up
// the capture budget for it.
func (t *textCollector) begin(part *Part) bool {
	if part.Type != "text" {
		return false
	}
	left := t.lim.MaxSearchText - t.used()
	// Encodings and markup make the raw body larger than its text.
	t.rawCap = max(left, 0) * 2
	if t.needPreview(part) {
		t.rawCap = max(t.rawCap, previewRaw)
	}
	if left > 0 {
		t.rawCap += 4096
	}
	t.raw = t.raw[:0]
	return t.rawCap > 0
}

// needPreview tells whether this part could still give the preview.
func (t *textCollector) needPreview(part *Part) bool {
	if t.donePlain || part.Disposition == "attachment" {
		return false
	}
	return part.Subtype == "plain" || part.Subtype == "html" && !t.doneHTML
}

// write keeps raw body bytes up to the budget.
func (t *textCollector) write(b []byte) {
	n := min(t.rawCap-len(t.raw), len(b))
	if n <= 0 {
		return
	}
	if need := len(t.raw) + n; need > cap(t.raw) {
		// Double, but never past the budget: append's gentler growth for
		// large slices would allocate several times the final size.
		grown := make([]byte, len(t.raw), min(max(2*cap(t.raw), need, 512), t.rawCap))
		copy(grown, t.raw)
		t.raw = grown
	}
	t.raw = append(t.raw, b[:n]...)
}

// end decodes the collected body and adds it to the search text and,
// when it is the first of its kind, the preview.
func (t *textCollector) end(part *Part) {
	body := decodeTransfer(t.raw, part.Encoding)
	text := toUTF8(part.Param("charset"), body)
	if part.Subtype == "html" {
		text = htmlText(text)
	}
	if t.needPreview(part) {
		p := collapse(text, t.lim.MaxPreview)
		if part.Subtype == "plain" && p != "" {
			t.plain, t.donePlain = p, true
		} else if part.Subtype == "html" && p != "" {
			t.html, t.doneHTML = p, true
		}
	}
	left := t.lim.MaxSearchText - t.used()
	if t.lim.TextParts {
		t.keepPart(text, left)
		return
	}
	if left <= 1 {
		return
	}
	if t.search.Len() > 0 {
		t.search.WriteByte('\n')
		left--
	}
	t.search.Grow(min(len(text), left))
	appendCollapsed(&t.search, text, left)
	if cap(t.raw) > 64*1024 {
		t.raw = nil // do not hold a large buffer for the rest of the message
	}
}

// keepPart keeps a part's text, cut to what is left of the budget.
func (t *textCollector) keepPart(text string, left int) {
	if len(text) > left {
		text = cutUTF8(text, max(left, 0))
		t.cut = true
	}
	if text != "" {
		t.parts = append(t.parts, text)
		t.kept += len(text)
	}
	if cap(t.raw) > 64*1024 {
		t.raw = nil
	}
}

// preview returns the RFC 8970 preview: plain text first, else HTML.
func (t *textCollector) preview() string {
	if t.plain != "" {
		return t.plain
	}
	return t.html
}

// decodeTransfer undoes a Content-Transfer-Encoding (RFC 2045 §6)
// leniently: bad characters are skipped, a truncated tail is dropped.
func decodeTransfer(b []byte, enc string) []byte {
	switch enc {
	case "base64":
		return decodeBase64(b)
	case "quoted-printable":
		return decodeQP(b)
	}
	return b
}

// decodeBase64 ignores everything outside the base64 alphabet (RFC 2045
// §6.8) and stops at padding or at an incomplete last quantum.
// It compacts b in place.
func decodeBase64(b []byte) []byte {
	clean := b[:0]
	for _, c := range b {
		if c == '=' {
			break
		}
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' {
			clean = append(clean, c)
		}
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// decodeQP decodes quoted-printable (RFC 2045 §6.7): "=XX" octets and
// soft line breaks; a malformed "=" is kept as it is.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		switch {
		case i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]):
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
		case i+1 < len(b) && b[i+1] == '\n':
			i++
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

// collapse returns at most n characters of s with runs of white space
// made single spaces and the ends trimmed.
func collapse(s string, n int) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*n))
	appendCollapsed(&b, s, 4*n)
	out := b.String()
	count := 0
	for i := range out { // i steps over characters
		if count == n {
			out = out[:i]
			break
		}
		count++
	}
	return strings.TrimRight(out, " ")
}

// appendCollapsed appends s to b with white space runs collapsed to one
// space, up to maxBytes appended, never splitting a character.
func appendCollapsed(b *strings.Builder, s string, maxBytes int) {
	limit := b.Len() + maxBytes
	start := b.Len()
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf && asciiSpace(c) {
			i++
			space = b.Len() > start
			continue
		}
		// A run of visible characters is copied at once.
		j, n := i, 0
		for j < len(s) {
			if s[j] < utf8.RuneSelf {
				if asciiSpace(s[j]) {
					break
				}
				j++
				continue
			}
			r, size := utf8.DecodeRuneInString(s[j:])
			if unicode.IsSpace(r) {
				n = size
				break
			}
			j += size
		}
		if j > i {
			if space {
				if b.Len()+2 > limit {
					return
				}
				b.WriteByte(' ')
				space = false
			}
			if b.Len()+j-i > limit {
				b.WriteString(cutUTF8(s[i:j], limit-b.Len()))
				return
			}
			b.WriteString(s[i:j])
		}
		if n > 0 { // a non-ASCII space ended the run
			space = b.Len() > start
		}
		i = j + n
	}
}

// cutUTF8 returns at most n bytes of s without splitting a character.
func cutUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
