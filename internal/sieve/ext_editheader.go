package sieve

import (
	"bytes"
	"errors"
	"mime"
	"strings"
)

// editheader (RFC 5293).

// HeaderOp is the kind of a HeaderEdit.
type HeaderOp int

const (
	HeaderAdd HeaderOp = iota
	HeaderDelete
)

// HeaderEdit is one addheader or deleteheader, resolved to what it did
// to the header as the script saw it, so that ApplyHeaderEdits replays
// it exactly on the raw message.
type HeaderEdit struct {
	Op   HeaderOp
	Name string
	// Value is the added field's value, UTF-8; ApplyHeaderEdits encodes
	// it (RFC 2047) when it is not ASCII.
	Value string
	// Last: addheader :last, the field goes to the end instead of the top.
	Last bool
	// Occurrences are the fields named Name that a delete removed,
	// 1-based from the top, counted in the header as the edits before
	// this one left it.
	Occurrences []int
}

// maxAddedHeader bounds an added field's value, as Pigeonhole's
// sieve_editheader_max_header_size.
const maxAddedHeader = 2048

// protectedHeader tells whether a field may not be deleted: Received
// and Auto-Submitted (RFC 5293 §6, and Pigeonhole).
func protectedHeader(lname string) bool {
	return lname == "received" || lname == "auto-submitted"
}

func (r *runner) addHeader(n *node) error {
	if err := r.msg.load(); err != nil {
		return err
	}
	name := r.expand(n.args[0].strs[0])
	if !validFieldName(name) {
		return &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "addheader: invalid field name " + quote(name)}
	}
	value := cleanValue(r.expand(n.args[1].strs[0]))
	if len(value) > maxAddedHeader {
		return &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "addheader: value too long"}
	}
	f := &field{name: name, lname: strings.ToLower(name), raw: " " + value, decoded: value, dec: true}
	last := n.has("last")
	if last {
		r.msg.fields = append(r.msg.fields, f)
	} else {
		r.msg.fields = append([]*field{f}, r.msg.fields...)
	}
	r.res.HeaderEdits = append(r.res.HeaderEdits, HeaderEdit{Op: HeaderAdd, Name: name, Value: value, Last: last})
	return nil
}

// cleanValue turns line breaks into spaces: an added value is one line
// (ApplyHeaderEdits folds it).
func cleanValue(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", " ")
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

func (r *runner) deleteHeader(n *node) error {
	if err := r.msg.load(); err != nil {
		return err
	}
	name := r.expand(n.args[0].strs[0])
	lname := strings.ToLower(name)
	if protectedHeader(lname) || !validFieldName(name) {
		return nil
	}
	var idx []int // positions in r.msg.fields
	for i, f := range r.msg.fields {
		if f.lname == lname {
			idx = append(idx, i)
		}
	}
	occ := make([]int, len(idx)) // occurrence number of each
	for i := range idx {
		occ[i] = i + 1
	}
	if n.index > 0 {
		if n.index > len(idx) {
			return nil
		}
		k := n.index - 1
		if n.last {
			k = len(idx) - n.index
		}
		idx, occ = idx[k:k+1], occ[k:k+1]
	}
	var del []int
	var delOcc []int
	for i, fi := range idx {
		if len(n.args) > 1 {
			ok, err := r.match(n, []string{r.msg.fields[fi].value()}, n.args[1])
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		del = append(del, fi)
		delOcc = append(delOcc, occ[i])
	}
	if len(del) == 0 {
		return nil
	}
	gone := map[int]bool{}
	for _, i := range del {
		gone[i] = true
	}
	kept := r.msg.fields[:0:0]
	for i, f := range r.msg.fields {
		if !gone[i] {
			kept = append(kept, f)
		}
	}
	r.msg.fields = kept
	r.res.HeaderEdits = append(r.res.HeaderEdits, HeaderEdit{Op: HeaderDelete, Name: name, Occurrences: delOcc})
	return nil
}

// ApplyHeaderEdits rewrites the header section of a raw message (CRLF
// line ends) with the edits of a Result, in order, and returns the new
// message. The body is not touched.
func ApplyHeaderEdits(raw []byte, edits []HeaderEdit) ([]byte, error) {
	if len(edits) == 0 {
		return raw, nil
	}
	end := headerEnd(raw)
	if end < 0 {
		return nil, errors.New("sieve: message has no header section end")
	}
	fields := splitFields(raw[:end])
	for _, e := range edits {
		switch e.Op {
		case HeaderAdd:
			f := rawField{lname: strings.ToLower(e.Name), text: formatField(e.Name, e.Value)}
			if e.Last {
				fields = append(fields, f)
			} else {
				fields = append([]rawField{f}, fields...)
			}
		case HeaderDelete:
			lname := strings.ToLower(e.Name)
			gone := map[int]bool{}
			for _, o := range e.Occurrences {
				gone[o] = true
			}
			kept := fields[:0:0]
			k := 0
			for _, f := range fields {
				if f.lname == lname {
					k++
					if gone[k] {
						continue
					}
				}
				kept = append(kept, f)
			}
			fields = kept
		}
	}
	var b bytes.Buffer
	for _, f := range fields {
		b.WriteString(f.text)
	}
	b.Write(raw[end:])
	return b.Bytes(), nil
}

type rawField struct {
	lname string
	text  string // with its line ends
}

// headerEnd returns the offset of the blank line ending the header
// (the blank line itself stays with the body), or -1.
func headerEnd(raw []byte) int {
	if bytes.HasPrefix(raw, []byte("\r\n")) || bytes.HasPrefix(raw, []byte("\n")) {
		return 0
	}
	i := bytes.Index(raw, []byte("\n\r\n"))
	j := bytes.Index(raw, []byte("\n\n"))
	switch {
	case i >= 0 && (j < 0 || i < j):
		return i + 1
	case j >= 0:
		return j + 1
	}
	return len(raw) // a message that is all header
}

func splitFields(h []byte) []rawField {
	var out []rawField
	s := string(h)
	for s != "" {
		end := strings.IndexByte(s, '\n')
		if end < 0 {
			end = len(s) - 1
		}
		line := s[:end+1]
		s = s[end+1:]
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1].text += line
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		out = append(out, rawField{lname: strings.ToLower(strings.TrimSpace(name)), text: line})
	}
	return out
}

// formatField renders "Name: value\r\n", RFC 2047-encoding a non-ASCII
// value and folding at spaces to keep lines under 78 characters.
func formatField(name, value string) string {
	ascii := true
	for i := 0; i < len(value); i++ {
		if value[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		value = mime.QEncoding.Encode("utf-8", value)
	}
	line := name + ": " + value
	var b strings.Builder
	for len(line) > 78 {
		cut := strings.LastIndexByte(line[:78], ' ')
		if cut <= len(name)+1 {
			break
		}
		b.WriteString(line[:cut])
		b.WriteString("\r\n")
		line = line[cut:]
	}
	b.WriteString(line)
	b.WriteString("\r\n")
	return b.String()
}
