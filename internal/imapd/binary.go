package imapd

import (
	"bytes"
	"errors"

	"postern/internal/message"
	"postern/internal/store"
)

// errUnknownCTE answers BINARY for an encoding we cannot undo
// (RFC 3516 §4.3: NO [UNKNOWN-CTE]).
var errUnknownCTE = errors.New("unknown content-transfer-encoding")

// binaryPart returns the decoded content of a leaf part (RFC 3516).
func binaryPart(raw []byte, root *message.Part, path []int) ([]byte, error) {
	if len(path) == 0 {
		return raw, nil // the whole message, which has no transfer encoding
	}
	part := root.Find(path)
	if part == nil {
		return nil, nil
	}
	body := clip(raw, part.BodyStart, part.End)
	if part.IsMultipart() {
		// A multipart's transfer encoding can only be an identity one
		// (RFC 2045 §6.4): its body is its content, the parts with their
		// own encodings.
		return body, nil
	}
	return decodeTransfer(body, part.Encoding)
}

func (f *fetcher) writeBinary(m store.Message, it fetchItem) error {
	raw, err := f.body(m)
	if err != nil {
		return err
	}
	root, err := f.structure(m)
	if err != nil {
		return err
	}
	data, err := binaryPart(raw, root, it.section.part)
	if err != nil {
		return err
	}
	w := &f.s.w
	f.begin()
	sec := section{part: it.section.part}.String()
	if it.name == "BINARY.SIZE" {
		w.str("BINARY.SIZE[" + sec + "] ")
		w.num(uint64(len(data)))
		return nil
	}
	w.str("BINARY[" + sec + "]")
	if it.partial {
		w.byte('<')
		w.num(uint64(it.start))
		w.byte('>')
		data = partial(data, it.start, it.count)
	}
	w.byte(' ')
	if bytes.IndexByte(data, 0) >= 0 {
		w.byte('~') // literal8, RFC 3516 §4.2
	}
	w.literal(data)
	return nil
}
