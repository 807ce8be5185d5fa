package jmapmail

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/jmap"
	"postern/internal/store"
)

// row reads alice's message by id from the store.
func (e *env) row(id int64) (store.Message, bool) {
	e.t.Helper()
	ms, err := e.st.MessagesByID(e.ctx, e.acct.ID, []int64{id})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(ms) == 0 {
		return store.Message{}, false
	}
	return ms[0], true
}

func (e *env) emailSet(kv ...any) map[string]any {
	e.t.Helper()
	return e.call("Email/set", e.args(kv...), "Email/set")
}

func (e *env) deliverOne(mailbox string) store.Message {
	e.t.Helper()
	e.n++
	return e.deliverRaw(mailbox, "Message-ID: <one"+strings.Repeat("x", e.n)+"@example.net>\nFrom: a@example.net\nSubject: hello\n\nbody\n",
		time.Unix(1700000000, 0))
}

func TestEmailSetKeywords(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverOne("INBOX")
	id := emailID(m.ID)
	// An IMAP session marked it \Deleted and "Work": JMAP shows neither
	// \Deleted nor loses it, and keeps Work unless told otherwise.
	if _, err := e.st.UpdateFlags(e.ctx, m.MailboxID, []uint32{m.UID}, store.FlagUpdate{Op: store.FlagsAdd,
		Flags: store.FlagDeleted, Keywords: []string{"Work"}}); err != nil {
		t.Fatal(err)
	}
	old := e.state()
	r := e.emailSet("ifInState", old, "update", map[string]any{id: map[string]any{"keywords/$seen": true, "keywords/$flagged": true}})
	if r["oldState"] != old || r["newState"] == old || r["newState"] != e.state() {
		t.Errorf("states %v %v now %v", r["oldState"], r["newState"], e.state())
	}
	if u := r["updated"].(map[string]any); len(u) != 1 || u[id] != nil {
		t.Errorf("updated %v", r)
	}
	got, _ := e.row(m.ID)
	if got.Flags != store.FlagSeen|store.FlagFlagged|store.FlagDeleted || !slices.Equal(got.Keywords, []string{"work"}) {
		t.Errorf("after patch: %v %v", got.Flags, got.Keywords)
	}
	e.emailSet("update", map[string]any{id: map[string]any{"keywords/$seen": nil, "keywords/$answered": true, "keywords/Later": true}})
	got, _ = e.row(m.ID)
	if got.Flags != store.FlagAnswered|store.FlagFlagged|store.FlagDeleted || !slices.Equal(got.Keywords, []string{"later", "work"}) {
		t.Errorf("after second patch: %v %v", got.Flags, got.Keywords)
	}
	e.emailSet("update", map[string]any{id: map[string]any{"keywords": map[string]any{"$draft": true, "$Seen": true, "x": true}}})
	got, _ = e.row(m.ID)
	if got.Flags != store.FlagDraft|store.FlagSeen|store.FlagDeleted || !slices.Equal(got.Keywords, []string{"x"}) {
		t.Errorf("after whole: %v %v", got.Flags, got.Keywords)
	}
	kw := e.call("Email/get", e.args("ids", []string{id}, "properties", []string{"keywords"}), "Email/get")["list"].([]any)[0].(map[string]any)["keywords"]
	if k := kw.(map[string]any); len(k) != 3 || k["$draft"] != true || k["$seen"] != true || k["x"] != true {
		t.Errorf("Email/get keywords %v", kw)
	}
	// Nothing to change: no new state.
	s := e.state()
	e.emailSet("update", map[string]any{id: map[string]any{"keywords/$seen": true}})
	if e.state() != s {
		t.Error("a no-op update moved the state")
	}
}

func TestEmailSetMove(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverOne("INBOX")
	id := emailID(m.ID)
	inbox, archive := e.mailbox("INBOX"), e.mailbox("Archive")
	r := e.emailSet("update", map[string]any{id: map[string]any{"mailboxIds": map[string]any{e.id("Archive"): true}}})
	if _, ok := r["updated"].(map[string]any)[id]; !ok {
		t.Fatalf("move: %v", r)
	}
	got, ok := e.row(m.ID)
	if !ok || got.MailboxID != archive.ID || got.ThreadID != m.ThreadID || got.BlobID != m.BlobID {
		t.Fatalf("after move: %+v", got)
	}
	// The IMAP view: gone from INBOX (VANISHED for QRESYNC), a new UID in
	// Archive, both mailboxes' modseq moved.
	if rows, _ := e.st.Messages(e.ctx, inbox.ID, 1, 0); len(rows) != 0 {
		t.Errorf("INBOX still holds %v", rows)
	}
	if gone, _ := e.st.ExpungedSince(e.ctx, inbox.ID, inbox.HighestModSeq); !slices.Equal(gone, []uint32{m.UID}) {
		t.Errorf("expunged from INBOX: %v", gone)
	}
	rows, _ := e.st.Messages(e.ctx, archive.ID, 1, 0)
	if len(rows) != 1 || rows[0].ID != m.ID || rows[0].UID != archive.UIDNext {
		t.Errorf("Archive holds %+v (uidnext was %d)", rows, archive.UIDNext)
	}
	if e.mailbox("INBOX").HighestModSeq <= inbox.HighestModSeq || e.mailbox("Archive").HighestModSeq <= archive.HighestModSeq {
		t.Error("modseq did not move")
	}
	// Patch form, with keywords in the same update.
	e.emailSet("update", map[string]any{id: map[string]any{"mailboxIds/" + e.id("INBOX"): true,
		"mailboxIds/" + e.id("Archive"): nil, "keywords/$seen": true}})
	got, _ = e.row(m.ID)
	if got.MailboxID != inbox.ID || got.Flags != store.FlagSeen {
		t.Errorf("after patch move: %+v", got)
	}
	// Into a mailbox created earlier in the same request.
	rs := e.api("Mailbox/set", e.args("create", map[string]any{"n": map[string]any{"name": "New"}}),
		"Email/set", e.args("update", map[string]any{id: map[string]any{"mailboxIds": map[string]any{"#n": true}}}))
	if _, ok := rs[1].Args["updated"].(map[string]any)[id]; !ok {
		t.Fatalf("move to #n: %v", rs[1].Args)
	}
	if got, _ = e.row(m.ID); got.MailboxID != e.mailbox("New").ID {
		t.Errorf("not in New: %+v", got)
	}
	// Never in two mailboxes, never in none.
	for name, patch := range map[string]map[string]any{
		"two":          {"mailboxIds": map[string]any{e.id("INBOX"): true, e.id("Archive"): true}},
		"none":         {"mailboxIds": map[string]any{}},
		"patch two":    {"mailboxIds/" + e.id("INBOX"): true},
		"patch none":   {"mailboxIds/" + e.id("New"): nil},
		"unknown":      {"mailboxIds": map[string]any{"m999": true}},
		"false":        {"mailboxIds": map[string]any{e.id("INBOX"): false}},
		"patch value":  {"mailboxIds/" + e.id("INBOX"): false},
		"immutable":    {"subject": "new"},
		"bad keyword":  {"keywords/a(b": true},
		"keyword true": {"keywords": map[string]any{"$seen": 1}},
	} {
		r := e.emailSet("update", map[string]any{id: patch})
		typ, props := setErr(t, r, "notUpdated", id)
		want := "mailboxIds"
		switch name {
		case "immutable":
			want = "subject"
		case "bad keyword", "keyword true":
			want = "keywords"
		}
		if typ != "invalidProperties" || !slices.Equal(props, []string{want}) {
			t.Errorf("%s: %s %v", name, typ, props)
		}
	}
	if got, _ = e.row(m.ID); got.MailboxID != e.mailbox("New").ID {
		t.Errorf("a refused update moved it: %+v", got)
	}
}

func TestEmailSetErrors(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverOne("INBOX")
	id := emailID(m.ID)
	if typ := e.errorType("Email/set", e.args("ifInState", "12345", "destroy", []string{id})); typ != "stateMismatch" {
		t.Errorf("ifInState: %s", typ)
	}
	if _, ok := e.row(m.ID); !ok {
		t.Error("destroyed despite stateMismatch")
	}
	r := e.emailSet("update", map[string]any{
		"e999":  map[string]any{"keywords/$seen": true},
		"bogus": map[string]any{"keywords/$seen": true},
		id:      map[string]any{"keywords": map[string]any{}, "keywords/$seen": true},
	}, "destroy", []string{"e999"})
	for _, k := range []string{"e999", "bogus"} {
		if typ, _ := setErr(t, r, "notUpdated", k); typ != "notFound" {
			t.Errorf("update %s: %s", k, typ)
		}
	}
	if typ, _ := setErr(t, r, "notUpdated", id); typ != "invalidPatch" {
		t.Errorf("prefix patch: %s", typ)
	}
	if typ, _ := setErr(t, r, "notDestroyed", "e999"); typ != "notFound" {
		t.Errorf("destroy: %s", typ)
	}
	if typ := e.errorType("Email/set", map[string]any{"accountId": "A999"}); typ != "accountNotFound" {
		t.Errorf("account: %s", typ)
	}
	if typ := e.errorType("Email/set", e.args("frob", 1)); typ != "invalidArguments" {
		t.Errorf("arguments: %s", typ)
	}
}

func TestEmailSetDestroy(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverOne("INBOX")
	id := emailID(m.ID)
	old := e.state()
	r := e.emailSet("destroy", []string{id, id})
	if d := strs(r["destroyed"]); !slices.Equal(d, []string{id}) || r["newState"] == old {
		t.Fatalf("destroy: %v", r)
	}
	if _, ok := e.row(m.ID); ok {
		t.Error("still there")
	}
	if gone, _ := e.st.ExpungedSince(e.ctx, m.MailboxID, 0); !slices.Equal(gone, []uint32{m.UID}) {
		t.Errorf("IMAP expunged %v", gone)
	}
	if acct, _ := e.st.AccountByID(e.ctx, e.acct.ID); acct.UsedMessages != 0 {
		t.Errorf("quota still counts %d", acct.UsedMessages)
	}
	r = e.emailSet("destroy", []string{id})
	if typ, _ := setErr(t, r, "notDestroyed", id); typ != "notFound" {
		t.Errorf("second destroy: %s", typ)
	}
}

func TestEmailSetDestroyMany(t *testing.T) {
	e := newEnv(t, Options{})
	var ids []string
	for _, mb := range []string{"INBOX", "INBOX", "Archive", "Trash", "Trash"} {
		ids = append(ids, emailID(e.deliverOne(mb).ID))
	}
	r := e.emailSet("destroy", append(ids, "e999999"))
	got := strs(r["destroyed"])
	slices.Sort(got)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("destroyed %v, want %v", got, want)
	}
	if typ, _ := setErr(t, r, "notDestroyed", "e999999"); typ != "notFound" {
		t.Errorf("unknown: %s", typ)
	}
	for _, mb := range []string{"INBOX", "Archive", "Trash"} {
		if rows, _ := e.st.Messages(e.ctx, e.mailbox(mb).ID, 1, 0); len(rows) != 0 {
			t.Errorf("%s keeps %d", mb, len(rows))
		}
	}
}

// TestEmailSetStaleRow: a keyword an IMAP session set after the row was
// read survives a patch of another keyword (the update's UNCHANGEDSINCE
// fails, the row is read again), and a move works from a stale UID.
func TestEmailSetStaleRow(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverOne("INBOX")
	h := &handler{st: e.st, opts: Options{}.withDefaults()}
	v, err := h.loadView(e.ctx, e.acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := &emailRun{h: h, c: &jmap.Call{Name: "Email/set", CreatedIDs: map[string]string{}}, acct: e.acct.ID, v: v, resp: &setResponse{}}
	stale := map[int64]store.Message{m.ID: m}
	if _, err := e.st.UpdateFlags(e.ctx, m.MailboxID, []uint32{m.UID}, store.FlagUpdate{Op: store.FlagsAdd, Keywords: []string{"Work"}}); err != nil {
		t.Fatal(err)
	}
	id := emailID(m.ID)
	if err := r.update(e.ctx, id, map[string]json.RawMessage{"keywords/$seen": json.RawMessage("true")}, stale); err != nil {
		t.Fatal(err)
	}
	got, _ := e.row(m.ID)
	if got.Flags != store.FlagSeen || !slices.Equal(got.Keywords, []string{"work"}) || r.resp.NotUpdated != nil {
		t.Errorf("after a stale patch: %v %v %v", got.Flags, got.Keywords, r.resp.NotUpdated)
	}
	// An IMAP MOVE to Archive after the read; JMAP moves it on to Junk.
	if _, _, err := e.st.Copy(e.ctx, m.MailboxID, []uint32{m.UID}, e.mailbox("Archive").ID, true); err != nil {
		t.Fatal(err)
	}
	patch := map[string]json.RawMessage{"mailboxIds": json.RawMessage(`{"` + e.id("Junk") + `":true}`)}
	if err := r.update(e.ctx, id, patch, stale); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.row(m.ID); got.MailboxID != e.mailbox("Junk").ID || r.resp.NotUpdated != nil {
		t.Errorf("after a stale move: %+v %v", got, r.resp.NotUpdated)
	}
}
