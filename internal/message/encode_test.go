package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// roundTrip checks that the stored forms of an envelope and a body
// structure decode to values deeply equal to them, and that encoding
// those again gives the same bytes.
func roundTrip(t *testing.T, name string, env *Envelope, body *Part) {
	t.Helper()
	if env != nil {
		enc := env.Marshal()
		if enc[0] != binaryVersion {
			t.Fatalf("%s: envelope form starts with %#x", name, enc[0])
		}
		got, err := UnmarshalEnvelope(enc)
		if err != nil {
			t.Fatalf("%s: envelope: %v", name, err)
		}
		if !reflect.DeepEqual(got, env) {
			t.Errorf("%s: envelope:\n got %#v\nwant %#v", name, got, env)
		}
		if again := got.Marshal(); !bytes.Equal(again, enc) {
			t.Errorf("%s: envelope encodes differently after a round trip", name)
		}
	}
	if body != nil {
		enc := body.Marshal()
		got, err := UnmarshalBody(enc)
		if err != nil {
			t.Fatalf("%s: body: %v", name, err)
		}
		if !reflect.DeepEqual(got, body) {
			t.Errorf("%s: body:\n got %#v\nwant %#v", name, got, body)
		}
		if again := got.Marshal(); !bytes.Equal(again, enc) {
			t.Errorf("%s: body encodes differently after a round trip", name)
		}
	}
}

func TestStoredFormRoundTripCorpus(t *testing.T) {
	c := encodeCorpus()
	for _, name := range corpusNames(c) {
		p := parse(t, c[name])
		roundTrip(t, name, p.Envelope, p.Body)
	}
}

// Values Parse does not produce still round-trip field for field; only
// the RFC 3501 default of Sender and Reply-To is applied.
func TestStoredFormRoundTripOddValues(t *testing.T) {
	from := []Address{{Name: "A", Mailbox: "a", Host: "h"}}
	env := &Envelope{
		Date: "x", From: from, Sender: from, ReplyTo: []Address{{Kind: 7, Name: "\xff\x00"}},
		To:        []Address{{Kind: GroupStart, Mailbox: "g"}, {Host: ""}, {Kind: GroupEnd}},
		InReplyTo: strings.Repeat("<r@x> ", 100),
	}
	roundTrip(t, "odd envelope", env, nil)

	leaf := &Part{Type: "", Encoding: "", Language: []string{"", "en"},
		Params: []Param{{"", ""}, {"k", ""}}, HeaderStart: math.MaxInt64, BodyStart: math.MinInt64,
		End: -1, Size: 12345678901, Lines: math.MinInt64}
	msg := &Part{Type: "message", Subtype: "rfc822", Encoding: "7bit", Message: leaf}
	envOnly := &Part{Type: "message", Subtype: "global", Envelope: env}
	root := &Part{Type: "multipart", Subtype: "mixed", Children: []*Part{msg, envOnly, {Encoding: "binary"}}}
	roundTrip(t, "odd body", nil, root)

	// A Sender left empty beside a From takes From's value, as Parse
	// would have given it (RFC 3501 §7.4.2); so does Reply-To.
	got, err := UnmarshalEnvelope((&Envelope{From: from}).Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if want := (&Envelope{From: from, Sender: from, ReplyTo: from}); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults: got %#v", got)
	}
}

// randValues builds envelopes and part trees from a seeded source, in
// the canonical form that decoding gives: empty lists nil, Sender and
// ReplyTo never empty beside a non-empty From.
type randValues struct{ r *rand.Rand }

func (g randValues) str() string {
	switch g.r.IntN(6) {
	case 0, 1:
		return ""
	case 2:
		return "Grüße =?UTF-8?Q?x?="
	case 3:
		return strings.Repeat("long ", 30+g.r.IntN(30))
	case 4:
		return "\xff\x00\r\n"
	}
	return "text/plain"[:g.r.IntN(11)]
}

func (g randValues) int() int64 {
	return []int64{0, 1, 127, 128, -1, 1 << 40, math.MaxInt64, math.MinInt64}[g.r.IntN(8)] + int64(g.r.IntN(3))
}

func (g randValues) addresses() []Address {
	n := []int{0, 0, 1, 2, 3, 5, 140}[g.r.IntN(7)]
	if n == 0 {
		return nil
	}
	as := make([]Address, n)
	for i := range as {
		as[i] = Address{Name: g.str(), Adl: g.str(), Mailbox: g.str(), Host: g.str(), Kind: AddressKind(g.r.IntN(4))}
	}
	return as
}

func (g randValues) envelope() *Envelope {
	e := &Envelope{Date: g.str(), Subject: g.str(), From: g.addresses(), To: g.addresses(),
		Cc: g.addresses(), Bcc: g.addresses(), InReplyTo: g.str(), MessageID: g.str()}
	e.Sender, e.ReplyTo = g.addresses(), g.addresses()
	if len(e.Sender) == 0 {
		e.Sender = e.From
	}
	if len(e.ReplyTo) == 0 {
		e.ReplyTo = e.From
	}
	return e
}

func (g randValues) params() []Param {
	var ps []Param
	for range g.r.IntN(4) {
		ps = append(ps, Param{g.str(), g.str()})
	}
	return ps
}

func (g randValues) part(depth int) *Part {
	p := &Part{Type: g.str(), Subtype: g.str(), Params: g.params(), ID: g.str(), Description: g.str(),
		Encoding: g.str(), Size: g.int(), Lines: g.int(), MD5: g.str(), Disposition: g.str(),
		DispositionParams: g.params(), Location: g.str(),
		HeaderStart: g.int(), BodyStart: g.int(), End: g.int()}
	for range g.r.IntN(3) {
		p.Language = append(p.Language, g.str())
	}
	// Fewer children deeper down, to keep trees to a few dozen parts.
	for range g.r.IntN(max(4-depth, 1)) {
		if depth < 4 {
			p.Children = append(p.Children, g.part(depth+1))
		}
	}
	if depth < 6 && g.r.IntN(4) == 0 {
		p.Message = g.part(depth + 1)
	}
	if g.r.IntN(4) == 0 {
		p.Envelope = g.envelope()
	}
	return p
}

func TestStoredFormRoundTripRandom(t *testing.T) {
	g := randValues{rand.New(rand.NewPCG(1, 2))}
	n := 500
	if testing.Short() {
		n = 50
	}
	for range n {
		roundTrip(t, "random", g.envelope(), g.part(0))
		if t.Failed() {
			return
		}
	}
}

// Decoded values must not share memory with the input, which the store
// may reuse for the next row.
func TestDecodedValuesOwnTheirBytes(t *testing.T) {
	p := parse(t, encodeCorpus()["mixed"])
	envForm, bodyForm := p.Envelope.Marshal(), p.Body.Marshal()
	env, err := UnmarshalEnvelope(envForm)
	if err != nil {
		t.Fatal(err)
	}
	body, err := UnmarshalBody(bodyForm)
	if err != nil {
		t.Fatal(err)
	}
	clear(envForm)
	clear(bodyForm)
	if !reflect.DeepEqual(env, p.Envelope) || !reflect.DeepEqual(body, p.Body) {
		t.Error("decoded values changed with their input")
	}
}

// Lists decoded from shared pools have their capacity capped: appending
// to one must not write over the next.
func TestDecodedListsAppendSafely(t *testing.T) {
	p := parse(t, encodeCorpus()["groups"])
	env, err := UnmarshalEnvelope(p.Envelope.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	_ = append(env.From, Address{Name: "intruder"})
	_ = append(env.ReplyTo, Address{Name: "intruder"})
	if !reflect.DeepEqual(env, p.Envelope) {
		t.Error("append to a decoded list overwrote another")
	}
}

func TestStoredFormErrors(t *testing.T) {
	for _, tc := range []struct {
		name, form string
		want       error
	}{
		{"empty", "", errCorrupt},
		{"unknown version", "\x03\x00", ErrVersion},
		{"not json", "not json", ErrVersion},
		{"json version", `{"v":99}`, ErrVersion},
		{"json without version", `{"s":"no version"}`, ErrVersion},
		{"version only", "\x02", errCorrupt},
	} {
		if _, err := UnmarshalEnvelope([]byte(tc.form)); !errors.Is(err, tc.want) {
			t.Errorf("envelope %s: %v", tc.name, err)
		}
		if _, err := UnmarshalBody([]byte(tc.form)); !errors.Is(err, tc.want) {
			t.Errorf("body %s: %v", tc.name, err)
		}
	}
	// A null child in a version 1 form once made the decoder panic.
	if _, err := UnmarshalBody([]byte(`{"v":1,"t":"multipart","c":[null]}`)); err == nil {
		t.Error("null child accepted")
	}
}

// Every truncation, every extension and every single-byte change of a
// valid form either fails or decodes to a value that round-trips; none
// panics. A truncated or extended form never decodes as its own kind.
func TestCorruptFormsFailCleanly(t *testing.T) {
	c := encodeCorpus()
	for _, name := range []string{"attachments", "groups", "rfc822-in-rfc822"} {
		p := parse(t, c[name])
		for _, form := range [][]byte{p.Envelope.Marshal(), p.Body.Marshal()} {
			isEnv := looksLikeEnvelope(form)
			for i := range form {
				for _, damaged := range [][]byte{form[:i], append(bytes.Clone(form), form[i:]...)} {
					if envOK, bodyOK := decodeDamaged(t, damaged); (isEnv && envOK) || (!isEnv && bodyOK) {
						t.Errorf("%s: damaged form %q decoded", name, damaged)
					}
				}
				for _, v := range []byte{0, 1, 0x7f, 0x80, 0xff, form[i] ^ 1} {
					m := bytes.Clone(form)
					m[i] = v
					decodeDamaged(t, m)
				}
			}
		}
	}
}

// decodeDamaged decodes a damaged form as both kinds: neither may panic,
// and what decodes must round-trip. It tells which decoded.
func decodeDamaged(t *testing.T, form []byte) (envOK, bodyOK bool) {
	t.Helper()
	if env, err := UnmarshalEnvelope(form); err == nil {
		envOK = true
		roundTrip(t, "damaged envelope", env, nil)
	}
	if body, err := UnmarshalBody(form); err == nil {
		bodyOK = true
		roundTrip(t, "damaged body", nil, body)
	}
	return envOK, bodyOK
}

func looksLikeEnvelope(form []byte) bool {
	_, err := UnmarshalEnvelope(form)
	return err == nil
}

// formHeader is the start of a binary form: the version and the totals.
func formHeader(totals ...uint64) []byte {
	b := []byte{binaryVersion}
	for _, n := range totals {
		b = binary.AppendUvarint(b, n)
	}
	return b
}

// pad appends n zero bytes: empty strings, empty lists and zeros.
func pad(b []byte, n int) []byte { return append(b, make([]byte, n)...) }

func TestHostileFormsAreRefused(t *testing.T) {
	bigString := binary.AppendUvarint(pad(formHeader(0), 1), 1<<40)
	overflow := append(pad(formHeader(0), 1), "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"...)
	for _, tc := range []struct {
		name string
		form []byte
	}{
		{"more addresses than the input holds", pad(formHeader(1<<62), 100)},
		{"addresses claimed but absent", pad(formHeader(3), 10)},
		{"a string longer than the input", bigString},
		{"a varint that overflows", overflow},
		{"trailing bytes", pad(formHeader(0), 11)},
		{"truncated", pad(formHeader(0), 9)},
	} {
		if _, err := UnmarshalEnvelope(tc.form); !errors.Is(err, errCorrupt) {
			t.Errorf("envelope with %s: %v", tc.name, err)
		}
	}
	if _, err := UnmarshalEnvelope(pad(formHeader(0), 10)); err != nil {
		t.Errorf("empty envelope: %v", err)
	}
	for _, tc := range []struct {
		name string
		form []byte
	}{
		{"more parts than the input holds", pad(formHeader(1<<40, 0, 0, 0, 0, 0), 100)},
		{"more children than parts", pad(formHeader(1, 0, 0, 2, 0, 0), 18)},
		{"no root", formHeader(0, 0, 0, 0, 0, 0)},
		{"parts claimed but absent", pad(formHeader(2, 0, 0, 0, 0, 0), 36)},
		{"unknown flags", append(pad(formHeader(1, 0, 0, 0, 0, 0), 17), 4)},
		{"an envelope flagged but absent", append(pad(formHeader(1, 0, 0, 0, 0, 0), 17), flagEnvelope)},
		{"a child counted but absent", pad(formHeader(1, 0, 0, 1, 0, 0), 18)},
	} {
		if _, err := UnmarshalBody(tc.form); !errors.Is(err, errCorrupt) {
			t.Errorf("body with %s: %v", tc.name, err)
		}
	}
	if _, err := UnmarshalBody(pad(formHeader(1, 0, 0, 0, 0, 0), 18)); err != nil {
		t.Errorf("one empty part: %v", err)
	}
}

// nestedForm is a body form of depth+1 parts each the only child of the
// one before.
func nestedForm(depth int) []byte {
	root := &Part{Type: "text"}
	for range depth {
		root = &Part{Type: "multipart", Children: []*Part{root}}
	}
	return root.Marshal()
}

func TestDeepNestingIsRefused(t *testing.T) {
	if _, err := UnmarshalBody(nestedForm(maxStoredDepth)); err != nil {
		t.Errorf("depth %d: %v", maxStoredDepth, err)
	}
	if _, err := UnmarshalBody(nestedForm(maxStoredDepth + 1)); !errors.Is(err, errCorrupt) {
		t.Errorf("depth %d: %v", maxStoredDepth+1, err)
	}
}

// A form whose header claims as many items as its length allows makes
// the decoder allocate no more than a small multiple of that length.
func TestDecodeMemoryBounded(t *testing.T) {
	const n = 1 << 16
	for _, tc := range []struct {
		name   string
		header []byte
		decode func([]byte) error
	}{
		{"addresses", formHeader(n / minAddressBytes), decodeEnvelopeErr},
		{"parts", formHeader(n/minPartBytes, 0, 0, 0, 0, 0), decodeBodyErr},
		{"params", formHeader(0, n/minParamBytes, 0, 0, 0, 0), decodeBodyErr},
		{"languages", formHeader(0, 0, n/minLanguageBytes, 0, 0, 0), decodeBodyErr},
		{"envelopes", formHeader(0, 0, 0, 0, n/minEnvelopeBytes, 0), decodeBodyErr},
		{"mixed", formHeader(n/minPartBytes/2, 0, 0, n/minPartBytes/2, n/minEnvelopeBytes/2, 0), decodeBodyErr},
	} {
		form := pad(tc.header, n-len(tc.header))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := tc.decode(form)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: decoded", tc.name)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 24*n {
			t.Errorf("%s: decoding %d bytes allocated %d", tc.name, n, got)
		}
	}
}

func decodeEnvelopeErr(b []byte) error { _, err := UnmarshalEnvelope(b); return err }
func decodeBodyErr(b []byte) error     { _, err := UnmarshalBody(b); return err }

// Decoding is meant to be nearly free: a handful of allocations whatever
// the size of the value.
func TestDecodeAllocations(t *testing.T) {
	c := encodeCorpus()
	for _, tc := range []struct {
		name            string
		envMax, bodyMax float64
	}{
		{"plain", 2, 3}, {"bench4k", 2, 4}, {"groups", 3, 3}, {"attachments", 2, 7},
	} {
		p := parse(t, c[tc.name])
		envForm, bodyForm := p.Envelope.Marshal(), p.Body.Marshal()
		if n := testing.AllocsPerRun(20, func() { _, _ = UnmarshalEnvelope(envForm) }); n > tc.envMax {
			t.Errorf("%s: envelope decoding makes %v allocations", tc.name, n)
		}
		if n := testing.AllocsPerRun(20, func() { _, _ = UnmarshalBody(bodyForm) }); n > tc.bodyMax {
			t.Errorf("%s: body decoding makes %v allocations", tc.name, n)
		}
	}
}
