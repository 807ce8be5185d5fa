package jmapmail

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/jmap"
	"postern/internal/message"
	"postern/internal/store"
)

// stored reads and parses the body of alice's message id.
func (e *env) stored(id int64) (string, *message.Parsed) {
	e.t.Helper()
	m, ok := e.row(id)
	if !ok {
		e.t.Fatalf("no message %d", id)
	}
	rc, err := e.st.OpenBlob(e.ctx, m.BlobID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	raw, _ := io.ReadAll(rc)
	p, err := message.Parse(bytes.NewReader(raw), message.DefaultLimits())
	if err != nil {
		e.t.Fatal(err)
	}
	return string(raw), p
}

func createdOf(t *testing.T, r map[string]any, cid string) map[string]any {
	t.Helper()
	c, ok := r["created"].(map[string]any)[cid].(map[string]any)
	if !ok {
		t.Fatalf("created %s missing: %v", cid, r)
	}
	return c
}

func TestEmailSetCreate(t *testing.T) {
	e := newEnv(t, Options{})
	parent := e.deliverRaw("INBOX", "Message-ID: <parent@example.net>\nFrom: bob@example.org\nSubject: plans\n\nhi\n", time.Unix(1700000000, 0))
	att := e.deliverOne("Archive") // its body serves as an attachment blob
	old := e.state()
	rs := e.api("Email/set", e.args("ifInState", old, "create", map[string]any{"d": map[string]any{
		"mailboxIds": map[string]any{e.id("Drafts"): true},
		"keywords":   map[string]any{"$draft": true, "$seen": true, "Todo": true},
		"receivedAt": "2024-05-06T07:08:09Z",
		"from":       []any{map[string]any{"name": "Alice Ä", "email": "alice@example.org"}},
		"to":         []any{map[string]any{"email": "bob@example.org"}},
		"subject":    "Re: plans ✈",
		"inReplyTo":  []any{"parent@example.net"},
		"references": []any{"parent@example.net"},
		"textBody":   []any{map[string]any{"partId": "t"}},
		"htmlBody":   []any{map[string]any{"partId": "h", "type": "text/html"}},
		"attachments": []any{map[string]any{"blobId": blobID(att.BlobID), "type": "message/rfc822", "name": "fwd.eml",
			"disposition": "attachment"}},
		"bodyValues": map[string]any{"t": map[string]any{"value": "See you"}, "h": map[string]any{"value": "<p>See you</p>"}},
	}}),
		"Email/get", e.args("ids", []string{"#d"}, "properties", []string{"subject", "from", "keywords", "mailboxIds", "threadId", "hasAttachment", "preview"}))
	r := rs[0].Args
	c := createdOf(t, r, "d")
	id, _ := parseID(c["id"].(string), 'e')
	m, ok := e.row(id)
	if !ok {
		t.Fatalf("created %v not in the store", c)
	}
	if c["blobId"] != blobID(m.BlobID) || c["threadId"] != threadID(parent.ThreadID) || c["size"] != float64(m.Size) || len(c) != 4 {
		t.Errorf("created %v, store %+v", c, m)
	}
	if r["oldState"] != old || r["newState"] != e.state() || r["newState"] == old {
		t.Errorf("states %v", r)
	}
	if m.MailboxID != e.mailbox("Drafts").ID || m.Flags != store.FlagDraft|store.FlagSeen || !slices.Equal(m.Keywords, []string{"todo"}) ||
		!m.InternalDate.Equal(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)) {
		t.Errorf("store row %+v", m)
	}
	got := rs[1].Args["list"].([]any)[0].(map[string]any)
	if got["subject"] != "Re: plans ✈" || got["hasAttachment"] != true || got["preview"] != "See you" ||
		got["from"].([]any)[0].(map[string]any)["name"] != "Alice Ä" {
		t.Errorf("Email/get %v", got)
	}
	raw, p := e.stored(id)
	if shape(p.Body) != "multipart/mixed(multipart/alternative(text/plain text/html) message/rfc822)" {
		t.Errorf("shape %s\n%s", shape(p.Body), raw)
	}
	inner := p.Body.Children[1]
	if !inner.IsMessage() || inner.Envelope.DecodedSubject() != "hello" {
		t.Errorf("attached message %+v", inner)
	}
	// Indexed for search as delivered mail is.
	if ids := message.ParseMsgIDs(p.Envelope.MessageID); len(ids) != 1 || !strings.HasSuffix(ids[0], "@example.org") {
		t.Errorf("generated Message-ID %q", p.Envelope.MessageID)
	}
}

func TestEmailSetCreateErrors(t *testing.T) {
	e := newEnv(t, Options{MaxSizeAttachmentsPerEmail: 20})
	big := e.deliverOne("Archive") // larger than 20 octets
	draft := func(kv ...any) map[string]any {
		o := map[string]any{"mailboxIds": map[string]any{e.id("Drafts"): true}}
		for i := 0; i+1 < len(kv); i += 2 {
			o[kv[i].(string)] = kv[i+1]
		}
		return o
	}
	r := e.emailSet("create", map[string]any{
		"missing":  draft("attachments", []any{map[string]any{"blobId": "b999999"}, map[string]any{"blobId": "b999998"}}),
		"large":    draft("attachments", []any{map[string]any{"blobId": blobID(big.BlobID)}}),
		"two":      map[string]any{"mailboxIds": map[string]any{e.id("Drafts"): true, e.id("INBOX"): true}},
		"nowhere":  map[string]any{"mailboxIds": map[string]any{"m999": true}},
		"bad from": draft("from", "alice"),
	})
	typ, _ := setErr(t, r, "notCreated", "missing")
	nf := strs(r["notCreated"].(map[string]any)["missing"].(map[string]any)["notFound"])
	slices.Sort(nf)
	if typ != "blobNotFound" || !slices.Equal(nf, []string{"b999998", "b999999"}) {
		t.Errorf("missing blob: %s %v", typ, nf)
	}
	if typ, _ := setErr(t, r, "notCreated", "large"); typ != "tooLarge" {
		t.Errorf("large: %s", typ)
	}
	for _, k := range []string{"two", "nowhere"} {
		if typ, props := setErr(t, r, "notCreated", k); typ != "invalidProperties" || !slices.Equal(props, []string{"mailboxIds"}) {
			t.Errorf("%s: %s %v", k, typ, props)
		}
	}
	if typ, props := setErr(t, r, "notCreated", "bad from"); typ != "invalidProperties" || !slices.Equal(props, []string{"from"}) {
		t.Errorf("bad from: %s %v", typ, props)
	}
	if r["created"] != nil {
		t.Errorf("created %v", r["created"])
	}
	// Over the account's quota.
	if err := e.st.SetQuota(e.ctx, e.user, 0, 1); err != nil {
		t.Fatal(err)
	}
	r = e.emailSet("create", map[string]any{"q": draft()})
	if typ, _ := setErr(t, r, "notCreated", "q"); typ != "overQuota" {
		t.Errorf("quota: %s", typ)
	}
}

func TestEmailImport(t *testing.T) {
	e := newEnv(t, Options{})
	src := e.deliverRaw("INBOX", "Message-ID: <orig@example.net>\nFrom: bob@example.org\nSubject: imported\n\ntext\n", time.Unix(1700000000, 0))
	headless := e.deliverRaw("INBOX", "\nno header at all\n", time.Unix(1700000000, 0))
	old := e.state()
	r := e.call("Email/import", e.args("ifInState", old, "emails", map[string]any{
		"a": map[string]any{"blobId": blobID(src.BlobID), "mailboxIds": map[string]any{e.id("Archive"): true},
			"keywords": map[string]any{"$seen": true, "imported": true}, "receivedAt": "2023-01-02T03:04:05Z"},
		"missing":  map[string]any{"blobId": "b999999", "mailboxIds": map[string]any{e.id("Archive"): true}},
		"two":      map[string]any{"blobId": blobID(src.BlobID), "mailboxIds": map[string]any{e.id("Archive"): true, e.id("INBOX"): true}},
		"unknown":  map[string]any{"blobId": blobID(src.BlobID), "mailboxIds": map[string]any{e.id("Archive"): true}, "subject": "x"},
		"headless": map[string]any{"blobId": blobID(headless.BlobID), "mailboxIds": map[string]any{e.id("Archive"): true}},
	}), "Email/import")
	c := createdOf(t, r, "a")
	id, _ := parseID(c["id"].(string), 'e')
	m, ok := e.row(id)
	if !ok || c["blobId"] != blobID(m.BlobID) || c["threadId"] != threadID(m.ThreadID) || c["size"] != float64(src.Size) {
		t.Fatalf("created %v, store %+v", c, m)
	}
	if m.MailboxID != e.mailbox("Archive").ID || m.Flags != store.FlagSeen || !slices.Equal(m.Keywords, []string{"imported"}) ||
		!m.InternalDate.Equal(time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("store row %+v", m)
	}
	raw, p := e.stored(id)
	if p.Envelope.DecodedSubject() != "imported" || !strings.Contains(raw, "\r\n\r\ntext\r\n") {
		t.Errorf("imported body %q", raw)
	}
	if r["oldState"] != old || r["newState"] != e.state() {
		t.Errorf("states %v", r)
	}
	for k, want := range map[string]string{"missing": "blobNotFound", "two": "invalidProperties", "unknown": "invalidProperties",
		"headless": "invalidEmail"} {
		if typ, _ := setErr(t, r, "notCreated", k); typ != want {
			t.Errorf("%s: %s, want %s", k, typ, want)
		}
	}
	if typ := e.errorType("Email/import", e.args("ifInState", old, "emails", map[string]any{})); typ != "stateMismatch" {
		t.Errorf("ifInState: %s", typ)
	}
	if err := e.st.SetQuota(e.ctx, e.user, 0, 1); err != nil {
		t.Fatal(err)
	}
	r = e.call("Email/import", e.args("emails", map[string]any{
		"q": map[string]any{"blobId": blobID(src.BlobID), "mailboxIds": map[string]any{e.id("Archive"): true}}}), "Email/import")
	if typ, _ := setErr(t, r, "notCreated", "q"); typ != "overQuota" {
		t.Errorf("quota: %s", typ)
	}
}

func TestEmailCopy(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverOne("INBOX")
	id := emailID(m.ID)
	r := e.call("Email/copy", e.args("fromAccountId", e.aid, "create", map[string]any{
		"c": map[string]any{"id": id, "mailboxIds": map[string]any{e.id("Archive"): true}, "keywords": map[string]any{"$flagged": true}},
		"x": map[string]any{"id": "e999", "mailboxIds": map[string]any{e.id("Archive"): true}},
		"r": map[string]any{"id": id, "mailboxIds": map[string]any{e.id("Archive"): true}, "receivedAt": "2001-01-01T00:00:00Z"},
	}), "Email/copy")
	c := createdOf(t, r, "c")
	nid, _ := parseID(c["id"].(string), 'e')
	nm, ok := e.row(nid)
	if !ok || nid == m.ID || nm.MailboxID != e.mailbox("Archive").ID || nm.Flags != store.FlagFlagged || c["blobId"] != blobID(m.BlobID) {
		t.Errorf("copy %v, store %+v", c, nm)
	}
	if _, ok := e.row(m.ID); !ok {
		t.Error("original gone")
	}
	if r["fromAccountId"] != e.aid || r["accountId"] != e.aid || r["newState"] == r["oldState"] {
		t.Errorf("response %v", r)
	}
	if typ, _ := setErr(t, r, "notCreated", "x"); typ != "notFound" {
		t.Errorf("unknown id: %s", typ)
	}
	if typ, props := setErr(t, r, "notCreated", "r"); typ != "invalidProperties" || !slices.Equal(props, []string{"receivedAt"}) {
		t.Errorf("receivedAt: %s %v", typ, props)
	}
	if typ := e.errorType("Email/copy", e.args("fromAccountId", e.aid, "ifFromInState", "1", "create", map[string]any{})); typ != "stateMismatch" {
		t.Errorf("ifFromInState: %s", typ)
	}
	rs := e.api("Email/copy", e.args("fromAccountId", e.aid, "onSuccessDestroyOriginal", true, "destroyFromIfInState", "1",
		"create", map[string]any{"s": map[string]any{"id": id, "mailboxIds": map[string]any{e.id("Junk"): true}}}))
	if len(rs) != 2 || rs[1].Name != "error" || rs[1].Args["type"] != "stateMismatch" {
		t.Errorf("destroyFromIfInState: %+v", rs)
	}
	if _, ok := e.row(m.ID); !ok {
		t.Error("original destroyed despite destroyFromIfInState")
	}
	// onSuccessDestroyOriginal: the implicit Email/set follows.
	rs = e.api("Email/copy", e.args("fromAccountId", e.aid, "onSuccessDestroyOriginal", true, "create", map[string]any{
		"m": map[string]any{"id": id, "mailboxIds": map[string]any{e.id("Trash"): true}}}))
	if len(rs) != 2 || rs[0].Name != "Email/copy" || rs[1].Name != "Email/set" || rs[1].ID != rs[0].ID ||
		!slices.Equal(strs(rs[1].Args["destroyed"]), []string{id}) {
		t.Fatalf("responses %+v", rs)
	}
	if _, ok := e.row(m.ID); ok {
		t.Error("original kept")
	}
	// Other accounts.
	bob, _ := e.st.Account(e.ctx, "bob@example.org")
	if typ := e.errorType("Email/copy", e.args("fromAccountId", jmap.AccountID(bob.ID), "create", map[string]any{})); typ != "fromAccountNotFound" {
		t.Errorf("from: %s", typ)
	}
	if typ := e.errorType("Email/copy", map[string]any{"fromAccountId": e.aid, "accountId": jmap.AccountID(bob.ID), "create": map[string]any{}}); typ != "accountNotFound" {
		t.Errorf("to: %s", typ)
	}
	// Quota: a copy is a new message.
	if err := e.st.SetQuota(e.ctx, e.user, 0, 3); err != nil {
		t.Fatal(err)
	}
	r = e.call("Email/copy", e.args("fromAccountId", e.aid, "create", map[string]any{
		"q": map[string]any{"id": emailID(nid), "mailboxIds": map[string]any{e.id("INBOX"): true}}}), "Email/copy")
	if typ, _ := setErr(t, r, "notCreated", "q"); typ != "overQuota" {
		t.Errorf("quota: %s (%v)", typ, r)
	}
}

// TestEmailSetRFCExample is the draft of RFC 8621 §4.6's example, then
// marked as seen with a patch.
func TestEmailSetRFCExample(t *testing.T) {
	e := newEnv(t, Options{})
	html := `<!DOCTYPE html><html><head><title></title><style type="text/css">div{font-size:16px}</style></head><body><div>I have the most <b>brilliant</b> plan. Let me tell you all about it. What we do is, we</div></body></html>`
	r := e.emailSet("create", map[string]any{"k192": map[string]any{
		"mailboxIds": map[string]any{e.id("Drafts"): true},
		"keywords":   map[string]any{"$draft": true},
		"from":       []any{map[string]any{"name": "Joe Bloggs", "email": "joe@example.com"}},
		"subject":    "World domination",
		"receivedAt": "2018-07-10T01:03:11Z",
		"sentAt":     "2018-07-10T11:03:11+10:00",
		"bodyStructure": map[string]any{"type": "multipart/alternative", "subParts": []any{
			map[string]any{"partId": "49db", "type": "text/html"},
			map[string]any{"partId": "bd48", "type": "text/plain"},
		}},
		"bodyValues": map[string]any{
			"bd48": map[string]any{"value": "I have the most brilliant plan. Let me tell you all about it. What we do is, we", "isTruncated": false},
			"49db": map[string]any{"value": html, "isTruncated": false},
		},
	}})
	c := createdOf(t, r, "k192")
	id := c["id"].(string)
	n, _ := parseID(id, 'e')
	raw, p := e.stored(n)
	if shape(p.Body) != "multipart/alternative(text/html text/plain)" || p.Envelope.DecodedSubject() != "World domination" ||
		content(t, raw, p.Body.Children[0]) != html || p.Preview != "I have the most brilliant plan. Let me tell you all about it. What we do is, we" {
		t.Errorf("stored %s %q\n%s", shape(p.Body), p.Preview, raw)
	}
	if !strings.Contains(raw, "Date: Tue, 10 Jul 2018 11:03:11 +1000\r\n") {
		t.Errorf("Date from sentAt:\n%s", raw)
	}
	r = e.emailSet("update", map[string]any{id: map[string]any{"keywords/$seen": true}})
	if m, _ := e.row(n); m.Flags != store.FlagDraft|store.FlagSeen {
		t.Errorf("flags %v after %v", m.Flags, r)
	}
}

// TestEmailSetCreateLayouts creates each body layout through the server.
func TestEmailSetCreateLayouts(t *testing.T) {
	e := newEnv(t, Options{})
	img := e.deliverOne("Archive")
	values := map[string]any{"t": map[string]any{"value": "text"}, "h": map[string]any{"value": "<p>html</p>"}}
	text := []any{map[string]any{"partId": "t"}}
	html := []any{map[string]any{"partId": "h"}}
	inline := map[string]any{"blobId": blobID(img.BlobID), "type": "image/png", "cid": "i@x", "disposition": "inline"}
	file := map[string]any{"blobId": blobID(img.BlobID), "type": "application/octet-stream", "name": "f.bin", "disposition": "attachment"}
	for want, obj := range map[string]map[string]any{
		"text/plain": {"textBody": text, "bodyValues": map[string]any{"t": values["t"]}},
		"multipart/alternative(text/plain text/html)":          {"textBody": text, "htmlBody": html, "bodyValues": values},
		"multipart/related(text/html image/png)":               {"htmlBody": html, "attachments": []any{inline}, "bodyValues": map[string]any{"h": values["h"]}},
		"multipart/mixed(text/plain application/octet-stream)": {"textBody": text, "attachments": []any{file}, "bodyValues": map[string]any{"t": values["t"]}},
		"multipart/mixed(multipart/related(multipart/alternative(text/plain text/html) image/png) application/octet-stream)": {
			"textBody": text, "htmlBody": html, "attachments": []any{inline, file}, "bodyValues": values},
	} {
		obj["mailboxIds"] = map[string]any{e.id("Drafts"): true}
		r := e.emailSet("create", map[string]any{"x": obj})
		n, _ := parseID(createdOf(t, r, "x")["id"].(string), 'e')
		if _, p := e.stored(n); shape(p.Body) != want {
			t.Errorf("got %s, want %s", shape(p.Body), want)
		}
	}
}
