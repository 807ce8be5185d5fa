package imapd

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"slices"
	"strings"

	"postern/internal/message"
)

// binary returns the URL's part decoded for URLFETCH BINARY (RFC 5524
// §3): a leaf without its transfer encoding; a multipart or an
// encapsulated message with every leaf inside decoded and labelled
// "Content-Transfer-Encoding: binary", so a submission server can send it
// as BINARYMIME.
func (t *urlTarget) binary() ([]byte, error) {
	if t.sec.spec != "" {
		return nil, errUnknownCTE // BINARY names MIME parts, not header or text sections
	}
	part := t.part()
	var data []byte
	switch {
	case part.Message != nil:
		data = binaryMIME(t.raw, part.Message, part.BodyStart, part.End)
	case part.IsMultipart() || len(t.sec.part) == 0:
		from, to := part.BodyStart, part.End
		if len(t.sec.part) == 0 {
			from = part.HeaderStart
		}
		data = binaryMIME(t.raw, part, from, to)
	default:
		var err error
		if data, err = decodeTransfer(clip(t.raw, part.BodyStart, part.End), part.Encoding); err != nil {
			return nil, err
		}
	}
	return t.clipPartial(data), nil
}

// binaryStructure describes data, the part's decoded octets from binary,
// keeping the encodings of the stored part.
func (t *urlTarget) binaryStructure(data []byte) *message.Part {
	orig := t.part()
	if t.url.partial {
		return orig // a slice of the octets has no structure of its own
	}
	switch {
	case orig.Message != nil:
		parsed, err := message.Parse(bytes.NewReader(data), message.DefaultLimits())
		if err != nil {
			return orig
		}
		cp := *orig
		cp.Size, cp.Lines = int64(len(data)), int64(bytes.Count(data, []byte("\n")))
		cp.Message = parsed.Body
		keepEncodings(cp.Message, orig.Message, data, 0)
		return &cp
	case len(t.sec.part) == 0:
		parsed, err := message.Parse(bytes.NewReader(data), message.DefaultLimits())
		if err != nil {
			return orig
		}
		keepEncodings(parsed.Body, orig, data, 0)
		return parsed.Body
	case orig.IsMultipart():
		return orig
	}
	cp := *orig
	cp.Size, cp.Lines = int64(len(data)), int64(bytes.Count(data, []byte("\n")))
	return &cp
}

// keepEncodings copies the transfer encodings of old onto the same parts
// of a tree parsed again from decoded octets, data. A decoded body need not
// end with a line break: its lines are its line breaks, as for the size
// of a body part.
func keepEncodings(p, old *message.Part, data []byte, depth int) {
	if p == nil || old == nil || depth > 2*maxListDepth {
		return
	}
	p.Encoding = old.Encoding
	if !p.IsMultipart() && p.Message == nil {
		p.Lines = int64(bytes.Count(clip(data, p.BodyStart, p.End), []byte("\n")))
	}
	if len(p.Children) == len(old.Children) {
		for i := range p.Children {
			keepEncodings(p.Children[i], old.Children[i], data, depth+1)
		}
	}
	keepEncodings(p.Message, old.Message, data, depth+1)
}

// splice replaces raw[from:to] with with.
type splice struct {
	from, to int64
	with     []byte
}

// binaryMIME returns raw[from:to] with the leaves of the tree under p
// decoded: their bodies replaced by their content and their
// Content-Transfer-Encoding fields by "binary". A leaf that cannot be
// decoded is kept as it is.
func binaryMIME(raw []byte, p *message.Part, from, to int64) []byte {
	var edits []splice
	var walk func(q *message.Part, depth int)
	walk = func(q *message.Part, depth int) {
		if q == nil || depth > 2*maxListDepth {
			return
		}
		switch {
		case q.IsMultipart():
			for _, c := range q.Children {
				walk(c, depth+1)
			}
			return
		case q.Message != nil:
			walk(q.Message, depth+1)
			return
		}
		enc := strings.ToLower(q.Encoding)
		if enc != "base64" && enc != "quoted-printable" {
			return
		}
		content, err := decodeTransfer(clip(raw, q.BodyStart, q.End), enc)
		if err != nil {
			return
		}
		if f, t, ok := fieldSpan(raw, q.HeaderStart, q.BodyStart, "Content-Transfer-Encoding"); ok {
			edits = append(edits, splice{f, t, []byte("Content-Transfer-Encoding: binary\r\n")})
		}
		edits = append(edits, splice{q.BodyStart, q.End, content})
	}
	walk(p, 0)
	slices.SortFunc(edits, func(a, b splice) int { return int(a.from - b.from) })
	var out bytes.Buffer
	at := from
	for _, e := range edits {
		if e.from < at || e.to > to {
			continue
		}
		out.Write(clip(raw, at, e.from))
		out.Write(e.with)
		at = e.to
	}
	out.Write(clip(raw, at, to))
	return out.Bytes()
}

// fieldSpan finds the header field name (with its folded lines) in
// raw[from:to] and returns its offsets.
func fieldSpan(raw []byte, from, to int64, name string) (int64, int64, bool) {
	hdr := clip(raw, from, to)
	for i := 0; i < len(hdr); {
		end := bytes.IndexByte(hdr[i:], '\n')
		if end < 0 {
			return 0, 0, false
		}
		end += i + 1
		for end < len(hdr) && (hdr[end] == ' ' || hdr[end] == '\t') {
			next := bytes.IndexByte(hdr[end:], '\n')
			if next < 0 {
				end = len(hdr)
				break
			}
			end += next + 1
		}
		line := hdr[i:end]
		if len(line) > len(name) && line[len(name)] == ':' && strings.EqualFold(string(line[:len(name)]), name) {
			return from + int64(i), from + int64(end), true
		}
		i = end
	}
	return 0, 0, false
}

// decodeTransfer undoes a content transfer encoding (RFC 2045 §6).
func decodeTransfer(body []byte, encoding string) ([]byte, error) {
	switch strings.ToLower(encoding) {
	case "", "7bit", "8bit", "binary":
		return body, nil
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		clean = bytes.TrimRight(clean, "=")
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, err := base64.RawStdEncoding.Decode(out, clean)
		if err != nil {
			return nil, errUnknownCTE
		}
		return out[:n], nil
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return nil, errUnknownCTE
		}
		return out, nil
	}
	return nil, errUnknownCTE
}
