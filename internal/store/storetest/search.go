package storetest

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"postern/internal/message"
	"postern/internal/store"
)

// TextForgetter is implemented (in its tests) by a store that can drop
// the text it keeps of every message, as a store upgraded from a version
// that kept none would have it. The search tests then run again and must
// give the same answers from the bodies.
type TextForgetter interface {
	ForgetText(ctx context.Context) error
}

// parsed is a body whose index text is what delivery's parse gives, so
// that answers from kept text and from the body must agree.
func (e *env) parsed(content string) store.NewBlob {
	e.t.Helper()
	p, err := message.Parse(strings.NewReader(content), message.DefaultLimits())
	if err != nil {
		e.t.Fatal(err)
	}
	return e.body(content, p.SearchText, p.Headers)
}

// searchMsgs are the messages of the search tests, UIDs 1 to 3 of INBOX.
var searchMsgs = []string{
	"Subject: Budget meeting\r\nFrom: Carol <carol@example.net>\r\nX-Tag: Blue-Green\r\n" +
		"Message-ID: <b1@example.net>\r\n\r\nQuarterly budget MEETING on Friday\r\n",
	"Subject: =?UTF-8?Q?Stra=C3=9Fe_in_M=C3=BCnchen?=\r\nFrom: dave@example.net\r\n" +
		"References: <b1@example.net>\r\n <B2@Example.NET>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("Lunch on Friday? Café downstairs")) + "\r\n",
	"Subject: misc\r\nFrom: erin@example.net\r\nReferences: <x@y>\r\nReferences: <Z@W>\r\n\r\n" +
		"Nothing to see here; from carol\r\n",
}

// deliverSearchMsgs fills INBOX with searchMsgs, and Archive with a
// message that must not leak into INBOX's answers; a fourth INBOX message
// is expunged.
func (e *env) deliverSearchMsgs(a store.Account) store.Mailbox {
	for _, m := range searchMsgs {
		e.deliver(e.parsed(m), store.DeliveryTarget{AccountID: a.ID})
	}
	e.deliver(e.parsed("Subject: budget\r\nReferences: <b1@example.net>\r\n\r\nbudget carol\r\n"),
		store.DeliveryTarget{AccountID: a.ID, Mailbox: "Archive"})
	res := e.deliver(e.parsed("Subject: budget\r\nReferences: <gone@x>\r\n\r\nbudget carol\r\n"), store.DeliveryTarget{AccountID: a.ID})
	if _, _, err := e.s.Expunge(e.ctx, res[0].MailboxID, []uint32{res[0].UID}); err != nil {
		e.t.Fatal(err)
	}
	return e.mailbox(a.ID, "INBOX")
}

func testSearch(t *testing.T, e *env) {
	inbox := e.deliverSearchMsgs(e.setup())
	body, hdrs, all := store.TextBody, store.TextHeaders, store.TextAll
	cases := []struct {
		q    store.TextQuery
		want []uint32
	}{
		// Substrings, not words; case folded per character.
		{store.TextQuery{Field: body, Needle: "eting"}, []uint32{1}},
		{store.TextQuery{Field: body, Needle: "budget meeting"}, []uint32{1}},
		{store.TextQuery{Field: body, Needle: "friday"}, []uint32{1, 2}},
		{store.TextQuery{Field: body, Needle: "CAFÉ"}, []uint32{2}}, // decoded from base64
		{store.TextQuery{Field: hdrs, Header: "subject", Needle: "MÜNCHEN"}, []uint32{2}},
		{store.TextQuery{Field: hdrs, Header: "Subject", Needle: "straße"}, []uint32{2}},
		{store.TextQuery{Field: hdrs, Header: "subject", Needle: "STRASSE"}, nil}, // no full case mapping
		// Body, headers and both.
		{store.TextQuery{Field: body, Needle: "carol"}, []uint32{3}},
		{store.TextQuery{Field: hdrs, Needle: "carol"}, []uint32{1}},
		{store.TextQuery{Field: all, Needle: "carol"}, []uint32{1, 3}},
		{store.TextQuery{Field: body, Needle: "x-tag"}, nil},
		{store.TextQuery{Field: all, Needle: "X-TAG: BLUE"}, []uint32{1}},
		{store.TextQuery{Field: hdrs, Needle: "x-tag: blue"}, []uint32{1}}, // any header: names count
		// A named field: only its values count; "" asks for the field.
		{store.TextQuery{Field: hdrs, Header: "x-tag", Needle: "green"}, []uint32{1}},
		{store.TextQuery{Field: hdrs, Header: "X-TAG", Needle: ""}, []uint32{1}},
		{store.TextQuery{Field: hdrs, Header: "x-tag", Needle: "x-tag"}, nil},
		{store.TextQuery{Field: hdrs, Header: "subject", Needle: "carol"}, nil},
		{store.TextQuery{Field: hdrs, Header: "from", Needle: "carol"}, []uint32{1}},
		{store.TextQuery{Field: hdrs, Header: "to", Needle: ""}, nil},
		{store.TextQuery{Field: hdrs, Header: "message-id", Needle: "<b1@"}, []uint32{1}},
		{store.TextQuery{Field: hdrs, Header: "from", Needle: "ro"}, []uint32{1}}, // short needles scan
		// Empty needles match every message; nothing else leaks in.
		{store.TextQuery{Field: body, Needle: ""}, []uint32{1, 2, 3}},
		{store.TextQuery{Field: hdrs, Needle: ""}, []uint32{1, 2, 3}},
		{store.TextQuery{Field: body, Needle: "budget"}, []uint32{1}},
		{store.TextQuery{Field: all, Needle: "zzzz"}, nil},
		{store.TextQuery{Field: all, Needle: `"quoted" AND OR NOT *`}, nil},
	}
	check := func(when string) {
		for _, c := range cases {
			got, err := e.s.SearchText(e.ctx, inbox.ID, c.q)
			if err != nil {
				t.Errorf("%s: SearchText(%+v): %v", when, c.q, err)
				continue
			}
			wantUIDs(t, fmt.Sprintf("%s: SearchText(%+v)", when, c.q), got, c.want)
		}
	}
	check("as delivered")
	if f, ok := e.s.(IndexFlusher); ok {
		if err := f.FlushIndex(e.ctx); err != nil {
			t.Fatal(err)
		}
		check("indexed")
	}
	if f, ok := e.s.(TextForgetter); ok {
		if err := f.ForgetText(e.ctx); err != nil {
			t.Fatal(err)
		}
		check("without kept text")
	}
}

func testReferences(t *testing.T, e *env) {
	inbox := e.deliverSearchMsgs(e.setup())
	check := func(when string) {
		refs, err := e.s.References(e.ctx, inbox.ID)
		if err != nil {
			t.Fatalf("%s: References: %v", when, err)
		}
		// Values may come folded; IDs are compared folded.
		got := map[uint32][]string{}
		for u, v := range refs {
			got[u] = strings.Fields(store.FoldText(v))
		}
		want := map[uint32][]string{2: {"<b1@example.net>", "<b2@example.net>"}, 3: {"<x@y>", "<z@w>"}}
		if len(got) != len(want) || !slices.Equal(got[2], want[2]) || !slices.Equal(got[3], want[3]) {
			t.Errorf("%s: References = %v, want %v", when, got, want)
		}
	}
	check("as delivered")
	if f, ok := e.s.(IndexFlusher); ok {
		if err := f.FlushIndex(e.ctx); err != nil {
			t.Fatal(err)
		}
		check("indexed")
	}
	if f, ok := e.s.(TextForgetter); ok {
		if err := f.ForgetText(e.ctx); err != nil {
			t.Fatal(err)
		}
		check("without kept text")
	}
}
