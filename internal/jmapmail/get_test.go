package jmapmail

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"

	"postern/internal/store"
)

func TestSessionCapability(t *testing.T) {
	e := newEnv(t, Options{})
	req, _ := http.NewRequest("GET", e.http.URL+"/.well-known/jmap", nil)
	req.SetBasicAuth(e.user, "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var s struct {
		Capabilities map[string]json.RawMessage
		Accounts     map[string]struct {
			AccountCapabilities map[string]map[string]any
		}
		PrimaryAccounts map[string]string
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if string(s.Capabilities[Capability]) != "{}" {
		t.Errorf("session capability %s, want {} (RFC 8621 §1.3.1)", s.Capabilities[Capability])
	}
	ac := s.Accounts[e.aid].AccountCapabilities[Capability]
	want := map[string]any{"maxMailboxesPerEmail": 1.0, "maxMailboxDepth": 10.0, "maxSizeMailboxName": 255.0,
		"maxSizeAttachmentsPerEmail": float64(50 << 20), "mayCreateTopLevelMailbox": true}
	for k, v := range want {
		if ac[k] != v {
			t.Errorf("%s = %v, want %v", k, ac[k], v)
		}
	}
	if got := strs(ac["emailQuerySortOptions"]); !slices.Equal(got, emailSortProperties) {
		t.Errorf("emailQuerySortOptions %v", got)
	}
	if s.PrimaryAccounts[Capability] != e.aid {
		t.Errorf("primaryAccounts %v", s.PrimaryAccounts)
	}

	e2 := newEnv(t, Options{MaxMailboxesPerEmail: -1})
	if ac := e2.accountCapability(); ac["maxMailboxesPerEmail"] != nil {
		t.Errorf("maxMailboxesPerEmail %v, want null", ac["maxMailboxesPerEmail"])
	}
}

func (e *env) accountCapability() map[string]any {
	req, _ := http.NewRequest("GET", e.http.URL+"/jmap/session", nil)
	req.SetBasicAuth(e.user, "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var s struct {
		Accounts map[string]struct {
			AccountCapabilities map[string]map[string]any
		}
	}
	json.NewDecoder(res.Body).Decode(&s)
	return s.Accounts[e.aid].AccountCapabilities[Capability]
}

func TestGetAll(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.call("Mailbox/get", e.args("ids", nil), "Mailbox/get")
	if r["accountId"] != e.aid || r["state"] == "" || len(r["notFound"].([]any)) != 0 {
		t.Errorf("response %v", r)
	}
	roles := map[string]string{}
	for _, o := range r["list"].([]any) {
		m := o.(map[string]any)
		if len(m) != len(properties) {
			t.Errorf("%v: %d properties, want %d", m, len(m), len(properties))
		}
		role, _ := m["role"].(string)
		roles[m["name"].(string)] = role
		if m["parentId"] != nil || m["totalEmails"] != 0.0 || m["unreadThreads"] != 0.0 {
			t.Errorf("%v", m)
		}
		rights := m["myRights"].(map[string]any)
		inbox := m["name"] == "INBOX"
		if rights["mayDelete"] == inbox || rights["mayRename"] == inbox || rights["mayReadItems"] != true || len(rights) != 9 {
			t.Errorf("%s: myRights %v", m["name"], rights)
		}
		if m["id"] != e.id(m["name"].(string)) {
			t.Errorf("id %v of %v", m["id"], m["name"])
		}
	}
	want := map[string]string{"INBOX": "inbox", "Drafts": "drafts", "Sent": "sent", "Archive": "archive", "Junk": "junk", "Trash": "trash"}
	if len(roles) != len(want) {
		t.Errorf("roles %v", roles)
	}
	for k, v := range want {
		if roles[k] != v {
			t.Errorf("role of %s = %q, want %q", k, roles[k], v)
		}
	}
}

func TestGetTreeAndProperties(t *testing.T) {
	e := newEnv(t, Options{})
	for _, n := range []string{"Lists", "Lists/Go", "Lists/Go/Nuts", "Orphan/Child", "INBOX/Sub"} {
		if _, err := e.st.CreateMailbox(e.ctx, e.acct.ID, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	ids := []string{e.id("Lists/Go"), e.id("Lists/Go/Nuts"), e.id("Orphan/Child"), e.id("INBOX/Sub"), "m999", "x1", "#nope"}
	r := e.call("Mailbox/get", e.args("ids", ids, "properties", []string{"name", "parentId"}), "Mailbox/get")
	list := r["list"].([]any)
	if len(list) != 4 {
		t.Fatalf("list %v", list)
	}
	want := []struct {
		name   string
		parent any
	}{{"Go", e.id("Lists")}, {"Nuts", e.id("Lists/Go")}, {"Orphan/Child", nil}, {"Sub", e.id("INBOX")}}
	for i, w := range want {
		m := list[i].(map[string]any)
		if len(m) != 3 || m["id"] != ids[i] || m["name"] != w.name || m["parentId"] != w.parent {
			t.Errorf("%d: %v, want %+v", i, m, w)
		}
	}
	if nf := strs(r["notFound"]); !slices.Equal(nf, []string{"m999", "x1", "#nope"}) {
		t.Errorf("notFound %v", nf)
	}
	if typ := e.errorType("Mailbox/get", e.args("properties", []string{"name", "color"})); typ != "invalidArguments" {
		t.Errorf("unknown property: %s", typ)
	}
	bob := map[string]any{"accountId": "a999", "ids": nil}
	if typ := e.errorType("Mailbox/get", bob); typ != "accountNotFound" {
		t.Errorf("other account: %s", typ)
	}
	if typ := e.errorType("Mailbox/get", map[string]any{"accountId": e.aid, "bogus": 1}); typ != "invalidArguments" {
		t.Errorf("unknown argument: %s", typ)
	}
}

func TestGetCounts(t *testing.T) {
	e := newEnv(t, Options{})
	// Thread A: two messages in INBOX, one read; thread B: one in INBOX
	// (read) and a reply in Archive (unread); thread C: unread in Trash
	// with a read reply in INBOX.
	a1 := e.deliver("INBOX", "a1@x", "")
	e.deliver("INBOX", "a2@x", "a1@x")
	b1 := e.deliver("INBOX", "b1@x", "")
	e.deliver("Archive", "b2@x", "b1@x")
	e.deliver("Trash", "c1@x", "")
	c2 := e.deliver("INBOX", "c2@x", "c1@x")
	inbox := e.mailbox("INBOX")
	if _, err := e.st.UpdateFlags(e.ctx, inbox.ID, []uint32{a1.UID, b1.UID, c2.UID}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	r := e.call("Mailbox/get", e.args("ids", []string{e.id("INBOX"), e.id("Archive"), e.id("Trash"), e.id("Sent")},
		"properties", []string{"totalEmails", "unreadEmails", "totalThreads", "unreadThreads"}), "Mailbox/get")
	want := [][4]float64{
		{4, 1, 3, 2}, // INBOX: A unread (a2), B unread (b2 in Archive), C not (c1 is in the trash)
		{1, 1, 1, 1}, // Archive
		{1, 1, 1, 1}, // Trash: c1 unread in the trash
		{0, 0, 0, 0},
	}
	for i, o := range r["list"].([]any) {
		m := o.(map[string]any)
		got := [4]float64{m["totalEmails"].(float64), m["unreadEmails"].(float64), m["totalThreads"].(float64), m["unreadThreads"].(float64)}
		if got != want[i] {
			t.Errorf("%s: counts %v, want %v", m["id"], got, want[i])
		}
	}
}
