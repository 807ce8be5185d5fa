package jmapmail

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// Header fields of a draft, from the JMAP forms (RFC 8621 §4.1.2) to their
// wire form: encoded words (RFC 2047) for text that is not ASCII, quoted
// phrases where a display name needs them. Folding is the writer's
// (draft_mime.go): a value here is one line.

// field is one header field of a draft. A raw value is written as given
// after the colon; another is folded at its spaces.
type field struct {
	name, value string
	raw         bool
}

// maxFieldValue bounds the wire value of one field.
const maxFieldValue = 16 << 10

var errForm = errors.New("this header field cannot take this form")

// encodeField turns the JSON value of a header property into fields: none
// for null, one, or with all one per array element.
func encodeField(name string, form headerForm, all bool, raw json.RawMessage) ([]field, error) {
	if !formAllowed(strings.ToLower(name), form) {
		return nil, errForm
	}
	if string(raw) == "null" {
		return nil, nil
	}
	values := []json.RawMessage{raw}
	if all {
		if err := json.Unmarshal(raw, &values); err != nil {
			return nil, errors.New("an :all value must be an array")
		}
	}
	var out []field
	for _, v := range values {
		s, err := encodeValue(form, v)
		if err != nil {
			return nil, err
		}
		if len(s) > maxFieldValue || form == formRaw && len(name)+1+len(s) > hardLine {
			return nil, errors.New("header field value too long")
		}
		out = append(out, field{name: name, value: s, raw: form == formRaw})
	}
	return out, nil
}

// encodeValue is the wire value of one field in form.
func encodeValue(form headerForm, v json.RawMessage) (string, error) {
	switch form {
	case formRaw:
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", errors.New("asRaw takes a string")
		}
		// Raw text goes out as it is: no line breaks (no field can be
		// smuggled in), no controls but tab.
		for _, r := range s {
			if r < ' ' && r != '\t' || r == 0x7f {
				return "", errors.New("asRaw value with control characters")
			}
		}
		return s, nil
	case formText:
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", errors.New("asText takes a string")
		}
		return encodeText(s), nil
	case formAddresses:
		var list []emailAddress
		if json.Unmarshal(v, &list) != nil {
			return "", errors.New("asAddresses takes EmailAddress objects")
		}
		return formatAddresses(list)
	case formGroupedAddresses:
		var groups []struct {
			Name      *string        `json:"name"`
			Addresses []emailAddress `json:"addresses"`
		}
		if json.Unmarshal(v, &groups) != nil {
			return "", errors.New("asGroupedAddresses takes EmailAddressGroup objects")
		}
		var items []string
		for _, g := range groups {
			list, err := formatAddresses(g.Addresses)
			if err != nil {
				return "", err
			}
			if g.Name == nil {
				if list != "" {
					items = append(items, list)
				}
				continue
			}
			items = append(items, phrase(*g.Name)+": "+list+";")
		}
		return strings.Join(items, ", "), nil
	case formMessageIDs:
		var ids []string
		if json.Unmarshal(v, &ids) != nil {
			return "", errors.New("asMessageIds takes an array of ids")
		}
		for i, id := range ids {
			if !validMsgID(id) {
				return "", errors.New("not a message id: " + id)
			}
			ids[i] = "<" + id + ">"
		}
		return strings.Join(ids, " "), nil
	case formDate:
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", errors.New("asDate takes a Date")
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return "", errors.New("asDate takes a Date")
		}
		return t.Format(rfc5322Date), nil
	case formURLs:
		var urls []string
		if json.Unmarshal(v, &urls) != nil {
			return "", errors.New("asURLs takes an array of URLs")
		}
		for i, u := range urls {
			if u == "" || !printableASCII(u, maxWord) || strings.ContainsAny(u, "<> ") {
				return "", errors.New("not a URL: " + u)
			}
			urls[i] = "<" + u + ">"
		}
		return strings.Join(urls, ", "), nil
	}
	return "", errForm
}

// rfc5322Date is the date-time of RFC 5322 §3.3.
const rfc5322Date = "Mon, 02 Jan 2006 15:04:05 -0700"

// encodeText is unstructured text: as it is when printable ASCII, else as
// encoded words (encodedWords). Line breaks become spaces.
func encodeText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if printableASCII(s, len(s)) && !strings.Contains(s, "=?") && !hasLongWord(s) {
		return s
	}
	return encodedWords(s)
}

// maxWord is the longest run without a space written as it is: longer
// ones could not be folded into a line of 998 octets.
const maxWord = 900

func hasLongWord(s string) bool {
	for _, w := range strings.Split(s, " ") {
		if len(w) > maxWord {
			return true
		}
	}
	return false
}

// encodedWords writes s as RFC 2047 Q encoded words of UTF-8, each of at
// most wordBytes octets of whole characters, so that one (at most 48
// characters) fits on a folded line after the field name; the spaces
// between them are where the writer folds, and decoders drop them
// (RFC 2047 §6.2).
func encodedWords(s string) string {
	const wordBytes = 12
	var b strings.Builder
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n > 0 && n+size > wordBytes {
				break
			}
			n += size
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("=?utf-8?q?")
		for i := 0; i < n; i++ {
			c := s[i]
			switch {
			case c == ' ':
				b.WriteByte('_')
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!*+-/", c) >= 0:
				b.WriteByte(c)
			default:
				b.WriteByte('=')
				b.WriteByte("0123456789ABCDEF"[c>>4])
				b.WriteByte("0123456789ABCDEF"[c&15])
			}
		}
		b.WriteString("?=")
		s = s[n:]
	}
	return b.String()
}

// phrase is a display name: an atom sequence as it is, other ASCII as a
// quoted string, anything else as encoded words (RFC 2047 §5(3)).
func phrase(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if !printableASCII(name, len(name)) || strings.Contains(name, "=?") || hasLongWord(name) {
		return encodedWords(strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f {
				return ' '
			}
			return r
		}, name))
	}
	atoms := true
	for i := 0; i < len(name); i++ {
		if !isAtext(name[i]) && name[i] != ' ' {
			atoms = false
		}
	}
	if atoms && name != "" && name[0] != ' ' && name[len(name)-1] != ' ' && !strings.Contains(name, "  ") {
		return name
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// isAtext: RFC 5322 §3.2.3 atext.
func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// formatAddresses is an address list; an address must be local@domain of
// printable characters (UTF-8 allowed, RFC 6532) without spaces or
// specials that would break the list.
func formatAddresses(list []emailAddress) (string, error) {
	items := make([]string, 0, len(list))
	for _, a := range list {
		if !validAddr(a.Email) {
			return "", errors.New("not an email address: " + a.Email)
		}
		if a.Name == nil || *a.Name == "" {
			items = append(items, a.Email)
			continue
		}
		items = append(items, phrase(*a.Name)+" <"+a.Email+">")
	}
	return strings.Join(items, ", "), nil
}

func validAddr(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 320 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`<>(),;:"[]\`, r) {
			return false
		}
	}
	return true
}

// validMsgID: a msg-id without its angle brackets, id-left "@" id-right
// of printable ASCII (RFC 5322 §3.6.4).
func validMsgID(id string) bool {
	at := strings.IndexByte(id, '@')
	return at > 0 && at < len(id)-1 && printableASCII(id, 250) && !strings.ContainsAny(id, "<> ")
}
