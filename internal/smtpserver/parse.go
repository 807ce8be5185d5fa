package smtpserver

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// splitCommand cuts a command line into its verb, upper-cased, and the
// argument after the first space.
func splitCommand(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(line, " ")
	if len(verb) > 16 {
		return "", ""
	}
	return strings.ToUpper(verb), strings.TrimSpace(arg)
}

// cutPrefixFold is strings.CutPrefix ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// parsePath reads a Reverse-path or Forward-path (RFC 5321 §4.1.2) from
// the start of s: "<mailbox>", a source route before the mailbox ignored
// as §4.1.1.3 asks, or a bare mailbox from clients that omit the angle
// brackets. It returns the mailbox ("" for "<>" when allowed) and what
// follows, the parameters.
func parsePath(s string, allowNull bool) (mailbox, rest string, ok bool) {
	s = strings.TrimLeft(s, " ")
	if allowNull && strings.HasPrefix(s, "<>") {
		return "", s[2:], true
	}
	bracket := strings.HasPrefix(s, "<")
	if bracket {
		s = s[1:]
		if strings.HasPrefix(s, "@") {
			i := strings.IndexByte(s, ':')
			if i < 0 {
				return "", "", false
			}
			s = s[i+1:]
		}
	}
	end, ok := mailboxEnd(s)
	if !ok {
		return "", "", false
	}
	mailbox, rest = s[:end], s[end:]
	if bracket {
		if !strings.HasPrefix(rest, ">") {
			return "", "", false
		}
		rest = rest[1:]
	}
	if rest != "" && rest[0] != ' ' {
		return "", "", false
	}
	return mailbox, rest, true
}

// mailboxEnd finds the end of the Mailbox at the start of s: a dot-string
// or quoted-string local part, "@", a domain or address literal. Octets
// above 127 are allowed for SMTPUTF8 (RFC 6531 §3.3).
func mailboxEnd(s string) (int, bool) {
	i := 0
	if strings.HasPrefix(s, `"`) {
		for i = 1; ; i++ {
			if i >= len(s) {
				return 0, false
			}
			c := s[i]
			if c == '\\' {
				i++
				continue
			}
			if c == '"' {
				i++
				break
			}
			if c < 0x20 || c == 0x7f {
				return 0, false
			}
		}
	} else {
		for ; i < len(s) && s[i] != '@'; i++ {
			if !atextOrDot(s[i]) {
				return 0, false
			}
		}
	}
	if i == 0 || i >= len(s) || s[i] != '@' {
		return 0, false
	}
	i++
	start := i
	for ; i < len(s) && s[i] != '>' && s[i] != ' '; i++ {
		if c := s[i]; c < 0x21 || c == 0x7f || c == '<' || c == '@' || c == '"' || c == '\\' || c == ',' || c == ';' {
			return 0, false
		}
	}
	if i == start || !utf8.ValidString(s[:i]) {
		return 0, false
	}
	return i, true
}

// atextOrDot: the octets of a Dot-string (RFC 5322 atext, "."), and UTF-8.
func atextOrDot(c byte) bool {
	switch {
	case c >= 0x80, 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0
}

type param struct{ key, value string }

// maxParams bounds the parameters of one MAIL or RCPT.
const maxParams = 16

// parseParams reads the Mail-parameters or Rcpt-parameters (RFC 5321
// §4.1.2): space-separated esmtp-keyword["="esmtp-value], keywords
// upper-cased, each at most once.
func parseParams(s string) ([]param, *Reply) {
	var out []param
	for _, f := range strings.Fields(s) {
		key, value, hasValue := strings.Cut(f, "=")
		if !esmtpKeyword(key) || (hasValue && !esmtpValue(value)) || len(out) == maxParams {
			return nil, syntax("parameters are KEYWORD or KEYWORD=value")
		}
		key = strings.ToUpper(key)
		for _, p := range out {
			if p.key == key {
				return nil, replyDuplicateParam
			}
		}
		out = append(out, param{key, value})
	}
	return out, nil
}

func esmtpKeyword(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '-') {
			return false
		}
	}
	return true
}

// esmtpValue: %d33-60 / %d62-126, and UTF-8 (RFC 6531 §3.3).
func esmtpValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 33 || c == '=' || c == 127 {
			return false
		}
	}
	return utf8.ValidString(s)
}

// decodeXtext decodes RFC 3461 §4 xtext: "+" and two upper-case hex digits
// stand for one octet.
func decodeXtext(s string) (string, bool) {
	if !strings.Contains(s, "+") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '+' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !upperHex(s[i+1]) || !upperHex(s[i+2]) {
			return "", false
		}
		v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}

func upperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// decodeUTF8Xtext decodes RFC 6533 §3 utf-8-addr-xtext and -unitext:
// "\x{HEX}" stands for one code point.
func decodeUTF8Xtext(s string) (string, bool) {
	var b strings.Builder
	for len(s) > 0 {
		if !strings.HasPrefix(s, `\x{`) {
			if s[0] == '\\' || s[0] == '+' || s[0] == '=' || s[0] < 0x21 || s[0] == 0x7f {
				return "", false
			}
			b.WriteByte(s[0])
			s = s[1:]
			continue
		}
		end := strings.IndexByte(s, '}')
		if end < 4 || end > 9 {
			return "", false
		}
		v, err := strconv.ParseUint(s[3:end], 16, 32)
		if err != nil || v > utf8.MaxRune || (v >= 0xd800 && v <= 0xdfff) {
			return "", false
		}
		b.WriteRune(rune(v))
		s = s[end+1:]
	}
	return b.String(), utf8.ValidString(b.String())
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseBDAT reads "chunk-size [LAST]" (RFC 3030 §3). sizeOK tells whether
// the size could be read, so a refused chunk can still be skipped.
func parseBDAT(arg string) (size int64, last, sizeOK, ok bool) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 || !digits(f[0]) || len(f[0]) > 15 {
		return 0, false, false, false
	}
	size, _ = strconv.ParseInt(f[0], 10, 64)
	if len(f) == 2 {
		if !strings.EqualFold(f[1], "LAST") {
			return size, false, true, false
		}
		last = true
	}
	return size, last, true, true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// printable replaces control octets in client text echoed in a reply.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
