package message

import (
	"bytes"
	"encoding/base64"
)

// Base64BinaryParts rewrites the leaf parts of raw (parsed as root) whose
// body IMAP cannot send in a BODY[] response, because they are declared
// "binary" or hold NUL octets (RFC 9051 §4.3.1 allows unencoded binary
// only in BINARY[] literal8), as base64 with their Content-Transfer-
// Encoding changed to match, as Dovecot does when a message arrives by
// APPEND with a literal8 (RFC 3516). BINARY[] still gives the client the
// original octets. The second result is false when nothing needed it.
func Base64BinaryParts(raw []byte, root *Part) ([]byte, bool) {
	var leaves []*Part
	collectBinaryLeaves(raw, root, &leaves)
	if len(leaves) == 0 {
		return raw, false
	}
	var out bytes.Buffer
	out.Grow(len(raw) + len(raw)/3)
	prev := int64(0)
	for _, p := range leaves {
		out.Write(raw[prev:p.HeaderStart])
		writeHeaderWithCTE(&out, raw[p.HeaderStart:p.BodyStart], "base64")
		writeBase64Lines(&out, raw[p.BodyStart:p.End])
		prev = p.End
	}
	out.Write(raw[prev:])
	return out.Bytes(), true
}

func collectBinaryLeaves(raw []byte, p *Part, out *[]*Part) {
	switch {
	case p.IsMultipart():
		for _, c := range p.Children {
			collectBinaryLeaves(raw, c, out)
		}
	case p.IsMessage():
		collectBinaryLeaves(raw, p.Message, out)
	case p.Encoding == "binary" || bytes.IndexByte(raw[p.BodyStart:p.End], 0) >= 0:
		*out = append(*out, p)
	}
}

// writeHeaderWithCTE copies a header block (with its blank line) without
// its Content-Transfer-Encoding fields, and adds one saying cte.
func writeHeaderWithCTE(out *bytes.Buffer, block []byte, cte string) {
	body, _ := bytes.CutSuffix(block, []byte("\r\n"))
	if len(body) == len(block) {
		body, _ = bytes.CutSuffix(block, []byte("\n"))
	}
	skipping := false
	for line := range bytes.Lines(body) {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if !skipping {
				out.Write(line)
			}
			continue
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		skipping = bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Transfer-Encoding"))
		if !skipping {
			out.Write(line)
			if !bytes.HasSuffix(line, []byte("\n")) {
				out.WriteString("\r\n")
			}
		}
	}
	out.WriteString("Content-Transfer-Encoding: " + cte + "\r\n\r\n")
}

// writeBase64Lines writes b in base64, 76 characters a line (RFC 2045
// §6.8), each line ended by CRLF.
func writeBase64Lines(out *bytes.Buffer, b []byte) {
	const perLine = 57 // octets giving 76 characters
	enc := make([]byte, base64.StdEncoding.EncodedLen(perLine))
	for len(b) > 0 {
		n := min(perLine, len(b))
		m := base64.StdEncoding.EncodedLen(n)
		base64.StdEncoding.Encode(enc[:m], b[:n])
		out.Write(enc[:m])
		out.WriteString("\r\n")
		b = b[n:]
	}
}
