package message

import "encoding/binary"

// EnvelopeReader reads the binary stored form of an envelope field by
// field, in stored order, without decoding it into an Envelope: a FETCH
// of ten thousand envelopes then renders each straight from the stored
// bytes, with no allocation. It accepts exactly the forms that
// UnmarshalEnvelope decodes from the binary version, so a caller that
// falls back to UnmarshalEnvelope on !OK sees the same envelope either
// way. The byte slices it returns alias the stored form.
//
// Fields come in the order of the form (see encode.go): Date, Subject,
// then the six address lists From, Sender, ReplyTo, To, Cc, Bcc (each a
// ListLen followed by that many Address calls; an empty Sender or
// ReplyTo stands for From), then InReplyTo and MessageID. A copy of the
// reader taken before a list reads it again without disturbing the
// original.
type EnvelopeReader struct {
	b     []byte
	i     int
	addrs int // addresses the header's total still allows
	bad   bool
}

// NewEnvelopeReader starts reading b; ok is false when b is not in the
// current binary version or its header is corrupt.
func NewEnvelopeReader(b []byte) (r EnvelopeReader, ok bool) {
	if len(b) == 0 || b[0] != binaryVersion {
		return r, false
	}
	r = EnvelopeReader{b: b, i: 1}
	n := r.uvarint()
	// As decoder.total: the header may not claim more addresses than the
	// input could hold.
	if n > uint64(len(b)/minAddressBytes) {
		r.bad = true
	}
	r.addrs = int(n)
	return r, !r.bad
}

func (r *EnvelopeReader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.i += n
	return v
}

// Str reads a string field; nil (or empty) when absent.
func (r *EnvelopeReader) Str() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)-r.i) {
		r.bad = true
		return nil
	}
	s := r.b[r.i : r.i+int(n) : r.i+int(n)]
	r.i += int(n)
	return s
}

// ListLen reads the length of an address list.
func (r *EnvelopeReader) ListLen() int {
	n := r.uvarint()
	if n > uint64(r.addrs) {
		r.bad = true
		return 0
	}
	r.addrs -= int(n)
	return int(n)
}

// StoredAddress is one address of a stored envelope, its fields aliasing
// the stored form.
type StoredAddress struct {
	Kind                     AddressKind
	Name, Adl, Mailbox, Host []byte
}

// Address reads one address of the current list.
func (r *EnvelopeReader) Address() StoredAddress {
	var a StoredAddress
	if r.bad || r.i >= len(r.b) {
		r.bad = true
		return a
	}
	a.Kind = AddressKind(r.b[r.i])
	r.i++
	a.Name = r.Str()
	a.Adl = r.Str()
	a.Mailbox = r.Str()
	a.Host = r.Str()
	return a
}

// OK tells, once every field was read, whether the whole form was valid:
// read to its end with the header's address total used up.
func (r *EnvelopeReader) OK() bool {
	return !r.bad && r.i == len(r.b) && r.addrs == 0
}
