package jmapmail

import (
	"slices"
	"sort"
	"testing"
)

// changesSince returns created, updated, destroyed and the new state.
func (e *env) changesSince(state string) (c, u, d []string, newState string) {
	e.t.Helper()
	r := e.call("Mailbox/changes", e.args("sinceState", state), "Mailbox/changes")
	if r["oldState"] != state || r["hasMoreChanges"] != false || r["updatedProperties"] != nil {
		e.t.Errorf("changes: %v", r)
	}
	return strs(r["created"]), strs(r["updated"]), strs(r["destroyed"]), r["newState"].(string)
}

func (e *env) set(args map[string]any) map[string]any {
	e.t.Helper()
	return e.call("Mailbox/set", args, "Mailbox/set")
}

func TestChanges(t *testing.T) {
	e := newEnv(t, Options{})
	s0 := e.state()
	if c, u, d, ns := e.changesSince(s0); len(c)+len(u)+len(d) != 0 || ns != s0 {
		t.Errorf("no change: %v %v %v %s", c, u, d, ns)
	}
	r := e.set(e.args("create", map[string]any{"x": map[string]any{"name": "X"}}))
	x := r["created"].(map[string]any)["x"].(map[string]any)["id"].(string)
	s1 := r["newState"].(string)
	c, u, d, ns := e.changesSince(s0)
	if !slices.Equal(c, []string{x}) || len(u)+len(d) != 0 || ns != s1 {
		t.Errorf("after create: %v %v %v %s", c, u, d, ns)
	}
	// A rename, and mail in an old mailbox: updated.
	s2 := e.set(e.args("update", map[string]any{x: map[string]any{"name": "Y"}}))["newState"].(string)
	if c, u, d, _ := e.changesSince(s1); len(c)+len(d) != 0 || !slices.Equal(u, []string{x}) {
		t.Errorf("after rename: %v %v %v", c, u, d)
	}
	e.deliver("Archive", "a@x", "")
	if c, u, d, _ := e.changesSince(s2); len(c)+len(d) != 0 || !slices.Equal(u, []string{e.id("Archive")}) {
		t.Errorf("after mail: %v %v %v", c, u, d)
	}
	// Still created when renamed after the state it was made after.
	if c, u, _, _ := e.changesSince(s0); !slices.Equal(c, []string{x}) || !slices.Equal(u, []string{e.id("Archive")}) {
		t.Errorf("since s0: %v %v", c, u)
	}
	s3 := e.state()
	e.set(e.args("destroy", []string{x}))
	if c, u, d, _ := e.changesSince(s3); len(c)+len(u) != 0 || !slices.Equal(d, []string{x}) {
		t.Errorf("after destroy: %v %v %v", c, u, d)
	}
	// Created and destroyed since s0: only destroyed (RFC 8620 §5.2 MAY).
	if c, _, d, _ := e.changesSince(s0); len(c) != 0 || !slices.Equal(d, []string{x}) {
		t.Errorf("since s0: %v %v", c, d)
	}
	for _, bad := range []string{"", "abc", "007", "-1", "99999999"} {
		if typ := e.errorType("Mailbox/changes", e.args("sinceState", bad)); typ != "cannotCalculateChanges" {
			t.Errorf("sinceState %q: %s", bad, typ)
		}
	}
	for _, bad := range []any{0, -3, 1.5, "2"} {
		if typ := e.errorType("Mailbox/changes", e.args("sinceState", s0, "maxChanges", bad)); typ != "invalidArguments" {
			t.Errorf("maxChanges %v: %s", bad, typ)
		}
	}
	if typ := e.errorType("Mailbox/changes", map[string]any{"accountId": "a999", "sinceState": s0}); typ != "accountNotFound" {
		t.Errorf("other account: %s", typ)
	}
}

// TestChangesOldMessages: mail arriving in an old mailbox that is
// the newest of the account is proven old by its older messages.
func TestChangesOldMessages(t *testing.T) {
	e := newEnv(t, Options{})
	if _, err := e.st.CreateMailbox(e.ctx, e.acct.ID, "Newest", ""); err != nil {
		t.Fatal(err)
	}
	e.deliver("Newest", "n1@x", "")
	s := e.state()
	e.deliver("Newest", "n2@x", "")
	if c, u, _, _ := e.changesSince(s); len(c) != 0 || !slices.Equal(u, []string{e.id("Newest")}) {
		t.Errorf("created %v updated %v", c, u)
	}
}

func TestChangesMaxChanges(t *testing.T) {
	e := newEnv(t, Options{})
	s0 := e.state()
	var want []string
	for _, n := range []string{"A", "B", "C"} {
		r := e.set(e.args("create", map[string]any{"k": map[string]any{"name": n}}))
		want = append(want, r["created"].(map[string]any)["k"].(map[string]any)["id"].(string))
	}
	e.set(e.args("destroy", []string{want[0]}))
	e.deliver("INBOX", "i@x", "")
	final := e.state()
	var created, updated, destroyed []string
	state := s0
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("no end")
		}
		r := e.call("Mailbox/changes", e.args("sinceState", state, "maxChanges", 1), "Mailbox/changes")
		c, u, d := strs(r["created"]), strs(r["updated"]), strs(r["destroyed"])
		if len(c)+len(u)+len(d) > 1 {
			t.Fatalf("more than maxChanges: %v", r)
		}
		created, updated, destroyed = append(created, c...), append(updated, u...), append(destroyed, d...)
		state = r["newState"].(string)
		if r["hasMoreChanges"] == false {
			break
		}
	}
	sort.Strings(created)
	if state != final || !slices.Equal(created, []string{want[1], want[2]}) || !slices.Equal(destroyed, []string{want[0]}) ||
		!slices.Equal(updated, []string{e.id("INBOX")}) {
		t.Errorf("state %s (want %s), created %v, updated %v, destroyed %v", state, final, created, updated, destroyed)
	}
	// One rename that moves two mailboxes cannot fit maxChanges 1.
	if _, err := e.st.CreateMailbox(e.ctx, e.acct.ID, "B/Kid", ""); err != nil {
		t.Fatal(err)
	}
	s := e.state()
	e.set(e.args("update", map[string]any{want[1]: map[string]any{"name": "B2"}}))
	if typ := e.errorType("Mailbox/changes", e.args("sinceState", s, "maxChanges", 1)); typ != "cannotCalculateChanges" {
		t.Errorf("tree rename with maxChanges 1: %s", typ)
	}
	r := e.call("Mailbox/changes", e.args("sinceState", s, "maxChanges", 2), "Mailbox/changes")
	if u := strs(r["updated"]); len(u) != 2 || r["hasMoreChanges"] != false {
		t.Errorf("tree rename: %v", r)
	}
}

// TestChangesReusedID: a mailbox made after one was destroyed has a new
// id, so changes report one destroyed and one created.
func TestChangesReusedID(t *testing.T) {
	e := newEnv(t, Options{})
	x, err := e.st.CreateMailbox(e.ctx, e.acct.ID, "X", "")
	if err != nil {
		t.Fatal(err)
	}
	s := e.state()
	if err := e.st.DeleteMailbox(e.ctx, e.acct.ID, "X"); err != nil {
		t.Fatal(err)
	}
	y, err := e.st.CreateMailbox(e.ctx, e.acct.ID, "Y", "")
	if err != nil {
		t.Fatal(err)
	}
	c, u, d, _ := e.changesSince(s)
	if x.ID == y.ID {
		t.Fatalf("mailbox id %d given again", x.ID)
	}
	if !slices.Equal(c, []string{mailboxID(y.ID)}) || !slices.Equal(d, []string{mailboxID(x.ID)}) || len(u) != 0 {
		t.Errorf("created %v updated %v destroyed %v", c, u, d)
	}
}
