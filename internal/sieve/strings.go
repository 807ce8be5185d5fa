package sieve

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// str is a string argument. With the variables extension it may hold
// references (RFC 5229 §3), expanded at run time; otherwise it is the
// constant lit.
type str struct {
	lit   string
	parts []strPart // nil when constant
}

type strPart struct {
	lit   string
	name  string // variable name, lower-cased ("" for a literal or a match variable)
	num   int    // match variable number when name == "" and isNum
	isNum bool
}

func (s str) constant() bool { return s.parts == nil }

// str builds a string argument: encoded characters are decoded
// (RFC 5228 §2.4.2.4) and variable references split out (RFC 5229 §3).
func (v *validator) str(p pos, s string) (str, *Error) {
	if v.required["encoded-character"] && strings.Contains(s, "${") {
		d, err := decodeEncoded(s)
		if err != "" {
			return str{}, errAt(p, "%s", err)
		}
		s = d
	}
	if !v.required["variables"] || !strings.Contains(s, "${") {
		return str{lit: s}, nil
	}
	parts := splitVars(s, v.required["include"])
	if parts == nil {
		return str{lit: s}, nil
	}
	return str{lit: s, parts: parts}, nil
}

// splitVars splits s into literals and references; nil when there is
// no reference.
func splitVars(s string, globals bool) []strPart {
	var parts []strPart
	var lit strings.Builder
	found := false
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			lit.WriteString(s)
			break
		}
		lit.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			lit.WriteString(s[i:])
			break
		}
		ref := s[i+2 : i+2+end]
		part, ok := parseRef(ref, globals)
		if !ok {
			// Not a reference: "${" stays as text, scanning resumes after it.
			lit.WriteString("${")
			s = s[i+2:]
			continue
		}
		found = true
		if lit.Len() > 0 {
			parts = append(parts, strPart{lit: lit.String()})
			lit.Reset()
		}
		parts = append(parts, part)
		s = s[i+2+end+1:]
	}
	if !found {
		return nil
	}
	if lit.Len() > 0 {
		parts = append(parts, strPart{lit: lit.String()})
	}
	return parts
}

// parseRef parses the inside of "${...}": a number (match variable), an
// identifier, or "global.identifier" (RFC 6609 §3.5).
func parseRef(ref string, globals bool) (strPart, bool) {
	if ref == "" {
		return strPart{}, false
	}
	if isDigit(ref[0]) {
		for i := 0; i < len(ref); i++ {
			if !isDigit(ref[i]) {
				return strPart{}, false
			}
		}
		n, err := strconv.Atoi(strings.TrimLeft(ref, "0") + "0")
		if err != nil || len(ref) > 6 {
			return strPart{isNum: true, num: 1 << 20}, true
		}
		return strPart{isNum: true, num: n / 10}, true
	}
	name := strings.ToLower(ref)
	if rest, ok := strings.CutPrefix(name, "global."); ok && globals {
		if !validIdent(rest) {
			return strPart{}, false
		}
		return strPart{name: name}, true
	}
	if !validIdent(name) {
		return strPart{}, false
	}
	return strPart{name: name}, true
}

func validIdent(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlpha(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// decodeEncoded decodes "${hex:...}" and "${unicode:...}" (RFC 5228
// §2.4.2.4). A malformed sequence stays as it is; a code point outside
// Unicode is an error (returned as a message).
func decodeEncoded(s string) (string, string) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), ""
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			b.WriteString(s[i:])
			return b.String(), ""
		}
		inner := s[i+2 : i+end]
		kind, body, ok := strings.Cut(inner, ":")
		kind = strings.ToLower(kind)
		if ok && (kind == "hex" || kind == "unicode") {
			dec, valid, errMsg := decodeSeq(kind, body)
			if errMsg != "" {
				return "", errMsg
			}
			if valid {
				b.WriteString(dec)
				s = s[i+end+1:]
				continue
			}
		}
		b.WriteString("${")
		s = s[i+2:]
	}
}

func decodeSeq(kind, body string) (string, bool, string) {
	fields := strings.FieldsFunc(body, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' })
	if len(fields) == 0 {
		// "${hex:}" decodes to nothing (RFC 5228 §2.4.2.4 allows an empty sequence).
		return "", strings.Trim(body, " \t\r\n") == "", ""
	}
	var b strings.Builder
	for _, f := range fields {
		if kind == "hex" {
			if len(f)%2 != 0 {
				return "", false, ""
			}
			for j := 0; j < len(f); j += 2 {
				n, err := strconv.ParseUint(f[j:j+2], 16, 8)
				if err != nil {
					return "", false, ""
				}
				b.WriteByte(byte(n))
			}
			continue
		}
		if len(f) > 6 {
			return "", false, ""
		}
		n, err := strconv.ParseUint(f, 16, 32)
		if err != nil {
			return "", false, ""
		}
		if n > 0x10FFFF || n >= 0xD800 && n <= 0xDFFF {
			return "", false, "invalid unicode character U+" + strings.ToUpper(f) + " in encoded string"
		}
		b.WriteRune(rune(n))
	}
	return b.String(), true, ""
}

// maxVarSize bounds a variable's value, as Pigeonhole's default
// sieve_variables_max_variable_size (RFC 5229 §3 lets us limit).
const maxVarSize = 4096

// truncUTF8 cuts s to at most n bytes without splitting a character.
func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
