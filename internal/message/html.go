package message

import (
	"html"
	"strings"
)

// htmlText reduces HTML to its visible text for search and the preview:
// tags become spaces, entities are decoded, and the content of head,
// script and style elements is dropped. It is not a sanitiser; the web
// package does that for display.
func htmlText(s string) string {
	low := asciiLower(s) // same length as s, for case-insensitive searches
	var b strings.Builder
	b.Grow(len(s) / 2)
	for i := 0; i < len(s); {
		if s[i] != '<' {
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(html.UnescapeString(s[i : i+j]))
			i += j
			continue
		}
		if strings.HasPrefix(s[i:], "<!--") {
			j := strings.Index(s[i+4:], "-->")
			if j < 0 {
				break
			}
			i += 4 + j + 3
			continue
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		name := tagName(low[i+1 : i+j])
		i += j + 1
		b.WriteByte(' ')
		switch name {
		case "head", "script", "style", "title":
			end := strings.Index(low[i:], "</"+name)
			if end < 0 {
				i = len(s)
			} else {
				i += end
			}
		}
	}
	return b.String()
}

// tagName returns the element name of an opening tag's inside ("" for a
// closing tag or a declaration).
func tagName(t string) string {
	n := 0
	for n < len(t) && (t[n] >= 'a' && t[n] <= 'z' || t[n] >= '0' && t[n] <= '9') {
		n++
	}
	return t[:n]
}

// asciiLower lower-cases ASCII letters only, keeping byte offsets.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
