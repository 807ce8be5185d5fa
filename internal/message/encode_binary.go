package message

import (
	"encoding/binary"
	"fmt"
)

// The smallest encodings of each kind of item, which cap the totals in a
// form's header: a total the input is too short to hold is corrupt, so
// what the decoder allocates stays proportional to the input's length.
const (
	minAddressBytes  = 5  // kind and four empty strings
	minParamBytes    = 2  // two empty strings
	minLanguageBytes = 1  // an empty string
	minEnvelopeBytes = 10 // four empty strings and six empty lists
	// eight empty strings, three empty lists, five offsets, the number
	// of children and the flags
	minPartBytes = 18
)

// maxStoredDepth bounds the nesting of parts the decoder follows, so
// that a corrupt form cannot make it recurse deeply. Parse stops at
// Limits.MaxDepth, 20 by default.
const maxStoredDepth = 1000

// Flags of a part's form.
const (
	flagMessage  = 1 << iota // Message follows the children
	flagEnvelope             // Envelope follows
)

// totals counts the items of each kind that a value's form holds.
type totals struct {
	parts, params, langs, children, envs, addrs int
}

func (t *totals) addEnvelope(e *Envelope) {
	for _, as := range storedLists(e) {
		t.addrs += len(as)
	}
}

func (t *totals) addPart(p *Part) {
	t.parts++
	t.params += len(p.Params) + len(p.DispositionParams)
	t.langs += len(p.Language)
	t.children += len(p.Children)
	for _, c := range p.Children {
		t.addPart(c)
	}
	if p.Message != nil {
		t.addPart(p.Message)
	}
	if p.Envelope != nil {
		t.envs++
		t.addEnvelope(p.Envelope)
	}
}

// storedLists returns the address lists of an envelope as they are
// written: Sender and ReplyTo are left out (nil) when equal to From,
// whose value the decoder gives them back (RFC 3501 §7.4.2).
func storedLists(e *Envelope) [6][]Address {
	sender, replyTo := e.Sender, e.ReplyTo
	if sameAddresses(sender, e.From) {
		sender = nil
	}
	if sameAddresses(replyTo, e.From) {
		replyTo = nil
	}
	return [6][]Address{e.From, sender, replyTo, e.To, e.Cc, e.Bcc}
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

// encoder appends a binary form.
type encoder struct{ b []byte }

func (enc *encoder) uvarint(v uint64) { enc.b = binary.AppendUvarint(enc.b, v) }
func (enc *encoder) varint(v int64)   { enc.b = binary.AppendVarint(enc.b, v) }

func (enc *encoder) str(s string) {
	enc.uvarint(uint64(len(s)))
	enc.b = append(enc.b, s...)
}

func (enc *encoder) envelope(e *Envelope) {
	enc.str(e.Date)
	enc.str(e.Subject)
	for _, as := range storedLists(e) {
		enc.uvarint(uint64(len(as)))
		for _, a := range as {
			enc.b = append(enc.b, byte(a.Kind))
			enc.str(a.Name)
			enc.str(a.Adl)
			enc.str(a.Mailbox)
			enc.str(a.Host)
		}
	}
	enc.str(e.InReplyTo)
	enc.str(e.MessageID)
}

func (enc *encoder) params(ps []Param) {
	enc.uvarint(uint64(len(ps)))
	for _, p := range ps {
		enc.str(p.Key)
		enc.str(p.Value)
	}
}

func (enc *encoder) part(p *Part) {
	enc.str(p.Type)
	enc.str(p.Subtype)
	enc.params(p.Params)
	enc.str(p.ID)
	enc.str(p.Description)
	enc.str(p.Encoding)
	enc.str(p.MD5)
	enc.str(p.Disposition)
	enc.params(p.DispositionParams)
	enc.uvarint(uint64(len(p.Language)))
	for _, l := range p.Language {
		enc.str(l)
	}
	enc.str(p.Location)
	// Differences, so that offsets deep into a large message stay short.
	enc.varint(p.HeaderStart)
	enc.varint(p.BodyStart - p.HeaderStart)
	enc.varint(p.End - p.BodyStart)
	enc.varint(p.Size - (p.End - p.BodyStart))
	enc.varint(p.Lines)
	enc.uvarint(uint64(len(p.Children)))
	var flags byte
	if p.Message != nil {
		flags |= flagMessage
	}
	if p.Envelope != nil {
		flags |= flagEnvelope
	}
	enc.b = append(enc.b, flags)
	for _, c := range p.Children {
		enc.part(c)
	}
	if p.Message != nil {
		enc.part(p.Message)
	}
	if p.Envelope != nil {
		enc.envelope(p.Envelope)
	}
}

// decoder reads a binary form. Its first error sticks and moves it to
// the end of the input, so every later read fails at once: the decoding
// functions need not check after each field, and stop soon.
type decoder struct {
	b      []byte // the input
	s      string // one copy of the input, of which decoded strings are slices
	i      int    // the next byte to read
	err    error
	budget int // input bytes not yet claimed by the header's totals

	// Pools of the items not yet decoded, each allocated once from the
	// header's totals.
	addrs    []Address
	parts    []Part
	params   []Param
	langs    []string
	children []*Part
	envs     []Envelope
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", errCorrupt, what, d.i)
	}
	d.i = len(d.b)
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		d.fail("bad integer")
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b[d.i:])
	if n <= 0 {
		d.fail("bad integer")
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) byte() byte {
	if d.i >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	c := d.b[d.i]
	d.i++
	return c
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)-d.i) {
		d.fail("string past the end")
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}

// count reads a number of items that may not exceed limit.
func (d *decoder) count(limit int) int {
	n := d.uvarint()
	if n > uint64(limit) {
		d.fail("count out of range")
		return 0
	}
	return int(n)
}

// total reads a header total of items whose forms take at least minBytes
// each. The totals together may not claim more bytes than the input has,
// which bounds the pools allocated from them by a small multiple of the
// input's length.
func (d *decoder) total(minBytes int) int {
	n := d.count(d.budget / minBytes)
	d.budget -= n * minBytes
	return n
}

// pool allocates n items, none for 0.
func pool[T any](n int) []T {
	if n == 0 {
		return nil
	}
	return make([]T, n)
}

// takeList reads a list's count and cuts that many items off a pool,
// with their capacity capped so that appending to the list cannot
// overwrite the items that follow. An empty list is nil.
func takeList[T any](d *decoder, pool *[]T) []T {
	n := d.count(len(*pool))
	if n == 0 {
		return nil
	}
	s := (*pool)[:n:n]
	*pool = (*pool)[n:]
	return s
}

// takeOne cuts one item off a pool; nil, and an error, when it is empty.
func takeOne[T any](d *decoder, pool *[]T) *T {
	if len(*pool) == 0 {
		d.fail("more items than the header counts")
		return nil
	}
	p := &(*pool)[0]
	*pool = (*pool)[1:]
	return p
}

// finish checks that the form was read to its end and that its items
// used up the header's totals: anything else is corruption.
func (d *decoder) finish() error {
	switch {
	case d.err != nil:
	case d.i != len(d.b):
		d.fail("trailing bytes")
	case len(d.addrs)+len(d.parts)+len(d.params)+len(d.langs)+len(d.children)+len(d.envs) != 0:
		d.fail("fewer items than the header counts")
	}
	return d.err
}

// envelopeAlloc holds an envelope with room for the addresses of a
// typical one, so that decoding it costs two allocations: this and the
// strings.
type envelopeAlloc struct {
	env   Envelope
	addrs [4]Address
}

func decodeEnvelope(b []byte) (*Envelope, error) {
	d := decoder{b: b, i: 1, budget: len(b)}
	a := new(envelopeAlloc)
	if n := d.total(minAddressBytes); n <= len(a.addrs) {
		d.addrs = a.addrs[:n]
	} else {
		d.addrs = make([]Address, n)
	}
	d.s = string(b)
	d.envelope(&a.env)
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("message: decoding envelope: %w", err)
	}
	return &a.env, nil
}

func decodeBody(b []byte) (*Part, error) {
	d := decoder{b: b, i: 1, budget: len(b)}
	nParts := d.total(minPartBytes)
	nParams := d.total(minParamBytes)
	nLangs := d.total(minLanguageBytes)
	nChildren := d.count(nParts) // every child is one of the parts
	nEnvs := d.total(minEnvelopeBytes)
	nAddrs := d.total(minAddressBytes)
	if d.err != nil {
		return nil, fmt.Errorf("message: decoding body structure: %w", d.err)
	}
	d.parts, d.params, d.langs = pool[Part](nParts), pool[Param](nParams), pool[string](nLangs)
	d.children, d.envs, d.addrs = pool[*Part](nChildren), pool[Envelope](nEnvs), pool[Address](nAddrs)
	d.s = string(b)
	root := takeOne(&d, &d.parts)
	if root != nil {
		d.part(root, 0)
	}
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("message: decoding body structure: %w", err)
	}
	return root, nil
}

func (d *decoder) envelope(e *Envelope) {
	e.Date = d.str()
	e.Subject = d.str()
	e.From = d.addresses()
	e.Sender = d.addresses()
	e.ReplyTo = d.addresses()
	e.To = d.addresses()
	e.Cc = d.addresses()
	e.Bcc = d.addresses()
	e.InReplyTo = d.str()
	e.MessageID = d.str()
	// RFC 3501 §7.4.2 defaults, which Marshal relies on to omit them.
	if len(e.Sender) == 0 {
		e.Sender = e.From
	}
	if len(e.ReplyTo) == 0 {
		e.ReplyTo = e.From
	}
}

func (d *decoder) addresses() []Address {
	as := takeList(d, &d.addrs)
	for i := range as {
		a := &as[i]
		a.Kind = AddressKind(d.byte())
		a.Name = d.str()
		a.Adl = d.str()
		a.Mailbox = d.str()
		a.Host = d.str()
	}
	return as
}

func (d *decoder) paramList() []Param {
	ps := takeList(d, &d.params)
	for i := range ps {
		ps[i].Key = d.str()
		ps[i].Value = d.str()
	}
	return ps
}

func (d *decoder) part(p *Part, depth int) {
	if depth > maxStoredDepth {
		d.fail("parts nested too deep")
	}
	if d.err != nil {
		return
	}
	p.Type = d.str()
	p.Subtype = d.str()
	p.Params = d.paramList()
	p.ID = d.str()
	p.Description = d.str()
	p.Encoding = d.str()
	p.MD5 = d.str()
	p.Disposition = d.str()
	p.DispositionParams = d.paramList()
	p.Language = takeList(d, &d.langs)
	for i := range p.Language {
		p.Language[i] = d.str()
	}
	p.Location = d.str()
	p.HeaderStart = d.varint()
	p.BodyStart = p.HeaderStart + d.varint()
	p.End = p.BodyStart + d.varint()
	p.Size = p.End - p.BodyStart + d.varint()
	p.Lines = d.varint()
	p.Children = takeList(d, &d.children)
	flags := d.byte()
	if flags&^(flagMessage|flagEnvelope) != 0 {
		d.fail("unknown part flags")
	}
	d.subparts(p, flags, depth)
}

// subparts decodes what follows a part's own fields: its children, then
// its encapsulated message and envelope as flags says.
func (d *decoder) subparts(p *Part, flags byte, depth int) {
	for i := range p.Children {
		c := takeOne(d, &d.parts)
		if c == nil {
			return
		}
		p.Children[i] = c
		d.part(c, depth+1)
	}
	if flags&flagMessage != 0 {
		if p.Message = takeOne(d, &d.parts); p.Message == nil {
			return
		}
		d.part(p.Message, depth+1)
	}
	if flags&flagEnvelope != 0 {
		if p.Envelope = takeOne(d, &d.envs); p.Envelope == nil {
			return
		}
		d.envelope(p.Envelope)
	}
}
