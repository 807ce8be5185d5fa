package message

import (
	"encoding/json"
	"errors"
	"fmt"
)

// encodingVersion is the version of the stored forms of Envelope and
// Part. Bump it when the format changes incompatibly, and keep decoding
// the older versions that databases still hold.
const encodingVersion = 1

// ErrVersion is returned for a stored form of an unknown version.
var ErrVersion = errors.New("message: unknown encoding version")

// The stored forms are JSON with short keys and empty fields omitted, so
// the common case (a plain text message) stays around a hundred bytes.

type jsonAddress struct {
	Name    string      `json:"n,omitempty"`
	Adl     string      `json:"a,omitempty"`
	Mailbox string      `json:"m,omitempty"`
	Host    string      `json:"h,omitempty"`
	Kind    AddressKind `json:"k,omitempty"`
}

type jsonEnvelope struct {
	V         int           `json:"v,omitempty"`
	Date      string        `json:"d,omitempty"`
	Subject   string        `json:"s,omitempty"`
	From      []jsonAddress `json:"f,omitempty"`
	Sender    []jsonAddress `json:"sn,omitempty"` // omitted when equal to From
	ReplyTo   []jsonAddress `json:"rt,omitempty"` // omitted when equal to From
	To        []jsonAddress `json:"t,omitempty"`
	Cc        []jsonAddress `json:"c,omitempty"`
	Bcc       []jsonAddress `json:"b,omitempty"`
	InReplyTo string        `json:"i,omitempty"`
	MessageID string        `json:"m,omitempty"`
}

type jsonPart struct {
	V           int           `json:"v,omitempty"` // only on the root
	Type        string        `json:"t,omitempty"`
	Subtype     string        `json:"st,omitempty"`
	Params      [][2]string   `json:"p,omitempty"`
	ID          string        `json:"id,omitempty"`
	Description string        `json:"ds,omitempty"`
	Encoding    string        `json:"e,omitempty"` // omitted for 7bit
	Size        int64         `json:"sz,omitempty"`
	Lines       int64         `json:"l,omitempty"`
	MD5         string        `json:"md5,omitempty"`
	Disposition string        `json:"d,omitempty"`
	DispParams  [][2]string   `json:"dp,omitempty"`
	Language    []string      `json:"lg,omitempty"`
	Location    string        `json:"lc,omitempty"`
	Children    []*jsonPart   `json:"c,omitempty"`
	Message     *jsonPart     `json:"m,omitempty"`
	Envelope    *jsonEnvelope `json:"env,omitempty"`
	Offsets     [3]int64      `json:"o"` // HeaderStart, BodyStart, End
}

// Marshal encodes the envelope for the store.
func (e *Envelope) Marshal() []byte {
	je := envelopeToJSON(e)
	je.V = encodingVersion
	b, err := json.Marshal(je)
	if err != nil {
		panic(fmt.Sprintf("message: encoding envelope: %v", err)) // plain data cannot fail
	}
	return b
}

// UnmarshalEnvelope decodes what Marshal produced.
func UnmarshalEnvelope(b []byte) (*Envelope, error) {
	var je jsonEnvelope
	if err := json.Unmarshal(b, &je); err != nil {
		return nil, fmt.Errorf("message: decoding envelope: %w", err)
	}
	if je.V != encodingVersion {
		return nil, fmt.Errorf("%w %d", ErrVersion, je.V)
	}
	return envelopeFromJSON(&je), nil
}

// Marshal encodes the body structure, with every part's offsets, for the store.
func (p *Part) Marshal() []byte {
	jp := partToJSON(p)
	jp.V = encodingVersion
	b, err := json.Marshal(jp)
	if err != nil {
		panic(fmt.Sprintf("message: encoding body structure: %v", err))
	}
	return b
}

// UnmarshalBody decodes what (*Part).Marshal produced.
func UnmarshalBody(b []byte) (*Part, error) {
	var jp jsonPart
	if err := json.Unmarshal(b, &jp); err != nil {
		return nil, fmt.Errorf("message: decoding body structure: %w", err)
	}
	if jp.V != encodingVersion {
		return nil, fmt.Errorf("%w %d", ErrVersion, jp.V)
	}
	return partFromJSON(&jp), nil
}

func envelopeToJSON(e *Envelope) *jsonEnvelope {
	je := &jsonEnvelope{
		Date: e.Date, Subject: e.Subject,
		From: addrsToJSON(e.From), To: addrsToJSON(e.To),
		Cc: addrsToJSON(e.Cc), Bcc: addrsToJSON(e.Bcc),
		InReplyTo: e.InReplyTo, MessageID: e.MessageID,
	}
	if !sameAddresses(e.Sender, e.From) {
		je.Sender = addrsToJSON(e.Sender)
	}
	if !sameAddresses(e.ReplyTo, e.From) {
		je.ReplyTo = addrsToJSON(e.ReplyTo)
	}
	return je
}

func envelopeFromJSON(je *jsonEnvelope) *Envelope {
	e := &Envelope{
		Date: je.Date, Subject: je.Subject,
		From: addrsFromJSON(je.From), Sender: addrsFromJSON(je.Sender),
		ReplyTo: addrsFromJSON(je.ReplyTo), To: addrsFromJSON(je.To),
		Cc: addrsFromJSON(je.Cc), Bcc: addrsFromJSON(je.Bcc),
		InReplyTo: je.InReplyTo, MessageID: je.MessageID,
	}
	// RFC 3501 §7.4.2 defaults, which Marshal relies on to omit them.
	if len(e.Sender) == 0 {
		e.Sender = e.From
	}
	if len(e.ReplyTo) == 0 {
		e.ReplyTo = e.From
	}
	return e
}

func sameAddresses(a, b []Address) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func addrsToJSON(as []Address) []jsonAddress {
	if len(as) == 0 {
		return nil
	}
	out := make([]jsonAddress, len(as))
	for i, a := range as {
		out[i] = jsonAddress(a)
	}
	return out
}

func addrsFromJSON(as []jsonAddress) []Address {
	if len(as) == 0 {
		return nil
	}
	out := make([]Address, len(as))
	for i, a := range as {
		out[i] = Address(a)
	}
	return out
}

func paramsToJSON(ps []Param) [][2]string {
	if len(ps) == 0 {
		return nil
	}
	out := make([][2]string, len(ps))
	for i, p := range ps {
		out[i] = [2]string{p.Key, p.Value}
	}
	return out
}

func paramsFromJSON(ps [][2]string) []Param {
	if len(ps) == 0 {
		return nil
	}
	out := make([]Param, len(ps))
	for i, p := range ps {
		out[i] = Param{Key: p[0], Value: p[1]}
	}
	return out
}

func partToJSON(p *Part) *jsonPart {
	jp := &jsonPart{
		Type: p.Type, Subtype: p.Subtype, Params: paramsToJSON(p.Params),
		ID: p.ID, Description: p.Description, Size: p.Size, Lines: p.Lines,
		MD5: p.MD5, Disposition: p.Disposition, DispParams: paramsToJSON(p.DispositionParams),
		Language: p.Language, Location: p.Location,
		Offsets: [3]int64{p.HeaderStart, p.BodyStart, p.End},
	}
	if p.Encoding != "7bit" {
		jp.Encoding = p.Encoding
	}
	for _, c := range p.Children {
		jp.Children = append(jp.Children, partToJSON(c))
	}
	if p.Message != nil {
		jp.Message = partToJSON(p.Message)
	}
	if p.Envelope != nil {
		jp.Envelope = envelopeToJSON(p.Envelope)
	}
	return jp
}

func partFromJSON(jp *jsonPart) *Part {
	p := &Part{
		Type: jp.Type, Subtype: jp.Subtype, Params: paramsFromJSON(jp.Params),
		ID: jp.ID, Description: jp.Description, Encoding: jp.Encoding,
		Size: jp.Size, Lines: jp.Lines, MD5: jp.MD5,
		Disposition: jp.Disposition, DispositionParams: paramsFromJSON(jp.DispParams),
		Language: jp.Language, Location: jp.Location,
		HeaderStart: jp.Offsets[0], BodyStart: jp.Offsets[1], End: jp.Offsets[2],
	}
	if p.Encoding == "" {
		p.Encoding = "7bit"
	}
	for _, c := range jp.Children {
		p.Children = append(p.Children, partFromJSON(c))
	}
	if jp.Message != nil {
		p.Message = partFromJSON(jp.Message)
	}
	if jp.Envelope != nil {
		p.Envelope = envelopeFromJSON(jp.Envelope)
	}
	return p
}
