package query

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// casemapKey maps s to the form in which the i;unicode-casemap collation
// compares strings (RFC 5051 §2): each character titlecased, then the
// whole decomposed (NFKD). Two strings are equal under the collation when
// their keys are equal, and ordered as their keys are (octet order of
// UTF-8 is code point order).
func casemapKey(s string) string {
	ascii := true
	for i := 0; i < len(s) && ascii; i++ {
		ascii = s[i] < utf8.RuneSelf
	}
	if ascii {
		// Titlecase of an ASCII letter is its upper case; ASCII text
		// has no decomposition.
		return strings.ToUpper(s)
	}
	return norm.NFKD.String(strings.Map(unicode.ToTitle, s))
}
