package jmapmail

import (
	"slices"
	"testing"
)

func setErr(t *testing.T, r map[string]any, list, key string) (typ string, props []string) {
	t.Helper()
	m, _ := r[list].(map[string]any)
	e, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%s[%s] missing in %v", list, key, r)
	}
	return e["type"].(string), strs(e["properties"])
}

func TestSetCreateWithReferences(t *testing.T) {
	e := newEnv(t, Options{})
	old := e.state()
	rs := e.api(
		"Mailbox/set", e.args("ifInState", old, "create", map[string]any{
			"b": map[string]any{"name": "Q1", "parentId": "#a", "isSubscribed": true},
			"a": map[string]any{"name": "Projects", "sortOrder": 3},
		}),
		"Mailbox/get", e.args("ids", []string{"#a", "#b"}, "properties", []string{"name", "parentId", "isSubscribed"}),
	)
	set := rs[0].Args
	if rs[0].Name != "Mailbox/set" || set["oldState"] != old || set["newState"] == old {
		t.Fatalf("set: %+v", rs[0])
	}
	created := set["created"].(map[string]any)
	a, b := created["a"].(map[string]any), created["b"].(map[string]any)
	if a["id"] != e.id("Projects") || b["id"] != e.id("Projects/Q1") {
		t.Fatalf("created %v", created)
	}
	// Properties the client did not give come back, and sortOrder (which
	// the server sets) always.
	if a["sortOrder"] != 10.0 || a["isSubscribed"] != false || a["parentId"] != nil || a["role"] != nil ||
		a["totalEmails"] != 0.0 || a["myRights"] == nil || a["name"] != nil {
		t.Errorf("created a: %v", a)
	}
	if _, ok := b["parentId"]; ok {
		t.Errorf("created b repeats parentId: %v", b)
	}
	if set["notCreated"] != nil || set["updated"] != nil || set["destroyed"] != nil {
		t.Errorf("set: %v", set)
	}
	list := rs[1].Args["list"].([]any)
	if len(list) != 2 || list[1].(map[string]any)["parentId"] != a["id"] || list[1].(map[string]any)["isSubscribed"] != true {
		t.Errorf("get: %v", rs[1].Args)
	}
	if !e.mailbox("Projects/Q1").Subscribed {
		t.Error("store: Q1 not subscribed")
	}
	if got := e.state(); got != set["newState"] {
		t.Errorf("state %s after set, newState %s", got, set["newState"])
	}
}

func TestSetIfInState(t *testing.T) {
	e := newEnv(t, Options{})
	if typ := e.errorType("Mailbox/set", e.args("ifInState", "1", "create", map[string]any{"x": map[string]any{"name": "X"}})); typ != "stateMismatch" {
		t.Errorf("ifInState: %s", typ)
	}
	if _, err := e.st.Mailbox(e.ctx, e.acct.ID, "X"); err == nil {
		t.Error("created despite stateMismatch")
	}
}

func TestSetCreateErrors(t *testing.T) {
	e := newEnv(t, Options{MaxMailboxDepth: 2})
	if _, err := e.st.CreateMailbox(e.ctx, e.acct.ID, "A", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateMailbox(e.ctx, e.acct.ID, "A/B", ""); err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'x'
	}
	r := e.call("Mailbox/set", e.args("create", map[string]any{
		"noname":   map[string]any{"parentId": nil},
		"slash":    map[string]any{"name": "a/b"},
		"empty":    map[string]any{"name": ""},
		"long":     map[string]any{"name": string(long)},
		"server":   map[string]any{"name": "S", "totalEmails": 0},
		"unknown":  map[string]any{"name": "U", "color": "red"},
		"dup":      map[string]any{"name": "A"},
		"inbox":    map[string]any{"name": "inbox"},
		"roleIn":   map[string]any{"name": "R1", "role": "inbox"},
		"roleDup":  map[string]any{"name": "R2", "role": "trash"},
		"roleBad":  map[string]any{"name": "R3", "role": "important"},
		"parent":   map[string]any{"name": "P", "parentId": "m9999"},
		"refGone":  map[string]any{"name": "P2", "parentId": "#dup"},
		"deep":     map[string]any{"name": "C", "parentId": e.id("A/B")},
		"notObj":   "x",
		"badSub":   map[string]any{"name": "Z", "isSubscribed": "yes"},
		"badOrder": map[string]any{"name": "Z", "sortOrder": -1},
	}), "Mailbox/set")
	cases := map[string]struct {
		typ   string
		props []string
	}{
		"noname":   {"invalidProperties", []string{"name"}},
		"slash":    {"invalidProperties", []string{"name"}},
		"empty":    {"invalidProperties", []string{"name"}},
		"long":     {"invalidProperties", []string{"name"}},
		"server":   {"invalidProperties", []string{"totalEmails"}},
		"unknown":  {"invalidProperties", []string{"color"}},
		"dup":      {"alreadyExists", nil},
		"inbox":    {"alreadyExists", nil},
		"roleIn":   {"invalidProperties", []string{"role"}},
		"roleDup":  {"invalidProperties", []string{"role"}},
		"roleBad":  {"invalidProperties", []string{"role"}},
		"parent":   {"invalidProperties", []string{"parentId"}},
		"refGone":  {"invalidProperties", []string{"parentId"}},
		"deep":     {"invalidProperties", []string{"parentId"}},
		"notObj":   {"invalidProperties", nil},
		"badSub":   {"invalidProperties", []string{"isSubscribed"}},
		"badOrder": {"invalidProperties", []string{"sortOrder"}},
	}
	for k, c := range cases {
		typ, props := setErr(t, r, "notCreated", k)
		if typ != c.typ || !slices.Equal(props, c.props) {
			t.Errorf("%s: %s %v, want %s %v", k, typ, props, c.typ, c.props)
		}
	}
	nc := r["notCreated"].(map[string]any)
	if nc["dup"].(map[string]any)["existingId"] != e.id("A") || nc["inbox"].(map[string]any)["existingId"] != e.id("INBOX") {
		t.Errorf("existingId: %v %v", nc["dup"], nc["inbox"])
	}
	if r["created"] != nil || r["oldState"] != r["newState"] {
		t.Errorf("created %v, states %v -> %v", r["created"], r["oldState"], r["newState"])
	}
	// A cycle of references is refused, not looped over.
	r = e.call("Mailbox/set", e.args("create", map[string]any{
		"x": map[string]any{"name": "X", "parentId": "#y"},
		"y": map[string]any{"name": "Y", "parentId": "#x"},
	}), "Mailbox/set")
	for _, k := range []string{"x", "y"} {
		if typ, _ := setErr(t, r, "notCreated", k); typ != "invalidProperties" {
			t.Errorf("cycle %s: %s", k, typ)
		}
	}
	if typ := e.errorType("Mailbox/set", map[string]any{"accountId": "a999"}); typ != "accountNotFound" {
		t.Errorf("other account: %s", typ)
	}
}

func TestSetRole(t *testing.T) {
	e := newEnv(t, Options{})
	trash := e.id("Trash")
	r := e.call("Mailbox/set", e.args("destroy", []string{trash}), "Mailbox/set")
	if !slices.Equal(strs(r["destroyed"]), []string{trash}) {
		t.Fatalf("destroy Trash: %v", r)
	}
	r = e.call("Mailbox/set", e.args("create", map[string]any{"t": map[string]any{"name": "Bin", "role": "trash"}}), "Mailbox/set")
	c := r["created"].(map[string]any)["t"].(map[string]any)
	if c["sortOrder"] != 6.0 || e.mailbox("Bin").SpecialUse != `\Trash` {
		t.Errorf("created %v, store %+v", c, e.mailbox("Bin"))
	}
	r = e.call("Mailbox/set", e.args("update", map[string]any{c["id"].(string): map[string]any{"role": nil}}), "Mailbox/set")
	if typ, props := setErr(t, r, "notUpdated", c["id"].(string)); typ != "invalidProperties" || !slices.Equal(props, []string{"role"}) {
		t.Errorf("role change: %s %v", typ, props)
	}
	r = e.call("Mailbox/set", e.args("update", map[string]any{c["id"].(string): map[string]any{"role": "trash"}}), "Mailbox/set")
	if u := r["updated"].(map[string]any); len(u) != 1 {
		t.Errorf("same role: %v", r)
	}
}

func TestSetUpdate(t *testing.T) {
	e := newEnv(t, Options{})
	for _, n := range []string{"A", "A/B", "C"} {
		if _, err := e.st.CreateMailbox(e.ctx, e.acct.ID, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	a, b, c := e.id("A"), e.id("A/B"), e.id("C")
	old := e.state()
	r := e.call("Mailbox/set", e.args("update", map[string]any{
		a: map[string]any{"name": "Alpha", "isSubscribed": true},
		c: map[string]any{"parentId": a, "sortOrder": 0},
	}), "Mailbox/set")
	u := r["updated"].(map[string]any)
	if u[a] != nil || u[c].(map[string]any)["sortOrder"] != 10.0 || r["notUpdated"] != nil || r["oldState"] != old {
		t.Fatalf("update: %v", r)
	}
	if e.id("Alpha") != a || e.id("Alpha/B") != b || e.id("Alpha/C") != c || !e.mailbox("Alpha").Subscribed {
		t.Errorf("store after rename")
	}
	g := e.call("Mailbox/get", e.args("ids", []string{b, c}, "properties", []string{"name", "parentId"}), "Mailbox/get")
	for _, o := range g["list"].([]any) {
		if o.(map[string]any)["parentId"] != a {
			t.Errorf("after move: %v", o)
		}
	}
	// Back to the top level, by parentId null.
	r = e.call("Mailbox/set", e.args("update", map[string]any{c: map[string]any{"parentId": nil, "name": "C2"}}), "Mailbox/set")
	if r["updated"] == nil || e.id("C2") != c {
		t.Errorf("move to top: %v", r)
	}

	inbox := e.id("INBOX")
	r = e.call("Mailbox/set", e.args("update", map[string]any{
		inbox:        map[string]any{"name": "Old"},
		a:            map[string]any{"parentId": b},
		b:            map[string]any{"name": "C2", "parentId": nil},
		c:            map[string]any{"totalEmails": 3},
		e.id("Sent"): map[string]any{"myRights/mayDelete": false},
		"m9999":      map[string]any{"name": "Z"},
	}), "Mailbox/set")
	cases := map[string][2]string{
		inbox:        {"forbidden", ""},
		a:            {"invalidProperties", "parentId"},
		b:            {"invalidProperties", "name"},
		c:            {"invalidProperties", "totalEmails"},
		e.id("Sent"): {"invalidProperties", "myRights"},
		"m9999":      {"notFound", ""},
	}
	for id, w := range cases {
		typ, props := setErr(t, r, "notUpdated", id)
		if typ != w[0] || (w[1] != "" && !slices.Equal(props, []string{w[1]})) {
			t.Errorf("%s: %s %v, want %v", id, typ, props, w)
		}
	}
	// INBOX may be subscribed and unsubscribed.
	r = e.call("Mailbox/set", e.args("update", map[string]any{inbox: map[string]any{"isSubscribed": false}}), "Mailbox/set")
	if r["updated"] == nil || e.mailbox("INBOX").Subscribed {
		t.Errorf("unsubscribe INBOX: %v", r)
	}
}

func TestSetDestroy(t *testing.T) {
	e := newEnv(t, Options{})
	for _, n := range []string{"P", "P/Q", "T", "T/U", "Full"} {
		if _, err := e.st.CreateMailbox(e.ctx, e.acct.ID, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	e.deliver("Full", "f1@x", "")
	p, q, tt, u, full := e.id("P"), e.id("P/Q"), e.id("T"), e.id("T/U"), e.id("Full")
	r := e.call("Mailbox/set", e.args("destroy", []string{e.id("INBOX"), p, full, "m9999", tt, u}), "Mailbox/set")
	cases := map[string]string{e.id("INBOX"): "forbidden", p: "mailboxHasChild", full: "mailboxHasEmail", "m9999": "notFound"}
	for id, w := range cases {
		if typ, _ := setErr(t, r, "notDestroyed", id); typ != w {
			t.Errorf("%s: %s, want %s", id, typ, w)
		}
	}
	// A whole tree goes in one request, children first.
	if d := strs(r["destroyed"]); !slices.Equal(d, []string{u, tt}) {
		t.Errorf("destroyed %v", d)
	}
	r = e.call("Mailbox/set", e.args("destroy", []string{full, q}, "onDestroyRemoveEmails", true), "Mailbox/set")
	if d := strs(r["destroyed"]); len(d) != 2 || r["notDestroyed"] != nil {
		t.Errorf("destroy with emails: %v", r)
	}
	if _, err := e.st.Mailbox(e.ctx, e.acct.ID, "Full"); err == nil {
		t.Error("Full still in the store")
	}
}
