package jmapmail

import (
	"bytes"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/jmap"
	"postern/internal/message"
	"postern/internal/store"
)

// deliverRaw parses a raw message as delivery does and stores it in a
// mailbox of alice, received at date; it returns the store message.
func (e *env) deliverRaw(mailbox, raw string, date time.Time) store.Message {
	e.t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	p, err := message.Parse(bytes.NewReader([]byte(raw)), message.DefaultLimits())
	if err != nil {
		e.t.Fatal(err)
	}
	meta := store.MessageMeta{
		Envelope:      p.Envelope.Marshal(),
		BodyStructure: p.Body.Marshal(),
		Preview:       p.Preview,
		SearchText:    p.SearchText,
		Headers:       p.Headers,
		Thread:        store.ThreadKeys{Parents: message.ThreadParents(p)},
	}
	if ids := message.ParseMsgIDs(p.Envelope.MessageID); len(ids) > 0 {
		meta.Thread.MessageID = ids[0]
	}
	meta.Thread.BaseSubject, meta.Thread.IsReply = message.BaseSubject(p.Envelope.DecodedSubject())
	out, err := e.st.Deliver(e.ctx, store.Delivery{
		Blob:         store.NewBlob{Body: store.BytesBody(raw), Meta: meta},
		InternalDate: date,
		Targets:      []store.DeliveryTarget{{AccountID: e.acct.ID, Mailbox: mailbox}},
	})
	if err != nil || out.Targets[0].Err != nil {
		e.t.Fatalf("Deliver: %v %+v", err, out)
	}
	r := out.Targets[0]
	ms, err := e.st.Messages(e.ctx, r.MailboxID, r.UID, r.UID)
	if err != nil || len(ms) != 1 {
		e.t.Fatalf("Messages: %v %v", err, ms)
	}
	return ms[0]
}

const multiRecipient = `Return-Path: <carol@example.net>
Message-ID: <m1@example.net>
In-Reply-To: <m0@example.net>
References: <root@example.net>
 <m0@example.net>
Date: Tue, 14 Nov 2023 10:00:00 +0100
From: =?UTF-8?Q?Jos=C3=A9_P=C3=A9rez?= <jose@example.net>
Sender: list@example.net
To: "Alice A." <alice@example.org>, bob@example.org
Cc: Team: dan@example.com, =?ISO-8859-1?Q?Ren=E9?= <rene@example.com>;
Bcc: eve@example.com
Reply-To: replies@example.net
Subject: =?UTF-8?B?w4dhIHZhIMOgIGxhIHBsYWdl?= ?
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=utf-8

Hello there, see the file.
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename=a.pdf

JVBERi0=
--b--
`

func name(s string) *string { return &s }

func TestEmailGet(t *testing.T) {
	e := newEnv(t, Options{})
	received := time.Date(2023, 11, 14, 9, 30, 0, 0, time.FixedZone("x", 3600))
	m := e.deliverRaw("INBOX", multiRecipient, received)
	id := emailID(m.ID)
	r := e.call("Email/get", e.args("ids", []string{id, "e999999", "x1", "e01"}), "Email/get")
	if r["state"] != e.state() || r["accountId"] != e.aid {
		t.Errorf("response %v", r)
	}
	if nf := strs(r["notFound"]); !slices.Equal(nf, []string{"e999999", "x1", "e01"}) {
		t.Errorf("notFound %v", nf)
	}
	list := r["list"].([]any)
	if len(list) != 1 {
		t.Fatalf("list %v", list)
	}
	o := list[0].(map[string]any)
	if len(o) != len(emailDefaultProperties) {
		t.Errorf("%d properties, want %d: %v", len(o), len(emailDefaultProperties), o)
	}
	want := map[string]any{
		"id":            id,
		"blobId":        blobID(m.BlobID),
		"threadId":      threadID(m.ThreadID),
		"size":          float64(m.Size),
		"receivedAt":    "2023-11-14T08:30:00Z",
		"sentAt":        "2023-11-14T10:00:00+01:00",
		"subject":       "Ça va à la plage ?",
		"hasAttachment": true,
		"preview":       "Hello there, see the file.",
	}
	for k, v := range want {
		if o[k] != v {
			t.Errorf("%s = %#v, want %#v", k, o[k], v)
		}
	}
	ids := map[string][]string{
		"messageId":  {"m1@example.net"},
		"inReplyTo":  {"m0@example.net"},
		"references": {"root@example.net", "m0@example.net"},
	}
	for k, v := range ids {
		if got := strs(o[k]); !slices.Equal(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if mb := o["mailboxIds"].(map[string]any); len(mb) != 1 || mb[e.id("INBOX")] != true {
		t.Errorf("mailboxIds %v", mb)
	}
	if kw := o["keywords"].(map[string]any); len(kw) != 0 {
		t.Errorf("keywords %v", kw)
	}
	addrs := map[string][]emailAddress{
		"from":    {{name("José Pérez"), "jose@example.net"}},
		"sender":  {{nil, "list@example.net"}},
		"to":      {{name("Alice A."), "alice@example.org"}, {nil, "bob@example.org"}},
		"cc":      {{nil, "dan@example.com"}, {name("René"), "rene@example.com"}},
		"bcc":     {{nil, "eve@example.com"}},
		"replyTo": {{nil, "replies@example.net"}},
	}
	for k, w := range addrs {
		got := toAddrs(t, o[k])
		if len(got) != len(w) {
			t.Errorf("%s = %v, want %v", k, o[k], w)
			continue
		}
		for i := range w {
			if got[i].Email != w[i].Email || (got[i].Name == nil) != (w[i].Name == nil) ||
				(w[i].Name != nil && *got[i].Name != *w[i].Name) {
				t.Errorf("%s[%d] = %v, want %v", k, i, o[k], w[i])
			}
		}
	}

	// A plain message: absent fields are null.
	p := e.deliverRaw("INBOX", "From: a@example.net\nTo: alice@example.org\n\nhi\n", received)
	o = e.getEmail(emailID(p.ID), nil)
	for _, k := range []string{"sender", "replyTo", "cc", "bcc", "subject", "sentAt", "messageId", "inReplyTo", "references"} {
		if v, ok := o[k]; !ok || v != nil {
			t.Errorf("%s = %v, want null", k, v)
		}
	}
	if o["hasAttachment"] != false {
		t.Errorf("hasAttachment %v", o["hasAttachment"])
	}
}

type addr struct {
	Name  *string
	Email string
}

func toAddrs(t *testing.T, v any) []addr {
	t.Helper()
	list, _ := v.([]any)
	var out []addr
	for _, x := range list {
		m := x.(map[string]any)
		a := addr{Email: m["email"].(string)}
		if n, ok := m["name"].(string); ok {
			a.Name = &n
		} else if _, ok := m["name"]; !ok {
			t.Errorf("no name member in %v", m)
		}
		out = append(out, a)
	}
	return out
}

// getEmail returns one Email object, with props (nil: the default).
func (e *env) getEmail(id string, props []string) map[string]any {
	e.t.Helper()
	a := e.args("ids", []string{id})
	if props != nil {
		a["properties"] = props
	}
	list := e.call("Email/get", a, "Email/get")["list"].([]any)
	if len(list) != 1 {
		e.t.Fatalf("Email/get %s: %v", id, list)
	}
	return list[0].(map[string]any)
}

func TestEmailGetProperties(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", multiRecipient, time.Unix(1700000000, 0))
	o := e.getEmail(emailID(m.ID), []string{"subject", "keywords"})
	if len(o) != 3 || o["id"] != emailID(m.ID) || o["subject"] == nil || o["keywords"] == nil {
		t.Errorf("properties: %v", o)
	}
	o = e.getEmail(emailID(m.ID), []string{})
	if len(o) != 1 {
		t.Errorf("no properties: %v", o)
	}
	for _, bad := range []string{"color", "header:Subject:asAddresses", "header:From:asDate", "header:X:asColor",
		"header:", "header:a b", "header:X:asRaw:all:all", "Header:Subject"} {
		if typ := e.errorType("Email/get", e.args("ids", []string{emailID(m.ID)}, "properties", []string{bad})); typ != "invalidArguments" {
			t.Errorf("property %s: %s", bad, typ)
		}
	}
	r := e.call("Email/get", e.args("ids", []string{emailID(m.ID)}, "fetchTextBodyValues", true, "maxBodyValueBytes", 100), "Email/get")
	if len(r["list"].([]any)) != 1 {
		t.Errorf("with fetchTextBodyValues: %v", r)
	}
	if typ := e.errorType("Email/get", e.args("ids", []string{}, "maxBodyValueBytes", 0)); typ != "invalidArguments" {
		t.Errorf("maxBodyValueBytes 0: %s", typ)
	}
	if typ := e.errorType("Email/get", map[string]any{"accountId": "a999", "ids": []string{}}); typ != "accountNotFound" {
		t.Errorf("other account: %s", typ)
	}
}

func TestEmailGetAll(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.deliverRaw("INBOX", "Subject: a\n\na\n", time.Unix(1700000000, 0))
	b := e.deliverRaw("Archive", "Subject: b\n\nb\n", time.Unix(1700000000, 0))
	r := e.call("Email/get", e.args("ids", nil, "properties", []string{"id"}), "Email/get")
	var got []string
	for _, o := range r["list"].([]any) {
		got = append(got, o.(map[string]any)["id"].(string))
	}
	if !slices.Equal(got, []string{emailID(a.ID), emailID(b.ID)}) {
		t.Errorf("all: %v", got)
	}

	// Over maxObjectsInGet: refused, with ids or without.
	e2 := newEnvLimits(t, 1)
	e2.deliverRaw("INBOX", "Subject: a\n\na\n", time.Unix(1700000000, 0))
	e2.deliverRaw("INBOX", "Subject: b\n\nb\n", time.Unix(1700000000, 0))
	if typ := e2.errorType("Email/get", e2.args("ids", nil)); typ != "requestTooLarge" {
		t.Errorf("ids null over the limit: %s", typ)
	}
	if typ := e2.errorType("Email/get", e2.args("ids", []string{"e1", "e2"})); typ != "requestTooLarge" {
		t.Errorf("ids over the limit: %s", typ)
	}
	if typ := e2.errorType("Thread/get", e2.args("ids", nil)); typ != "requestTooLarge" {
		t.Errorf("Thread/get ids null over the limit: %s", typ)
	}
}

func TestEmailKeywords(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", "Subject: k\n\nk\n", time.Unix(1700000000, 0))
	_, err := e.st.UpdateFlags(e.ctx, m.MailboxID, []uint32{m.UID}, store.FlagUpdate{Op: store.FlagsAdd,
		Flags:    store.FlagSeen | store.FlagFlagged | store.FlagAnswered | store.FlagDraft | store.FlagDeleted,
		Keywords: []string{"$Forwarded", "Work"}})
	if err != nil {
		t.Fatal(err)
	}
	kw := e.getEmail(emailID(m.ID), []string{"keywords"})["keywords"].(map[string]any)
	want := []string{"$answered", "$draft", "$flagged", "$forwarded", "$seen", "work"}
	var got []string
	for k, v := range kw {
		if v != true {
			t.Errorf("%s: %v", k, v)
		}
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("keywords %v, want %v", got, want)
	}
}

// TestEmailMoveKeepsID: an IMAP MOVE keeps the Email id and thread, and
// changes mailboxIds.
func TestEmailMoveKeepsID(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", multiRecipient, time.Unix(1700000000, 0))
	// Messages after it in the source, so that the move is not of the
	// last UID only.
	e.deliverRaw("INBOX", "Subject: other\n\nx\n", time.Unix(1700000001, 0))
	if _, _, err := e.st.Copy(e.ctx, m.MailboxID, []uint32{m.UID}, e.mailbox("Archive").ID, true); err != nil {
		t.Fatal(err)
	}
	o := e.getEmail(emailID(m.ID), []string{"mailboxIds", "threadId", "subject"})
	if mb := o["mailboxIds"].(map[string]any); len(mb) != 1 || mb[e.id("Archive")] != true {
		t.Errorf("mailboxIds after move: %v", mb)
	}
	if o["threadId"] != threadID(m.ThreadID) || o["subject"] != "Ça va à la plage ?" {
		t.Errorf("after move: %v", o)
	}
	// A copy is another email.
	if _, dst, err := e.st.Copy(e.ctx, e.mailbox("Archive").ID, []uint32{1}, e.mailbox("Trash").ID, false); err != nil || len(dst) != 1 {
		t.Fatal(err)
	}
	r := e.call("Email/get", e.args("ids", nil, "properties", []string{"mailboxIds"}), "Email/get")
	if n := len(r["list"].([]any)); n != 3 {
		t.Errorf("%d emails after copy, want 3", n)
	}
}

// TestEmailGetMany reads emails of a large mailbox, old and new, by runs
// of UIDs and by modseq.
func TestEmailGetMany(t *testing.T) {
	e := newEnv(t, Options{})
	var ms []store.Message
	for i := range 60 {
		ms = append(ms, e.deliverRaw("INBOX", "Subject: s"+string(rune('A'+i%26))+"\n\nx\n", time.Unix(1700000000+int64(i), 0)))
	}
	pick := []int{0, 1, 2, 30, 59}
	var ids []string
	for _, i := range pick {
		ids = append(ids, emailID(ms[i].ID))
	}
	r := e.call("Email/get", e.args("ids", ids, "properties", []string{"subject", "receivedAt"}), "Email/get")
	list := r["list"].([]any)
	if len(list) != len(pick) || len(strs(r["notFound"])) != 0 {
		t.Fatalf("got %v", r)
	}
	for k, i := range pick {
		o := list[k].(map[string]any)
		if o["id"] != ids[k] || o["subject"] != "s"+string(rune('A'+i%26)) {
			t.Errorf("%d: %v", i, o)
		}
	}
}

// newEnvLimits is newEnv with maxObjectsInGet set.
func newEnvLimits(t *testing.T, maxGet int) *env {
	e := newEnv(t, Options{})
	srv := jmap.New(jmap.Options{Auth: testAuth{e.st}, Limits: jmap.Limits{MaxObjectsInGet: maxGet}})
	Register(srv, e.st, Options{})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e.http = hs
	return e
}
