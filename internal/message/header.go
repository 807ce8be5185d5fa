package message

import (
	"strings"
	"unicode/utf8"
)

// header holds the fields of one header block that parsing needs.
type header struct {
	contentType, encoding, id, description string
	md5, disposition, language, location   string
	hasType                                bool

	// Envelope fields (RFC 3501 §7.4.2), raw and unfolded; only for messages.
	date, subject, from, sender, replyTo string
	to, cc, bcc, inReplyTo, messageID    string

	// text is the decoded "Name: value" lines, only for the top level.
	text string
}

// parseHeader extracts the fields of a raw header block.
func (p *parser) parseHeader(block []byte, msg, top bool) header {
	var h header
	var text strings.Builder
	if top {
		text.Grow(len(block))
	}
	n := 0
	eachField(block, &p.scratch, func(name, value []byte) bool {
		n++
		if n > p.lim.MaxHeaderFields {
			p.degrade("too many header fields")
			return false
		}
		h.set(name, value, msg)
		if top {
			if utf8.Valid(name) {
				text.Write(name)
			} else {
				text.WriteString(headerString(name))
			}
			text.WriteString(": ")
			decoded := decodeHeader(string(value))
			text.WriteString(decoded)
			if isAddressField(name) {
				writeBareAddresses(&text, decoded, headerString(value))
			}
			text.WriteByte('\n')
		}
		return true
	})
	h.text = text.String()
	return h
}

// isAddressField reports whether the field holds an address list that
// SEARCH FROM/TO/CC/BCC look in.
func isAddressField(name []byte) bool {
	for _, f := range []string{"from", "sender", "reply-to", "to", "cc", "bcc"} {
		if equalFold(name, f) {
			return true
		}
	}
	return false
}

// writeBareAddresses appends to a search text line the plain
// "mailbox@host" of every address that the decoded value does not spell
// that way (comments or spaces inside the addr-spec, RFC 5322 §3.4.1), so
// a search for the address finds the message as the address parser reads
// it.
func writeBareAddresses(text *strings.Builder, decoded, raw string) {
	if !strings.ContainsAny(raw, "( \t") {
		return
	}
	for _, a := range parseAddressList(raw) {
		if a.Kind != Mailbox || a.Host == "" {
			continue
		}
		spec := a.Mailbox + "@" + a.Host
		if !strings.Contains(decoded, spec) {
			text.WriteByte(' ')
			text.WriteString(spec)
		}
	}
}

// set keeps the first occurrence of each field the parser needs.
func (h *header) set(name, value []byte, msg bool) {
	keep := func(dst *string) {
		if *dst == "" {
			*dst = headerString(value)
		}
	}
	switch {
	case len(name) > 8 && equalFold(name[:8], "content-"):
		h.setContent(name[8:], value)
	case !msg:
	case equalFold(name, "date"):
		keep(&h.date)
	case equalFold(name, "subject"):
		keep(&h.subject)
	case equalFold(name, "from"):
		keep(&h.from)
	case equalFold(name, "sender"):
		keep(&h.sender)
	case equalFold(name, "reply-to"):
		keep(&h.replyTo)
	case equalFold(name, "to"):
		keep(&h.to)
	case equalFold(name, "cc"):
		keep(&h.cc)
	case equalFold(name, "bcc"):
		keep(&h.bcc)
	case equalFold(name, "in-reply-to"):
		keep(&h.inReplyTo)
	case equalFold(name, "message-id"):
		keep(&h.messageID)
	}
}

// setContent keeps the MIME fields (RFC 2045 §3, RFC 2183, RFC 3066,
// RFC 2557), named without their "Content-" prefix.
func (h *header) setContent(name, value []byte) {
	var dst *string
	switch {
	case equalFold(name, "type"):
		if h.hasType {
			return
		}
		h.hasType = true
		dst = &h.contentType
	case equalFold(name, "transfer-encoding"):
		dst = &h.encoding
	case equalFold(name, "id"):
		dst = &h.id
	case equalFold(name, "description"):
		dst = &h.description
	case equalFold(name, "md5"):
		dst = &h.md5
	case equalFold(name, "disposition"):
		dst = &h.disposition
	case equalFold(name, "language"):
		dst = &h.language
	case equalFold(name, "location"):
		dst = &h.location
	default:
		return
	}
	if *dst == "" {
		*dst = headerString(value)
	}
}

// headerString converts a raw header value to a string that is valid
// UTF-8, as the stored JSON forms need: UTF-8 (RFC 6532) is kept, other
// 8-bit bytes are read as Latin-1, the most common legacy case.
func headerString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return toUTF8("iso-8859-1", b)
}

// apply sets the MIME description of a part from its header, with the
// defaults of RFC 2045 §5.2 and §6.1 and RFC 2046 §5.1.5.
func (h *header) apply(part *Part, digest bool) {
	part.Type, part.Subtype = "text", "plain"
	if digest {
		part.Type, part.Subtype = "message", "rfc822"
	}
	typ, sub, params, ok := parseContentType(h.contentType)
	switch {
	case ok:
		part.Type, part.Subtype, part.Params = typ, sub, params
	case digest:
	default:
		// Absent or broken: text/plain; charset=us-ascii.
		part.Params = []Param{{Key: "charset", Value: "us-ascii"}}
	}
	part.Encoding = "7bit"
	if e := lower(strings.TrimSpace(stripComments(h.encoding))); e != "" {
		part.Encoding = e
	}
	part.ID = h.id
	part.Description = h.description
	part.MD5 = h.md5
	part.Location = h.location
	if h.disposition != "" {
		d, params := parseDisposition(h.disposition)
		part.Disposition, part.DispositionParams = d, params
	}
	if h.language != "" {
		for _, tag := range strings.Split(stripComments(h.language), ",") {
			if tag = strings.TrimSpace(tag); tag != "" {
				part.Language = append(part.Language, tag)
			}
		}
	}
}

// eachField calls fn with the name and unfolded, trimmed value of every
// field of a raw header block (RFC 5322 §2.2), until fn returns false.
// Lines that are neither a field nor a continuation are skipped. The
// slices are valid only during the call.
func eachField(block []byte, scratch *[]byte, fn func(name, value []byte) bool) {
	i := 0
	for i < len(block) {
		end := lineEnd(block, i)
		colon := indexByte(block[i:end], ':')
		if colon <= 0 || block[i] == ' ' || block[i] == '\t' {
			i = end
			continue
		}
		name := trimRight(block[i : i+colon])
		if len(name) == 0 {
			i = end
			continue
		}
		vstart := i + colon + 1
		next := end
		for next < len(block) && (block[next] == ' ' || block[next] == '\t') {
			next = lineEnd(block, next)
		}
		value := block[vstart:next]
		if next != end {
			value = unfold(value, scratch)
		}
		if !fn(name, trimSpace(value)) {
			return
		}
		i = next
	}
}

// lineEnd returns the index just after the LF ending the line at i.
func lineEnd(b []byte, i int) int {
	if j := indexByte(b[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(b)
}

// unfold removes the line breaks of a folded value (RFC 5322 §2.2.3).
func unfold(v []byte, scratch *[]byte) []byte {
	out := (*scratch)[:0]
	for _, c := range v {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	*scratch = out
	return out
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return trimRight(b)
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares ASCII case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
