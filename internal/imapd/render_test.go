package imapd

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"postern/internal/message"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// trickyEnvelopes are the envelopes whose rendering is easy to get wrong:
// each is rendered from its stored form and by the general renderer.
func trickyEnvelopes(t testing.TB) []*message.Envelope {
	long := strings.Repeat("a long subject ", 80) // over 1024 bytes: a literal
	out := []*message.Envelope{
		{}, // every field NIL
		{Date: "Mon, 1 Jan 2024 10:00:00 +0000", Subject: `quote " and backslash \ inside`},
		{Subject: "Grüße aus Köln", From: []message.Address{{Name: "Zoë Ångström", Mailbox: "zoe", Host: "example.se"}}},
		{Subject: long, MessageID: "<a@b>", InReplyTo: "<c@d> <e@f>"},
		{Subject: "tab\there and a bell \x07", From: []message.Address{{Name: "ctrl\x01char", Mailbox: "x", Host: "y"}}},
		{From: []message.Address{{Mailbox: "nohost"}}},
		{From: []message.Address{{Name: "@route", Adl: "@a.example,@b.example", Mailbox: "r", Host: "c.example"}}},
		{
			From:    []message.Address{{Name: "A", Mailbox: "a", Host: "x"}},
			Sender:  []message.Address{{Name: "A", Mailbox: "a", Host: "x"}}, // same as From: omitted when stored
			ReplyTo: []message.Address{{Name: "R", Mailbox: "r", Host: "x"}},
		},
		{
			From:   []message.Address{{Name: "A", Mailbox: "a", Host: "x"}, {Name: "B", Mailbox: "b", Host: "x"}},
			Sender: []message.Address{{Mailbox: "s", Host: "x"}},
			To: []message.Address{
				{Kind: message.GroupStart, Mailbox: "undisclosed-recipients"},
				{Kind: message.GroupEnd},
				{Kind: message.GroupStart, Mailbox: "Team"},
				{Name: "=?UTF-8?Q?J=C3=BCrgen?=", Mailbox: "j", Host: "x"},
				{Kind: message.GroupEnd},
			},
			Bcc: []message.Address{{Name: `"quoted"`, Mailbox: `we"ird\`, Host: "x"}},
		},
		{Subject: "=?ISO-8859-1?B?RnJhbufvaXM=?=", Cc: []message.Address{{Kind: 7, Name: "unknown kind", Mailbox: "k", Host: "x"}}},
	}
	// And what the parser makes of headers with comments, groups,
	// encoded words and 8-bit text.
	for _, raw := range []string{
		"From: (comment) John Doe <john@example.com> (another)\r\nTo: Team: a@x, \"B, b\" <b@x>;, c@x\r\nCc: =?UTF-8?B?5bGx55Sw?= <y@x>\r\nSubject: =?UTF-8?Q?caf=C3=A9?= r\xc3\xa9sum\xc3\xa9\r\n\r\nbody\r\n",
		"From: <@route.example:user@host.example>\r\nSender: empty:;\r\nReply-To: \"Smith, J.\" <j@x>, k@x\r\nIn-Reply-To: <1@x>\r\nMessage-ID: <2@x>\r\nDate: Tue, 2 Jan 2024 00:00:00 +0100\r\n\r\n",
		"Subject: \r\nFrom: broken <<@>>\r\nTo: ,,,\r\n\r\n",
		"From: \xff\xfe raw 8-bit \x80 <a@b>\r\nSubject: \xe4\xf6\xfc latin-1\r\n\r\n",
	} {
		p, err := message.Parse(strings.NewReader(raw), message.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Envelope)
	}
	return out
}

// renderGeneral renders e through the decoded form, as FETCH does for a
// row without a usable stored form.
func renderGeneral(e *message.Envelope) []byte {
	var buf bytes.Buffer
	w := respWriter{dst: &buf, pool: &sync.Pool{}}
	w.envelope(e)
	w.flush()
	return buf.Bytes()
}

// TestStoredEnvelopeRendering: the envelope rendered from its stored form
// is byte for byte the general renderer's for the decoded form.
func TestStoredEnvelopeRendering(t *testing.T) {
	for i, e := range trickyEnvelopes(t) {
		stored := e.Marshal()
		decoded, err := message.UnmarshalEnvelope(stored)
		if err != nil {
			t.Fatalf("envelope %d: %v", i, err)
		}
		want := renderGeneral(decoded)
		got, ok := appendStoredEnvelope([]byte("prefix "), stored)
		if !ok {
			t.Errorf("envelope %d: stored form refused", i)
			continue
		}
		if !bytes.Equal(got, append([]byte("prefix "), want...)) {
			t.Errorf("envelope %d:\nstored  %q\ngeneral %q", i, got, want)
		}
	}
}

// TestStoredEnvelopeRefused: forms the fast path cannot read are left to
// the decoder, dst untouched.
func TestStoredEnvelopeRefused(t *testing.T) {
	good := trickyEnvelopes(t)[8].Marshal()
	for name, form := range map[string][]byte{
		"empty":     nil,
		"json":      []byte(`{"Subject":"x"}`),
		"version 9": {9, 0},
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte(nil), good...), 0),
		"too many addresses": func() []byte {
			b := append([]byte(nil), good...)
			b[1]++
			return b
		}(),
	} {
		if out, ok := appendStoredEnvelope(nil, form); ok {
			t.Errorf("%s: accepted, rendered %q", name, out)
		}
	}
}

// FuzzStoredEnvelope: whatever the stored bytes, the fast path accepts
// exactly the binary forms the decoder accepts and renders them as the
// general renderer does.
func FuzzStoredEnvelope(f *testing.F) {
	for _, e := range trickyEnvelopes(f) {
		f.Add(e.Marshal())
	}
	f.Fuzz(func(t *testing.T, form []byte) {
		got, ok := appendStoredEnvelope(nil, form)
		env, err := message.UnmarshalEnvelope(form)
		binary := len(form) > 0 && form[0] == 2
		if !binary {
			if ok {
				t.Fatalf("non-binary form accepted: %q", form)
			}
			return
		}
		if ok != (err == nil) {
			t.Fatalf("fast path ok=%v, decoder err=%v, form %q", ok, err, form)
		}
		if ok {
			if want := renderGeneral(env); !bytes.Equal(got, want) {
				t.Fatalf("form %q:\nstored  %q\ngeneral %q", form, got, want)
			}
		}
	})
}

// TestPlaceRows: rows read over a UID span land at their places; a
// vanished message leaves a zero row, rows outside idx are dropped.
func TestPlaceRows(t *testing.T) {
	uids := []uint32{3, 5, 8, 9, 12}
	idx := []int{0, 2, 3, 4} // UIDs 3, 8, 9, 12
	rows := []store.Message{{UID: 3}, {UID: 5}, {UID: 9}, {UID: 12}, {UID: 13}}
	out := make([]store.Message, len(idx))
	placeRows(out, idx, 0, len(idx)-1, uids, rows)
	var got []uint32
	for _, m := range out {
		got = append(got, m.UID)
	}
	if want := []uint32{3, 0, 9, 12}; !slices.Equal(got, want) {
		t.Errorf("placed %v, want %v", got, want)
	}
	if aligned(rows, idx, uids) || aligned(rows[:4], idx, uids) {
		t.Errorf("misaligned rows taken as aligned")
	}
	if !aligned([]store.Message{{UID: 3}, {UID: 8}, {UID: 9}, {UID: 12}}, idx, uids) {
		t.Errorf("aligned rows not recognised")
	}
}

// damagedEnvelopes is a store whose stored envelopes do not decode, as
// after a bug or a damaged disk.
type damagedEnvelopes struct{ *sqlstore.Store }

func damage(msgs []store.Message) []store.Message {
	for i := range msgs {
		msgs[i].Envelope = []byte{2, 0xff}
	}
	return msgs
}

func (d damagedEnvelopes) MessageEnvelopes(ctx context.Context, mb int64, from, to uint32) ([]store.Message, error) {
	msgs, err := d.Store.MessageEnvelopes(ctx, mb, from, to)
	return damage(msgs), err
}

func (d damagedEnvelopes) Messages(ctx context.Context, mb int64, from, to uint32) ([]store.Message, error) {
	msgs, err := d.Store.Messages(ctx, mb, from, to)
	return damage(msgs), err
}

// TestFetchEnvelopeDamagedStoredForm: a message list whose stored
// envelopes do not decode is answered from the bodies, as before.
func TestFetchEnvelopeDamagedStoredForm(t *testing.T) {
	e := newTestEnv(t, func(cfg *Config) { cfg.Store = damagedEnvelopes{cfg.Store.(*sqlstore.Store)} })
	e.deliver("INBOX", "From: Ann <ann@example.net>\r\nSubject: still here\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n")
	c := e.login()
	c.send("s SELECT INBOX")
	c.expectTagged("s", "OK")
	c.send("f FETCH 1:* (FLAGS UID ENVELOPE)")
	l := c.expectPrefix("* 1 FETCH")
	if want := `ENVELOPE (NIL "still here" (("Ann" NIL "ann" "example.net"))`; !strings.Contains(l, want) {
		t.Errorf("got %q, want it to contain %q", l, want)
	}
	c.expectTagged("f", "OK")
}
