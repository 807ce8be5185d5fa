package deliver

import (
	"bytes"
	"errors"
	"strings"
)

// Limits of the header parser. The header block itself is bounded by the
// caller (smtpd's checkedReader, JMAP's size limit).
const maxHeaderFields = 1000

var (
	errHeaderSyntax = errors.New("malformed header field")
	errTooManyField = errors.New("too many header fields")
)

// HeaderField is one field of a message header, as received: Raw holds
// the name, the colon, the value with its folding, and the final CRLF.
type HeaderField struct {
	Name string
	Raw  []byte
}

// Value is the unfolded value (RFC 5322 §2.2.3), trimmed.
func (f HeaderField) Value() string {
	_, v, _ := bytes.Cut(f.Raw, []byte(":"))
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	return strings.TrimSpace(string(v))
}

// SplitHeader cuts msg (CRLF line ends) into its header fields and the
// rest: the empty line and the body. A message whose first line is not a
// field has no header; a later line that is neither a field nor a
// continuation is refused, and so are more than 1000 fields.
func SplitHeader(msg []byte) ([]HeaderField, []byte, error) {
	var fields []HeaderField
	start := -1 // offset in msg of the current field
	pos := 0
	for pos < len(msg) {
		rest := msg[pos:]
		if bytes.HasPrefix(rest, []byte("\r\n")) {
			break
		}
		n := len(rest)
		if end := bytes.Index(rest, []byte("\r\n")); end >= 0 {
			n = end + 2
		}
		if rest[0] == ' ' || rest[0] == '\t' {
			if start < 0 {
				return nil, msg, nil
			}
			pos += n
			fields[len(fields)-1].Raw = msg[start:pos]
			continue
		}
		name, ok := fieldName(rest[:n])
		switch {
		case !ok && start < 0:
			return nil, msg, nil
		case !ok:
			return nil, nil, errHeaderSyntax
		case len(fields) == maxHeaderFields:
			return nil, nil, errTooManyField
		}
		start = pos
		pos += n
		fields = append(fields, HeaderField{Name: name, Raw: msg[start:pos]})
	}
	return fields, msg[pos:], nil
}

// fieldName returns the name of a field line: printable ASCII but the colon
// (RFC 5322 §2.2), then a colon.
func fieldName(line []byte) (string, bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return "", false
	}
	for _, c := range line[:i] {
		if c < 33 || c > 126 {
			return "", false
		}
	}
	return string(line[:i]), true
}

// FieldsNamed returns the fields named name (case-insensitive).
func FieldsNamed(fields []HeaderField, name string) []HeaderField {
	var out []HeaderField
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	return out
}
