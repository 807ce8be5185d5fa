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

// collationKey maps s to the form in which collation c orders it; for
// i;ascii-numeric, the form asciiNumeric compares.
func collationKey(c Collation, s string) string {
	switch c {
	case CollateASCIICasemap:
		b := []byte(s)
		for i, ch := range b {
			if 'a' <= ch && ch <= 'z' {
				b[i] = ch - ('a' - 'A')
			}
		}
		return string(b)
	case CollateASCIINumeric:
		return s
	}
	return casemapKey(s)
}

// asciiNumeric compares the decimal numbers that a and b start with; a
// string that starts with no digit is above every number and equal to
// other such strings (RFC 4790 §9.1.1).
func asciiNumeric(a, b string) int {
	da, db := leadingDigits(a), leadingDigits(b)
	switch {
	case da == "" && db == "":
		return 0
	case da == "":
		return 1
	case db == "":
		return -1
	}
	da, db = strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
	if len(da) != len(db) {
		return len(da) - len(db)
	}
	return strings.Compare(da, db)
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return s[:i]
}
