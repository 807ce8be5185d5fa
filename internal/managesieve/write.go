package managesieve

import (
	"strconv"
	"unicode/utf8"
)

// maxQuoted is the longest string sent quoted; RFC 5804 §4 limits quoted
// strings to 1024 octets, and longer ones go as literals.
const maxQuoted = 1024

// appendString appends s in the form RFC 5804 §4 gives the server: a
// quoted string when it can be one, else a literal "{n}" CRLF octets.
func appendString(b []byte, s string) []byte {
	if !canQuote(s) {
		b = append(b, '{')
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, "}\r\n"...)
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// canQuote reports whether s fits a quoted string: at most maxQuoted
// octets of UTF-8 without NUL, CR or LF.
func canQuote(s string) bool {
	if len(s) > maxQuoted || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c == '\r' || c == '\n' {
			return false
		}
	}
	return true
}

// appendResponse appends a complete OK, NO or BYE response line (RFC 5804
// §4 response-ok / response-nobye): the kind, an optional response code
// in parentheses (already formatted, e.g. `TAG "x"`), an optional text.
func appendResponse(b []byte, kind, code, text string) []byte {
	b = append(b, kind...)
	if code != "" {
		b = append(b, " ("...)
		b = append(b, code...)
		b = append(b, ')')
	}
	if text != "" {
		b = append(b, ' ')
		b = appendString(b, text)
	}
	return append(b, "\r\n"...)
}
