package jmapmail

import (
	"slices"
	"testing"
)

func (e *env) query(kv ...any) []string {
	e.t.Helper()
	r := e.call("Mailbox/query", e.args(kv...), "Mailbox/query")
	if r["canCalculateChanges"] != false || r["queryState"] != e.state() {
		e.t.Errorf("query: %v", r)
	}
	return strs(r["ids"])
}

func TestQuery(t *testing.T) {
	e := newEnv(t, Options{})
	for _, n := range []string{"b", "B/x", "a", "INBOX/Kids"} {
		if _, err := e.st.CreateMailbox(e.ctx, e.acct.ID, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.SetSubscribed(e.ctx, e.acct.ID, "a", true); err != nil {
		t.Fatal(err)
	}
	id := e.id
	byName := e.query("sort", []any{map[string]any{"property": "name"}}, "filter", map[string]any{"parentId": nil})
	want := []string{id("a"), id("Archive"), id("b"), id("B/x"), id("Drafts"), id("INBOX"), id("Junk"), id("Sent"), id("Trash")}
	if !slices.Equal(byName, want) {
		t.Errorf("top level by name: %v, want %v", byName, want)
	}
	// RFC 8621 §2.3 example: sortOrder then name, as a tree.
	tree := e.query("sort", []any{map[string]any{"property": "sortOrder"}, map[string]any{"property": "name"}},
		"sortAsTree", true)
	want = []string{id("INBOX"), id("INBOX/Kids"), id("Drafts"), id("Sent"), id("Archive"), id("Junk"), id("Trash"),
		id("a"), id("b"), id("B/x")}
	if !slices.Equal(tree, want) {
		t.Errorf("tree: %v, want %v", tree, want)
	}
	desc := e.query("sort", []any{map[string]any{"property": "name", "isAscending": false}}, "filter",
		map[string]any{"hasAnyRole": false, "parentId": nil})
	if !slices.Equal(desc, []string{id("B/x"), id("b"), id("a")}) {
		t.Errorf("desc: %v", desc)
	}
	filters := []struct {
		f    any
		want []string
	}{
		{map[string]any{"role": "trash"}, []string{id("Trash")}},
		{map[string]any{"parentId": id("INBOX")}, []string{id("INBOX/Kids")}},
		{map[string]any{"name": "KID"}, []string{id("INBOX/Kids")}},
		{map[string]any{"isSubscribed": true, "hasAnyRole": false}, []string{id("a")}},
		{map[string]any{"operator": "OR", "conditions": []any{map[string]any{"role": "inbox"}, map[string]any{"name": "x"}}},
			[]string{id("B/x"), id("INBOX")}},
		{map[string]any{"operator": "NOT", "conditions": []any{map[string]any{"hasAnyRole": true}, map[string]any{"parentId": nil}}},
			[]string{id("INBOX/Kids")}},
	}
	for _, f := range filters {
		if got := e.query("filter", f.f); !slices.Equal(got, f.want) {
			t.Errorf("filter %v: %v, want %v", f.f, got, f.want)
		}
	}
	// filterAsTree: a match whose parent does not match is left out.
	if got := e.query("filter", map[string]any{"name": "k"}, "filterAsTree", true); !slices.Equal(got, []string{id("Junk")}) {
		t.Errorf("filterAsTree: %v", got)
	}
	if got := e.query("filter", map[string]any{"name": "k"}); !slices.Equal(got, []string{id("INBOX/Kids"), id("Junk")}) {
		t.Errorf("name k: %v", got)
	}

	// position, anchor, limit, total.
	r := e.call("Mailbox/query", e.args("sort", []any{map[string]any{"property": "name"}}, "position", -3, "limit", 2,
		"calculateTotal", true), "Mailbox/query")
	all := e.query("sort", []any{map[string]any{"property": "name"}})
	if r["total"] != 10.0 || r["position"] != 7.0 || !slices.Equal(strs(r["ids"]), all[7:9]) {
		t.Errorf("position -3: %v", r)
	}
	r = e.call("Mailbox/query", e.args("sort", []any{map[string]any{"property": "name"}}, "anchor", all[4], "anchorOffset", -1,
		"limit", 3), "Mailbox/query")
	if r["position"] != 3.0 || !slices.Equal(strs(r["ids"]), all[3:6]) || r["total"] != nil {
		t.Errorf("anchor: %v", r)
	}
	errs := []struct {
		args []any
		typ  string
	}{
		{[]any{"anchor", "m9999"}, "anchorNotFound"},
		{[]any{"limit", -1}, "invalidArguments"},
		{[]any{"sort", []any{map[string]any{"property": "totalEmails"}}}, "unsupportedSort"},
		{[]any{"sort", []any{map[string]any{"property": "name", "collation": "i;octet-ish"}}}, "unsupportedSort"},
		{[]any{"filter", map[string]any{"color": "red"}}, "unsupportedFilter"},
		{[]any{"filter", map[string]any{"operator": "XOR", "conditions": []any{}}}, "unsupportedFilter"},
		{[]any{"filter", map[string]any{"role": 3}}, "invalidArguments"},
	}
	for _, c := range errs {
		if typ := e.errorType("Mailbox/query", e.args(c.args...)); typ != c.typ {
			t.Errorf("%v: %s, want %s", c.args, typ, c.typ)
		}
	}
	if typ := e.errorType("Mailbox/queryChanges", e.args("sinceQueryState", e.state())); typ != "cannotCalculateChanges" {
		t.Errorf("queryChanges: %s", typ)
	}
	if typ := e.errorType("Mailbox/queryChanges", e.args("sinceQueryState", "1", "sort", []any{map[string]any{"property": "x"}})); typ != "unsupportedSort" {
		t.Errorf("queryChanges bad sort: %s", typ)
	}
}

// TestQueryThenGet is the RFC 8620 §3.7 pattern: a query and a get of its
// ids by result reference in one request.
func TestQueryThenGet(t *testing.T) {
	e := newEnv(t, Options{})
	rs := e.api(
		"Mailbox/query", e.args("filter", map[string]any{"role": "inbox"}),
		"Mailbox/get", e.args("#ids", map[string]any{"resultOf": "c0", "name": "Mailbox/query", "path": "/ids"},
			"properties", []string{"name"}),
	)
	if len(rs) != 2 || rs[1].Name != "Mailbox/get" {
		t.Fatalf("%+v", rs)
	}
	list := rs[1].Args["list"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "INBOX" {
		t.Errorf("get: %v", rs[1].Args)
	}
}
