package webmail

// The style sheets of HTML mail (<style> elements), which newsletters
// lay themselves out with. bluemonday drops them; they are read here and
// written again with only what the style attributes may hold: style
// rules whose selectors are plain and whose declarations pass the same
// property list and value checks, inside @media at most. Every other
// at-rule goes (@import, @font-face, @keyframes, @namespace...), and so
// does anything with a URL, an escape or a "<" (the sheet is written
// inside <style>, which only "</style" could end).
//
// The reader is ours, one pass over the text: CSS parsers written for
// trusted sheets loop or go quadratic on hostile ones.

import (
	"regexp"
	"strings"

	bmcss "github.com/microcosm-cc/bluemonday/css"
)

// maxStyleSheet bounds the CSS read from one message and the CSS kept.
const maxStyleSheet = 256 << 10

// plainSelector is a selector of elements, classes, ids, attributes and
// pseudo-classes with the usual combinators.
var plainSelector = regexp.MustCompile(`^[A-Za-z0-9_\-.#:,>+~*\[\]="'() |^$]{1,200}$`)

// unsafeSelector is what a plain selector may still spell that we do not
// want written back.
var unsafeSelector = regexp.MustCompile(`(?i)url|expression|script|import|@|\\|/\*|<|&`)

// mediaPrelude is the query of an @media rule.
var mediaPrelude = regexp.MustCompile(`^@(?i:media)\s+([A-Za-z0-9 ():,.\-]{1,200})$`)

// allowedProperties is cssProperties as a set.
var allowedProperties = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range cssProperties {
		m[p] = true
	}
	return m
}()

// sanitizeSheets returns the safe form of the text of a message's style
// elements, one sheet after the other.
func sanitizeSheets(sheets []string) string {
	var b strings.Builder
	for _, text := range sheets {
		r := &sheetReader{s: stripComments(text)}
		r.rules(&b, 0)
		if b.Len() > maxStyleSheet {
			return ""
		}
	}
	return b.String()
}

// stripComments removes /* ... */ (an unclosed one runs to the end).
func stripComments(s string) string {
	if !strings.Contains(s, "/*") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "/*")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteByte(' ')
		j := strings.Index(s[i+2:], "*/")
		if j < 0 {
			return b.String()
		}
		s = s[i+2+j+2:]
	}
}

// sheetReader reads a style sheet; i only moves forward.
type sheetReader struct {
	s string
	i int
}

// until returns the text up to the first of stops outside a string (a
// backslash escapes one character), leaving i on it; stop is 0 at the
// end of the sheet.
func (r *sheetReader) until(stops string) (text string, stop byte) {
	start := r.i
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '\\':
			r.i += 2
			continue
		case c == '"' || c == '\'':
			r.i++
			for r.i < len(r.s) && r.s[r.i] != c {
				if r.s[r.i] == '\\' {
					r.i++
				}
				r.i++
			}
		case strings.IndexByte(stops, c) >= 0:
			return r.s[start:r.i], c
		}
		r.i++
	}
	r.i = len(r.s)
	return r.s[start:], 0
}

// skipBlock moves past the block whose "{" has been read, nested blocks
// and all.
func (r *sheetReader) skipBlock() {
	for depth := 1; depth > 0; {
		_, stop := r.until("{}")
		if stop == 0 {
			return
		}
		r.i++
		if stop == '{' {
			depth++
		} else {
			depth--
		}
	}
}

// rules reads rules up to the end of the sheet or, inside @media, of its
// block, and writes the safe ones.
func (r *sheetReader) rules(b *strings.Builder, depth int) {
	for r.i < len(r.s) {
		prelude, stop := r.until("{;}")
		switch stop {
		case 0:
			return
		case ';': // a statement at-rule (@import, @charset) or junk
			r.i++
			continue
		case '}':
			r.i++
			if depth > 0 {
				return
			}
			continue
		}
		r.i++ // the "{"
		prelude = strings.TrimSpace(prelude)
		switch {
		case strings.HasPrefix(prelude, "@"):
			m := mediaPrelude.FindStringSubmatch(prelude)
			if m == nil || depth > 0 || unsafeSelector.MatchString(m[1]) {
				r.skipBlock()
				continue
			}
			var inner strings.Builder
			r.rules(&inner, depth+1)
			if inner.Len() > 0 {
				b.WriteString("@media " + strings.TrimSpace(m[1]) + "{" + inner.String() + "}")
			}
		default:
			body, stop := r.until("{}")
			r.i++
			if stop == '{' { // a block in a declaration block: not CSS we keep
				r.skipBlock()
				r.until("}")
				r.i++
				continue
			}
			writeStyleRule(b, prelude, body)
		}
	}
}

func writeStyleRule(b *strings.Builder, prelude, body string) {
	var sels []string
	for _, s := range strings.Split(prelude, ",") {
		s = strings.TrimSpace(s)
		if plainSelector.MatchString(s) && !unsafeSelector.MatchString(s) {
			sels = append(sels, s)
		}
	}
	if len(sels) == 0 {
		return
	}
	var decls []string
	r := &sheetReader{s: body}
	for r.i < len(r.s) {
		d, _ := r.until(";")
		r.i++
		if decl, ok := safeDeclaration(d); ok {
			decls = append(decls, decl)
		}
	}
	if len(decls) > 0 {
		b.WriteString(strings.Join(sels, ",") + "{" + strings.Join(decls, ";") + "}")
	}
}

var important = regexp.MustCompile(`(?i)\s*!\s*important\s*$`)

// safeDeclaration checks one "property: value" as bluemonday checks
// those of style attributes (vendor prefixes aside), and writes it again.
func safeDeclaration(d string) (string, bool) {
	prop, value, ok := strings.Cut(d, ":")
	if !ok {
		return "", false
	}
	prop = strings.ToLower(strings.TrimSpace(prop))
	base := prop
	for _, prefix := range []string{"-webkit-", "-moz-", "-ms-", "-o-", "mso-"} {
		base = strings.TrimPrefix(base, prefix)
	}
	value = strings.TrimSpace(value)
	imp := important.MatchString(value)
	value = important.ReplaceAllString(value, "")
	if !allowedProperties[base] || value == "" || !safeCSS(value) || strings.ContainsAny(value, "{};!") ||
		!bmcss.GetDefaultHandler(base)(strings.ToLower(value)) {
		return "", false
	}
	if imp {
		value += " !important"
	}
	return prop + ":" + value, true
}
