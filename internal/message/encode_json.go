package message

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The version 1 stored forms were JSON with short keys and empty fields
// omitted. Marshal no longer writes them, but databases hold them, so
// they are still decoded.

// jsonVersion is the "v" of the version 1 forms.
const jsonVersion = 1

// isJSON tells whether a stored form that starts with c is a JSON one:
// json.Marshal always began it with '{'; whitespace is allowed in case a
// tool rewrote it. No binary version byte is in this set.
func isJSON(c byte) bool {
	return c == '{' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

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

// errNullPart is a JSON form with null where a child part should be.
var errNullPart = errors.New("null part")

func unmarshalEnvelopeJSON(b []byte) (*Envelope, error) {
	var je jsonEnvelope
	if err := json.Unmarshal(b, &je); err != nil {
		return nil, fmt.Errorf("message: decoding envelope: %w", err)
	}
	if je.V != jsonVersion {
		return nil, fmt.Errorf("%w %d", ErrVersion, je.V)
	}
	return envelopeFromJSON(&je), nil
}

func unmarshalBodyJSON(b []byte) (*Part, error) {
	var jp jsonPart
	if err := json.Unmarshal(b, &jp); err != nil {
		return nil, fmt.Errorf("message: decoding body structure: %w", err)
	}
	if jp.V != jsonVersion {
		return nil, fmt.Errorf("%w %d", ErrVersion, jp.V)
	}
	p, err := partFromJSON(&jp)
	if err != nil {
		return nil, fmt.Errorf("message: decoding body structure: %w", err)
	}
	return p, nil
}

func envelopeFromJSON(je *jsonEnvelope) *Envelope {
	e := &Envelope{
		Date: je.Date, Subject: je.Subject,
		From: addrsFromJSON(je.From), Sender: addrsFromJSON(je.Sender),
		ReplyTo: addrsFromJSON(je.ReplyTo), To: addrsFromJSON(je.To),
		Cc: addrsFromJSON(je.Cc), Bcc: addrsFromJSON(je.Bcc),
		InReplyTo: je.InReplyTo, MessageID: je.MessageID,
	}
	// RFC 3501 §7.4.2 defaults, which Marshal relied on to omit them.
	if len(e.Sender) == 0 {
		e.Sender = e.From
	}
	if len(e.ReplyTo) == 0 {
		e.ReplyTo = e.From
	}
	return e
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

// partFromJSON rebuilds a part tree. Its depth is bounded by the nesting
// limit of encoding/json.
func partFromJSON(jp *jsonPart) (*Part, error) {
	p := &Part{
		Type: jp.Type, Subtype: jp.Subtype, Params: paramsFromJSON(jp.Params),
		ID: jp.ID, Description: jp.Description, Encoding: jp.Encoding,
		Size: jp.Size, Lines: jp.Lines, MD5: jp.MD5,
		Disposition: jp.Disposition, DispositionParams: paramsFromJSON(jp.DispParams),
		Location: jp.Location, HeaderStart: jp.Offsets[0], BodyStart: jp.Offsets[1], End: jp.Offsets[2],
	}
	if len(jp.Language) > 0 { // [] as nil, like every other empty list
		p.Language = jp.Language
	}
	if p.Encoding == "" {
		p.Encoding = "7bit"
	}
	for _, jc := range jp.Children {
		if jc == nil {
			return nil, errNullPart
		}
		c, err := partFromJSON(jc)
		if err != nil {
			return nil, err
		}
		p.Children = append(p.Children, c)
	}
	if jp.Message != nil {
		m, err := partFromJSON(jp.Message)
		if err != nil {
			return nil, err
		}
		p.Message = m
	}
	if jp.Envelope != nil {
		p.Envelope = envelopeFromJSON(jp.Envelope)
	}
	return p, nil
}
