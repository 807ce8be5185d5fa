package imapd

import (
	"bytes"

	"postern/internal/message"
)

// sectionBytes returns the bytes of a body section (RFC 9051 §6.4.5) using
// the part offsets recorded at delivery; a section that does not exist is
// empty.
func sectionBytes(raw []byte, root *message.Part, sec section) []byte {
	part := root
	if len(sec.part) > 0 {
		part = root.Find(sec.part)
		if part == nil {
			return nil
		}
	}
	switch sec.spec {
	case "":
		if len(sec.part) == 0 {
			return raw
		}
		return clip(raw, part.BodyStart, part.End)
	case "MIME":
		return clip(raw, part.HeaderStart, part.BodyStart)
	}
	// HEADER and TEXT of a numbered part name its encapsulated message.
	msg := part
	if len(sec.part) > 0 {
		if part.Message == nil {
			return nil
		}
		msg = part.Message
	}
	switch sec.spec {
	case "TEXT":
		return clip(raw, msg.BodyStart, msg.End)
	case "HEADER":
		return clip(raw, msg.HeaderStart, msg.BodyStart)
	case "HEADER.FIELDS":
		return filterHeader(clip(raw, msg.HeaderStart, msg.BodyStart), sec.fields, false)
	case "HEADER.FIELDS.NOT":
		return filterHeader(clip(raw, msg.HeaderStart, msg.BodyStart), sec.fields, true)
	}
	return nil
}

func clip(b []byte, from, to int64) []byte {
	n := int64(len(b))
	from, to = min(max(from, 0), n), min(max(to, 0), n)
	if from >= to {
		return nil
	}
	return b[from:to]
}

// filterHeader keeps (or, with not, drops) the fields named in fields
// (upper case), folded lines included, and ends with the blank line that
// RFC 3501 §6.4.5 says header fetches include.
func filterHeader(hdr []byte, fields []string, not bool) []byte {
	var out bytes.Buffer
	keep := false
	for len(hdr) > 0 {
		i := bytes.IndexByte(hdr, '\n')
		line := hdr
		if i >= 0 {
			line = hdr[:i+1]
		}
		hdr = hdr[len(line):]
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			break // the blank line ending the header
		}
		if line[0] != ' ' && line[0] != '\t' {
			keep = not != fieldListed(trimmed, fields)
		}
		if keep {
			out.Write(line)
		}
	}
	out.WriteString("\r\n")
	return out.Bytes()
}

func fieldListed(line []byte, fields []string) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	name := bytes.TrimRight(line[:colon], " \t")
	for _, f := range fields {
		if bytes.EqualFold(name, []byte(f)) {
			return true
		}
	}
	return false
}
