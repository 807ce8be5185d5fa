package jmapmail

// Header fields as JMAP gives them (RFC 8621 §4.1.2, §4.1.3): the
// "headers" list of raw fields and the "header:{name}[:as{Form}][:all]"
// properties, on an Email and on its body parts. The fields come from
// the raw header block of the message or part, read from the blob
// (rawField); the parsed forms reuse internal/message's lenient readers.

import (
	"bytes"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"postern/internal/jmap"
	"postern/internal/message"
)

// headerForm is one of the parsed forms of RFC 8621 §4.1.2.
type headerForm int

const (
	formRaw headerForm = iota
	formText
	formAddresses
	formGroupedAddresses
	formMessageIDs
	formDate
	formURLs
)

var formNames = map[string]headerForm{
	"asRaw": formRaw, "asText": formText, "asAddresses": formAddresses,
	"asGroupedAddresses": formGroupedAddresses, "asMessageIds": formMessageIDs,
	"asDate": formDate, "asURLs": formURLs,
}

// maxHeaderName bounds the field name of a header property; RFC 5322
// lines are at most 998 octets, and no real field name comes close.
const maxHeaderName = 200

// headerProp is a parsed "header:" property.
type headerProp struct {
	name    string // lower case
	spelled string // as the client wrote it, for a field a draft writes
	form    headerForm
	all     bool
}

// parseHeaderProp reads "header:{name}[:as{Form}][:all]" (RFC 8621
// §4.1.3) and checks that the form may be used on that field (§4.1.2:
// fields RFC 5322 and RFC 2369 define take only their own forms; any
// other field takes every form).
func parseHeaderProp(p string) (headerProp, bool) {
	rest, ok := strings.CutPrefix(p, "header:")
	if !ok {
		return headerProp{}, false
	}
	parts := strings.Split(rest, ":")
	if len(parts) > 3 {
		return headerProp{}, false
	}
	hp := headerProp{name: strings.ToLower(parts[0]), spelled: parts[0]}
	if !validFieldName(parts[0]) {
		return headerProp{}, false
	}
	parts = parts[1:]
	if len(parts) > 0 && parts[len(parts)-1] == "all" {
		hp.all = true
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 1 {
		f, ok := formNames[parts[0]]
		if !ok {
			return headerProp{}, false
		}
		hp.form = f
	} else if len(parts) > 1 {
		return headerProp{}, false
	}
	return hp, formAllowed(hp.name, hp.form)
}

// validFieldName tells whether s is an RFC 5322 §3.6.8 field name:
// printable ASCII without the colon.
func validFieldName(s string) bool {
	if s == "" || len(s) > maxHeaderName {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == ':' {
			return false
		}
	}
	return true
}

// fieldForms are the forms allowed on the fields RFC 5322 and RFC 2369
// define (RFC 8621 §4.1.2); Raw is allowed on all.
var fieldForms = map[string][]headerForm{}

func init() {
	for _, f := range []string{"subject", "comments", "keywords", "list-id"} {
		fieldForms[f] = []headerForm{formText}
	}
	for _, f := range []string{"from", "sender", "reply-to", "to", "cc", "bcc", "resent-from", "resent-sender",
		"resent-reply-to", "resent-to", "resent-cc", "resent-bcc"} {
		fieldForms[f] = []headerForm{formAddresses, formGroupedAddresses}
	}
	for _, f := range []string{"message-id", "in-reply-to", "references", "resent-message-id"} {
		fieldForms[f] = []headerForm{formMessageIDs}
	}
	for _, f := range []string{"date", "resent-date"} {
		fieldForms[f] = []headerForm{formDate}
	}
	for _, f := range []string{"list-help", "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive"} {
		fieldForms[f] = []headerForm{formURLs}
	}
	// RFC 5322 fields with no parsed form of their own.
	for _, f := range []string{"received", "return-path", "resent-return-path"} {
		fieldForms[f] = []headerForm{}
	}
}

func formAllowed(name string, f headerForm) bool {
	if f == formRaw {
		return true
	}
	forms, known := fieldForms[name]
	if !known {
		return true
	}
	for _, g := range forms {
		if g == f {
			return true
		}
	}
	return false
}

// rawField is one header field: its name as written and its raw value,
// from the octet after the colon to the CRLF ending the field, folding
// kept.
type rawField struct {
	name  string
	value []byte
}

// splitHeader returns the fields of a raw header block in order, up to
// the blank line that ends it; lines that are not fields are skipped.
func splitHeader(block []byte) []rawField {
	var out []rawField
	for len(block) > 0 {
		end := fieldEnd(block)
		line := block[:end]
		block = block[end:]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break // the blank line
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name := bytes.TrimRight(line[:colon], " \t")
		if !validFieldName(string(name)) || len(out) >= maxHeaderFields {
			continue
		}
		v := line[colon+1:]
		v = bytes.TrimSuffix(bytes.TrimSuffix(v, []byte("\n")), []byte("\r"))
		out = append(out, rawField{name: string(name), value: v})
	}
	return out
}

// maxHeaderFields bounds the fields kept of one header block, as
// message.DefaultLimits does at delivery.
const maxHeaderFields = 1000

// fieldEnd returns the length of the field at the start of b: its first
// line and the continuation lines after it.
func fieldEnd(b []byte) int {
	i := 0
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return len(b)
		}
		blank := i == 0 && len(bytes.TrimRight(b[:j+1], "\r\n")) == 0
		i += j + 1
		if blank || i >= len(b) || (b[i] != ' ' && b[i] != '\t') {
			return i
		}
	}
}

// rawString is a raw value as JSON can carry it (RFC 8621 §4.1.2.1):
// NUL dropped, octets that are not UTF-8 replaced by U+FFFD.
func rawString(v []byte) string {
	s := string(bytes.ReplaceAll(v, []byte{0}, nil))
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// unfolded is a value without its line breaks (RFC 5322 §2.2.3).
func unfolded(v []byte) string {
	s := rawString(v)
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(s)
	}
	return s
}

// headersList is the "headers" property: every field, raw.
func headersList(fields []rawField) []map[string]string {
	out := make([]map[string]string, 0, len(fields))
	for _, f := range fields {
		out = append(out, map[string]string{"name": f.name, "value": rawString(f.value)})
	}
	return out
}

// headerValue answers a header property from the fields of a block:
// the last instance (or null), or with :all every instance (or []).
func headerValue(fields []rawField, hp headerProp) any {
	if hp.all {
		out := []any{}
		for _, f := range fields {
			if strings.EqualFold(f.name, hp.name) {
				out = append(out, parseForm(f.value, hp.form))
			}
		}
		return out
	}
	for i := len(fields) - 1; i >= 0; i-- {
		if strings.EqualFold(fields[i].name, hp.name) {
			return parseForm(fields[i].value, hp.form)
		}
	}
	return nil
}

// parseForm is a raw value in a parsed form (RFC 8621 §4.1.2.1–7).
func parseForm(v []byte, f headerForm) any {
	switch f {
	case formText:
		return textForm(v)
	case formAddresses:
		return addressesForm(v)
	case formGroupedAddresses:
		return groupedForm(v)
	case formMessageIDs:
		return msgIDs(unfolded(v))
	case formDate:
		env := message.Envelope{Date: unfolded(v)}
		if t, ok := env.Time(); ok {
			return t.Format(time.RFC3339)
		}
		return nil
	case formURLs:
		return urlsForm(unfolded(v))
	}
	return rawString(v)
}

// textForm unfolds, trims, decodes RFC 2047 words and normalises to NFC
// (§4.1.2.2).
func textForm(v []byte) string {
	s := message.DecodeHeader(strings.TrimSpace(unfolded(v)))
	s = strings.Map(func(r rune) rune {
		if r == 0 || (r < 0x20 && r != '\t') {
			return -1 // control characters an encoded-word smuggled in
		}
		return r
	}, s)
	return norm.NFC.String(s)
}

// addressesForm is §4.1.2.3: the mailboxes, groups flattened.
func addressesForm(v []byte) []emailAddress {
	out := addresses(message.ParseAddressList(unfolded(v)))
	if out == nil {
		out = []emailAddress{}
	}
	return out
}

// emailAddressGroup is an EmailAddressGroup (§4.1.2.4).
type emailAddressGroup struct {
	Name      *string        `json:"name"`
	Addresses []emailAddress `json:"addresses"`
}

// groupedForm is §4.1.2.4: the groups in order, with mailboxes outside
// any group gathered in groups of null name between them.
func groupedForm(v []byte) []emailAddressGroup {
	out := []emailAddressGroup{}
	var cur *emailAddressGroup
	inGroup := false
	for _, a := range message.ParseAddressList(unfolded(v)) {
		switch a.Kind {
		case message.GroupStart:
			name := message.DecodeHeader(a.Mailbox)
			out = append(out, emailAddressGroup{Name: &name, Addresses: []emailAddress{}})
			cur, inGroup = &out[len(out)-1], true
		case message.GroupEnd:
			cur, inGroup = nil, false
		default:
			if cur == nil || (!inGroup && cur.Name != nil) {
				out = append(out, emailAddressGroup{Addresses: []emailAddress{}})
				cur = &out[len(out)-1]
			}
			cur.Addresses = append(cur.Addresses, addresses([]message.Address{a})...)
		}
	}
	return out
}

// urlsForm is §4.1.2.7: the URLs in angle brackets of a list (RFC
// 2369), or null when there are none.
func urlsForm(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		if u := strings.Join(strings.Fields(s[i+1:i+j]), ""); u != "" {
			out = append(out, u)
		}
		s = s[i+j+1:]
	}
	return out
}

// checkHeaderProps refuses properties that are neither known nor valid
// header properties, and header forms a field may not take.
func checkHeaderProps(props []string, known func(string) bool, what string) error {
	for _, p := range props {
		if known(p) {
			continue
		}
		if strings.HasPrefix(p, "header:") {
			if _, ok := parseHeaderProp(p); !ok {
				return jmap.NewError(jmap.InvalidArguments, "invalid header property "+p)
			}
			continue
		}
		return jmap.NewError(jmap.InvalidArguments, "unknown "+what+" property "+p)
	}
	return nil
}
