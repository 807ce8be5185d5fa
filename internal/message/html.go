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
		name := tagName(s[i+1 : i+j])
		i += j + 1
		b.WriteByte(' ')
		switch name {
		case "head", "script", "style", "title":
			end := indexFold(s[i:], "</"+name)
			if end < 0 {
				i = len(s)
			} else {
				i += end
			}
		}
	}
	return b.String()
}

// tagName returns the lower-case element name of an opening tag's inside
// ("" for a closing tag or a declaration); only the elements whose
// content is dropped matter, so longer names are not lowered.
func tagName(t string) string {
	n := 0
	for n < len(t) && n < 8 && isAlnum(t[n]) {
		n++
	}
	if n == len(t) || !isAlnum(t[n]) {
		return lower(t[:n])
	}
	return ""
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// indexFold finds an ASCII lower-case needle case-insensitively.
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		j := strings.IndexByte(s[i:], needle[0])
		if j < 0 {
			return -1
		}
		i += j
		if i+len(needle) <= len(s) && strings.EqualFold(s[i:i+len(needle)], needle) {
			return i
		}
	}
	return -1
}

// HTMLText is the visible text of HTML, as the preview sees it: for a
// plain-text stand-in of an HTML body (the vacation response's).
func HTMLText(s string) string { return htmlText(s) }
