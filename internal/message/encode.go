package message

import (
	"errors"
	"fmt"
)

// The stored forms of Envelope and Part are written once, at delivery,
// and read at every FETCH ENVELOPE (through EnvelopeReader, without
// decoding) or BODYSTRUCTURE, SEARCH on an envelope field and SORT, so
// they are built for decoding: a binary
// encoding (version 2) whose decoder makes a handful of allocations
// whatever the size of the value. Its first byte is the version, which
// is below 0x20 and so never the first byte of the JSON forms of
// version 1, which are still decoded (encode_json.go).
//
// Integers are varints of encoding/binary: "u" unsigned, "s" signed
// (zig-zag). A string is u length, then its bytes. A list is u count,
// then its items.
//
//	envelope form  0x02  u addresses   envelope
//	body form      0x02  u parts  u params  u languages  u children
//	                     u envelopes  u addresses   part
//
//	envelope  Date Subject From Sender ReplyTo To Cc Bcc InReplyTo MessageID
//	address   Kind (one byte) Name Adl Mailbox Host
//	param     Key Value
//	part      Type Subtype Params ID Description Encoding MD5 Disposition
//	          DispositionParams Language Location
//	          s HeaderStart  s BodyStart-HeaderStart  s End-BodyStart
//	          s Size-(End-BodyStart)  s Lines
//	          u number of Children  flags (one byte: 1 Message, 2 Envelope)
//	          each child part, then Message part, then Envelope
//
// Sender and Reply-To are written as an empty list when equal to From:
// RFC 3501 §7.4.2 makes From their default, which the decoder restores
// (so an empty Sender beside a non-empty From decodes as From, as Parse
// would have set it). Empty lists decode as nil. Offsets are stored as
// differences, which are small; the arithmetic wraps, so any value
// round-trips. The counts after the version byte are the totals of each
// kind of item in the whole value: the decoder allocates each kind once,
// and refuses a total that the input is too short to hold.

// binaryVersion is the current encoding, the first byte of its forms.
// Keep the versions below 0x20 so they never look like JSON.
const binaryVersion = 2

// ErrVersion is returned for a stored form of an unknown version.
var ErrVersion = errors.New("message: unknown encoding version")

// errCorrupt is returned for a binary form that does not decode.
var errCorrupt = errors.New("corrupt stored form")

// Marshal encodes the envelope for the store.
func (e *Envelope) Marshal() []byte {
	var t totals
	t.addEnvelope(e)
	enc := encoder{b: make([]byte, 0, 128)}
	enc.b = append(enc.b, binaryVersion)
	enc.uvarint(uint64(t.addrs))
	enc.envelope(e)
	return enc.b
}

// UnmarshalEnvelope decodes what Marshal produced, in any version still
// supported. The strings of the result share one allocation.
func UnmarshalEnvelope(b []byte) (*Envelope, error) {
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("message: decoding envelope: %w: empty", errCorrupt)
	case b[0] == binaryVersion:
		return decodeEnvelope(b)
	case isJSON(b[0]):
		return unmarshalEnvelopeJSON(b)
	}
	return nil, fmt.Errorf("%w %d", ErrVersion, b[0])
}

// Marshal encodes the body structure, with every part's offsets, for the store.
func (p *Part) Marshal() []byte {
	var t totals
	t.addPart(p)
	enc := encoder{b: make([]byte, 0, 64+32*t.parts)}
	enc.b = append(enc.b, binaryVersion)
	for _, n := range []int{t.parts, t.params, t.langs, t.children, t.envs, t.addrs} {
		enc.uvarint(uint64(n))
	}
	enc.part(p)
	return enc.b
}

// UnmarshalBody decodes what (*Part).Marshal produced, in any version
// still supported. The parts of the tree share one allocation, as do
// its strings.
func UnmarshalBody(b []byte) (*Part, error) {
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("message: decoding body structure: %w: empty", errCorrupt)
	case b[0] == binaryVersion:
		return decodeBody(b)
	case isJSON(b[0]):
		return unmarshalBodyJSON(b)
	}
	return nil, fmt.Errorf("%w %d", ErrVersion, b[0])
}
