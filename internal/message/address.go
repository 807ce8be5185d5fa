package message

import (
	"net/mail"
	"strings"
	"time"
)

// maxAddresses bounds one address list, against hostile headers.
const maxAddresses = 1000

// envelope builds the IMAP ENVELOPE from the raw fields.
func (h *header) envelope() *Envelope {
	env := &Envelope{
		Date:      h.date,
		Subject:   h.subject,
		From:      parseAddressList(h.from),
		Sender:    parseAddressList(h.sender),
		ReplyTo:   parseAddressList(h.replyTo),
		To:        parseAddressList(h.to),
		Cc:        parseAddressList(h.cc),
		Bcc:       parseAddressList(h.bcc),
		InReplyTo: h.inReplyTo,
		MessageID: h.messageID,
	}
	// RFC 3501 §7.4.2: an absent or empty Sender or Reply-To is set to From.
	if len(env.Sender) == 0 {
		env.Sender = env.From
	}
	if len(env.ReplyTo) == 0 {
		env.ReplyTo = env.From
	}
	return env
}

// token kinds of the address lexer.
const (
	tokWord    = iota // atom, dot-atom, or anything else not special
	tokQuoted         // quoted-string, raw with its quotes
	tokComment        // comment, without its parentheses
	tokAngle          // angle-addr, without its brackets
	tokSpecial        // one of , : ;
)

type addrToken struct {
	kind int
	text string
}

// lexAddresses splits an address list into tokens leniently: unclosed
// comments and angle brackets run to the end of the input, and an
// unclosed quote is ignored.
func lexAddresses(s string) []addrToken {
	var toks []addrToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == ',' || c == ':' || c == ';':
			toks = append(toks, addrToken{tokSpecial, s[i : i+1]})
			i++
		case c == '"':
			j, closed := skipQuoted(s, i)
			if !closed {
				i++ // a stray quote: read on as if it were not there
				continue
			}
			toks = append(toks, addrToken{tokQuoted, s[i:j]})
			i = j
		case c == '(':
			j := skipComment(s, i)
			toks = append(toks, addrToken{tokComment, strings.TrimSuffix(s[i+1:j], ")")})
			i = j
		case c == '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				toks = append(toks, addrToken{tokAngle, s[i+1:]})
				return toks
			}
			toks = append(toks, addrToken{tokAngle, s[i+1 : i+j]})
			i += j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n,:;\"(<", rune(s[j])) {
				j++
			}
			if j == i { // a stray '>' or ')'
				j++
			}
			toks = append(toks, addrToken{tokWord, s[i:j]})
			i = j
		}
	}
	return toks
}

// skipQuoted returns the index after the quoted string starting at i,
// and whether it was closed.
func skipQuoted(s string, i int) (int, bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return len(s), false
}

// skipComment returns the index after the (nested) comment starting at i.
func skipComment(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}

// parseAddressList parses an RFC 5322 §3.4 address list leniently, keeping
// group syntax as IMAP start and end markers (RFC 3501 §7.4.2). Whatever
// cannot be understood is skipped rather than failing the whole list.
func parseAddressList(s string) []Address {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []Address
	var item []addrToken
	inGroup := false
	flush := func() {
		if a, ok := itemAddress(item); ok && len(out) < maxAddresses {
			out = append(out, a)
		}
		item = item[:0]
	}
	for _, t := range lexAddresses(s) {
		if t.kind != tokSpecial {
			item = append(item, t)
			continue
		}
		switch {
		case t.text == ",":
			flush()
		case t.text == ":" && !inGroup && !hasAt(item) && len(item) > 0:
			out = append(out, Address{Kind: GroupStart, Mailbox: phrase(item)})
			item = item[:0]
			inGroup = true
		case t.text == ";" && inGroup:
			flush()
			out = append(out, Address{Kind: GroupEnd})
			inGroup = false
		case t.text == ";":
			flush()
		default: // a stray ':' after an address: read it as a separator
			flush()
		}
	}
	flush()
	if inGroup {
		out = append(out, Address{Kind: GroupEnd})
	}
	return out
}

func hasAt(item []addrToken) bool {
	for _, t := range item {
		if t.kind == tokAngle || strings.IndexByte(t.text, '@') >= 0 && t.kind == tokWord {
			return true
		}
	}
	return false
}

// phrase joins the words of a display name with single spaces, quotes
// removed and encoded-words kept (RFC 5322 §3.2.5).
func phrase(toks []addrToken) string {
	var words []string
	for _, t := range toks {
		switch t.kind {
		case tokWord:
			words = append(words, t.text)
		case tokQuoted:
			words = append(words, unquote(t.text))
		}
	}
	return strings.Join(words, " ")
}

// itemAddress turns the tokens of one list item into an address:
// "Name <route:local@host>", "local@host (Name)", or broken variants.
func itemAddress(item []addrToken) (Address, bool) {
	var a Address
	angle := -1
	for i, t := range item {
		if t.kind == tokAngle {
			angle = i
			break
		}
	}
	var spec string
	if angle >= 0 {
		a.Name = phrase(item[:angle])
		spec = stripCFWS(item[angle].text)
	} else {
		spec, a.Name = bareAddress(item)
	}
	if a.Name == "" {
		// RFC 822 style "local@host (Name)": the comment names the mailbox.
		for _, t := range item {
			if t.kind == tokComment && strings.TrimSpace(t.text) != "" {
				a.Name = strings.TrimSpace(t.text)
			}
		}
	}
	if at := strings.IndexByte(spec, ':'); at >= 0 && strings.HasPrefix(spec, "@") {
		a.Adl, spec = spec[:at], spec[at+1:] // obsolete source route, RFC 5322 §4.4
	}
	if at := strings.LastIndexByte(spec, '@'); at >= 0 {
		a.Mailbox, a.Host = spec[:at], spec[at+1:]
	} else {
		a.Mailbox = spec
	}
	// A name alone is an address only in brackets ("Name <>"): a lone
	// comment, as in "group: (foo) ;", is not one.
	return a, a.Mailbox != "" || a.Host != "" || angle >= 0 && a.Name != ""
}

// stripCFWS removes the comments and white space that RFC 5322 §3.4.1
// allows around the parts of an addr-spec ("user (c)@ (c) host"),
// leaving quoted strings as they are.
func stripCFWS(s string) string {
	if !strings.ContainsAny(s, " \t\r\n(") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			j, _ := skipQuoted(s, i)
			b.WriteString(s[i:j])
			i = j
		case c == '(':
			i = skipComment(s, i)
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// bareAddress handles an item without angle brackets: the word holding an
// '@' is the address and any other words are a (broken) display name;
// without one, the words form a local part alone.
func bareAddress(item []addrToken) (spec, name string) {
	for i, t := range item {
		if t.kind == tokWord && strings.IndexByte(t.text, '@') >= 0 {
			// A quoted local part: `"john doe"@example.com`.
			if t.text[0] == '@' && i > 0 && item[i-1].kind == tokQuoted {
				return item[i-1].text + t.text, phrase(item[:i-1])
			}
			rest := append(append([]addrToken(nil), item[:i]...), item[i+1:]...)
			return t.text, phrase(rest)
		}
	}
	var b strings.Builder
	for _, t := range item {
		if t.kind == tokWord || t.kind == tokQuoted {
			b.WriteString(t.text)
		}
	}
	return b.String(), ""
}

// DecodedSubject returns the subject decoded from RFC 2047 to UTF-8, for display.
func (e *Envelope) DecodedSubject() string { return decodeHeader(e.Subject) }

// DecodedFrom returns the first From address for display: "Name
// <local@host>" with the name decoded, or the address alone.
func (e *Envelope) DecodedFrom() string {
	for _, a := range e.From {
		if a.Kind == Mailbox {
			return a.String()
		}
	}
	return ""
}

// Addr returns "local@host", or the local part when there is no host.
func (a Address) Addr() string {
	if a.Host == "" {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}

// DisplayName returns the name decoded from RFC 2047 to UTF-8.
func (a Address) DisplayName() string { return decodeHeader(a.Name) }

// String formats the address for display (decoded, not for the wire).
func (a Address) String() string {
	if n := a.DisplayName(); n != "" {
		return n + " <" + a.Addr() + ">"
	}
	return a.Addr()
}

// Time parses the Date field leniently; ok is false when it cannot.
func (e *Envelope) Time() (t time.Time, ok bool) {
	d := strings.TrimSpace(stripComments(e.Date))
	if d == "" {
		return time.Time{}, false
	}
	t, err := mail.ParseDate(d)
	return t, err == nil
}
