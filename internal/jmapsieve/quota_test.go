package jmapsieve

import (
	"encoding/json"
	"testing"
)

func TestQuota(t *testing.T) {
	e := newEnv(t)
	get := e.call("Quota/get", e.args(), "Quota/get")
	jsonEq(t, "no limits", get, `{"accountId":"`+e.aid+`","state":"0.0.0.0","list":[],"notFound":[]}`)
	none := get["state"].(string)

	if err := e.st.SetQuota(e.ctx, "alice@example.org", 10<<20, 0); err != nil {
		t.Fatal(err)
	}
	e.deliverTo("carol@remote.test", inbound)
	get = e.call("Quota/get", e.args(), "Quota/get")
	acct, _ := e.st.AccountByID(e.ctx, e.acct.ID)
	if acct.UsedBytes <= 0 {
		t.Fatalf("usage not counted: %+v", acct)
	}
	// The shape of RFC 9425 §4.1's example.
	jsonEq(t, "storage", get["list"], `[{"id":"storage","resourceType":"octets","used":`+itoa(acct.UsedBytes)+
		`,"hardLimit":10485760,"scope":"account","name":"alice@example.org storage","types":["Mail"]}]`)
	s1 := get["state"].(string)
	ch := e.call("Quota/changes", e.args("sinceState", none), "Quota/changes")
	jsonEq(t, "created", ch, `{"accountId":"`+e.aid+`","oldState":"`+none+`","newState":"`+s1+`","hasMoreChanges":false,
		"created":["storage"],"updated":[],"destroyed":[]}`)

	if err := e.st.SetQuota(e.ctx, "alice@example.org", 0, 100); err != nil {
		t.Fatal(err)
	}
	e.deliverTo("carol@remote.test", inbound)
	ch = e.call("Quota/changes", e.args("sinceState", s1), "Quota/changes")
	jsonEq(t, "swap", []any{ch["created"], ch["updated"], ch["destroyed"]}, `[["messages"],[],["storage"]]`)
	if err := e.st.SetQuota(e.ctx, "alice@example.org", 1<<30, 100); err != nil {
		t.Fatal(err)
	}
	s2 := e.call("Quota/get", e.args(), "Quota/get")["state"].(string)
	e.deliverTo("carol@remote.test", inbound)
	ch = e.call("Quota/changes", e.args("sinceState", s2), "Quota/changes")
	jsonEq(t, "usage", []any{ch["created"], ch["updated"], ch["destroyed"]}, `[[],["storage","messages"],[]]`)
	if typ := e.errorType("Quota/changes", e.args("sinceState", s2, "maxChanges", 1)); typ != "cannotCalculateChanges" {
		t.Errorf("over maxChanges: %s", typ)
	}
	if typ := e.errorType("Quota/changes", e.args("sinceState", "garbage")); typ != "cannotCalculateChanges" {
		t.Errorf("bad state: %s", typ)
	}

	get = e.call("Quota/get", e.args("ids", []string{"messages", "nope"}, "properties", []string{"used"}), "Quota/get")
	jsonEq(t, "by id", []any{get["list"], get["notFound"]}, `[[{"id":"messages","used":3}],["nope"]]`)

	q := e.call("Quota/query", e.args("filter", map[string]any{"resourceType": "count"}), "Quota/query")
	jsonEq(t, "by type", q["ids"], `["messages"]`)
	q = e.call("Quota/query", e.args("filter", map[string]any{"operator": "AND", "conditions": []any{
		map[string]any{"scope": []string{"account"}}, map[string]any{"type": "Mail"}}},
		"sort", []any{map[string]any{"property": "used", "isAscending": false}}, "calculateTotal", true), "Quota/query")
	jsonEq(t, "by used", []any{q["ids"], q["total"]}, `[["storage","messages"],2]`)
	q = e.call("Quota/query", e.args("filter", map[string]any{"name": "messages"}, "position", -1), "Quota/query")
	jsonEq(t, "name", q["ids"], `["messages"]`)
	for want, args := range map[string]map[string]any{
		"unsupportedSort":   e.args("sort", []any{map[string]any{"property": "hardLimit"}}),
		"unsupportedFilter": e.args("filter", map[string]any{"warnLimit": 1}),
		"invalidArguments":  e.args("filter", map[string]any{"operator": "XOR", "conditions": []any{}}),
		"anchorNotFound":    e.args("anchor", "x"),
	} {
		if typ := e.errorType("Quota/query", args); typ != want {
			t.Errorf("%v: %s, want %s", args, typ, want)
		}
	}
	if typ := e.errorType("Quota/queryChanges", e.args("sinceQueryState", q["queryState"])); typ != "cannotCalculateChanges" {
		t.Errorf("queryChanges: %s", typ)
	}
	if typ := e.errorType("Quota/get", map[string]any{"accountId": "a999"}); typ != "accountNotFound" {
		t.Errorf("other account: %s", typ)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
