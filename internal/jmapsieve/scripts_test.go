package jmapsieve

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"postern/internal/admin"
)

func TestSieveCapability(t *testing.T) {
	e := newEnv(t)
	code, b := e.get("/jmap/session")
	if code != 200 {
		t.Fatalf("session: %d %s", code, b)
	}
	var s struct {
		Capabilities map[string]any
		Accounts     map[string]struct{ AccountCapabilities map[string]json.RawMessage }
	}
	json.Unmarshal(b, &s)
	for _, c := range []string{CapabilityVacation, CapabilitySieve, CapabilityQuota} {
		if _, ok := s.Capabilities[c]; !ok {
			t.Errorf("session lacks %s", c)
		}
	}
	var sc map[string]any
	json.Unmarshal(s.Accounts[e.aid].AccountCapabilities[CapabilitySieve], &sc)
	if sc["maxSizeScript"] != float64(admin.MaxSieveScriptSize) || sc["maxNumberScripts"] != float64(admin.MaxSieveScripts) ||
		sc["maxNumberRedirects"] != float64(5) || sc["maxSizeScriptName"] != float64(admin.MaxSieveScriptName) ||
		!strings.Contains(fmt.Sprint(sc["sieveExtensions"]), "vacation") || sc["notificationMethods"] != nil {
		t.Errorf("sieve capability %v", sc)
	}
}

func TestSieveScriptSetGetAndActivation(t *testing.T) {
	e := newEnv(t)
	good := e.upload("require \"fileinto\";\r\nfileinto \"Lists\";\r\n")
	bad := e.upload("require \"fileinto\";\r\nfileint \"Lists\";\r\n")
	state := e.call("SieveScript/get", e.args(), "SieveScript/get")["state"].(string)

	// RFC 9661 §3.5's example, in our ids: create and activate in one call.
	set := e.call("SieveScript/set", e.args("ifInState", state, "create", map[string]any{
		"1": map[string]any{"name": "foo", "blobId": good},
		"2": map[string]any{"name": nil, "blobId": bad},
		"3": map[string]any{"name": "x", "blobId": "b999"},
	}), "SieveScript/set")
	if se := setErr(t, set, "notCreated", "2"); se["type"] != "invalidSieve" || !strings.Contains(se["description"].(string), "line 2") {
		t.Errorf("bad script: %v", se)
	}
	if se := setErr(t, set, "notCreated", "3"); se["type"] != "blobNotFound" || strs(se["notFound"])[0] != "b999" {
		t.Errorf("unknown blob: %v", se)
	}
	foo := set["created"].(map[string]any)["1"].(map[string]any)
	fooID := foo["id"].(string)
	if foo["isActive"] != false || !strings.HasPrefix(foo["blobId"].(string), fooID+"-") {
		t.Errorf("created %v", foo)
	}

	// A failure in the call: no activation. Then one without failures.
	set = e.call("SieveScript/set", e.args("create", map[string]any{"b": map[string]any{"name": "bar", "blobId": good}},
		"onSuccessActivateScript", "#b"), "SieveScript/set")
	barID := set["created"].(map[string]any)["b"].(map[string]any)["id"].(string)
	if set["created"].(map[string]any)["b"].(map[string]any)["isActive"] != true {
		t.Errorf("activated create %v", set)
	}
	set = e.call("SieveScript/set", e.args("onSuccessActivateScript", fooID), "SieveScript/set")
	jsonEq(t, "switch active", set["updated"], `{"`+fooID+`":{"isActive":true},"`+barID+`":{"isActive":false}}`)
	// What ManageSieve lists (LISTSCRIPTS reads the admin service).
	listed, err := e.admin.SieveScripts(e.ctx, "alice@example.org")
	if err != nil || len(listed) != 2 || listed[0].Name != "bar" || listed[0].Active || listed[1].Name != "foo" || !listed[1].Active {
		t.Errorf("ManageSieve's list %+v %v", listed, err)
	}
	act, err := e.st.ActiveSieveScript(e.ctx, e.acct.ID)
	if err != nil || act.Name != "foo" {
		t.Errorf("store's active script %+v %v", act, err)
	}

	// alreadyExists, notFound, invalidProperties.
	set = e.call("SieveScript/set", e.args(
		"create", map[string]any{"d": map[string]any{"name": "foo", "blobId": good}, "e": map[string]any{"name": "e"},
			"f": map[string]any{"blobId": good, "isActive": true}},
		"update", map[string]any{"s999": map[string]any{"name": "z"}, barID: map[string]any{"name": "foo"}},
		"destroy", []string{"s999"}), "SieveScript/set")
	if se := setErr(t, set, "notCreated", "d"); se["type"] != "alreadyExists" || se["existingId"] != fooID {
		t.Errorf("name taken: %v", se)
	}
	if se := setErr(t, set, "notCreated", "e"); se["type"] != "invalidProperties" || strs(se["properties"])[0] != "blobId" {
		t.Errorf("no blobId: %v", se)
	}
	if se := setErr(t, set, "notCreated", "f"); se["type"] != "invalidProperties" || strs(se["properties"])[0] != "isActive" {
		t.Errorf("isActive is server-set: %v", se)
	}
	if se := setErr(t, set, "notUpdated", "s999"); se["type"] != "notFound" {
		t.Errorf("update unknown: %v", se)
	}
	if se := setErr(t, set, "notUpdated", barID); se["type"] != "alreadyExists" {
		t.Errorf("rename onto a taken name: %v", se)
	}
	if se := setErr(t, set, "notDestroyed", "s999"); se["type"] != "notFound" {
		t.Errorf("destroy unknown: %v", se)
	}
	set = e.call("SieveScript/set", e.args("create", map[string]any{"g": []int{1}}, "update", map[string]any{barID: "x"}), "SieveScript/set")
	if se := setErr(t, set, "notCreated", "g"); se["type"] != "invalidProperties" {
		t.Errorf("create from a non-object: %v", se)
	}
	if se := setErr(t, set, "notUpdated", barID); se["type"] != "invalidPatch" {
		t.Errorf("update with a non-object: %v", se)
	}

	// Update: rename, and content from another script's blobId (the copy
	// of bar's) and from an upload.
	barBlob := e.call("SieveScript/get", e.args("ids", []string{barID}), "SieveScript/get")["list"].([]any)[0].(map[string]any)["blobId"].(string)
	newSrc := e.upload("discard;")
	set = e.call("SieveScript/set", e.args("update", map[string]any{
		fooID: map[string]any{"name": "main", "blobId": newSrc},
		barID: map[string]any{"blobId": barBlob},
	}), "SieveScript/set")
	upd := set["updated"].(map[string]any)
	if m, _ := upd[fooID].(map[string]any); m == nil || !strings.HasPrefix(m["blobId"].(string), fooID+"-") {
		t.Errorf("update reports the new blobId: %v", set)
	}
	if upd[barID] != nil {
		t.Errorf("an unchanged blobId is not reported: %v", upd[barID])
	}
	list, _ := e.st.SieveScripts(e.ctx, e.acct.ID)
	if len(list) != 2 || list[0].Name != "bar" || list[1].Name != "main" || !list[1].Active || string(list[1].Source) != "discard;" {
		t.Errorf("store after update %+v", list)
	}
	// The download of a script's content.
	mainBlob := upd[fooID].(map[string]any)["blobId"].(string)
	if code, b := e.get("/jmap/download/" + e.aid + "/" + mainBlob + "/main.sieve"); code != 200 || string(b) != "discard;" {
		t.Errorf("download %d %q", code, b)
	}
	if code, _ := e.get("/jmap/download/" + e.aid + "/" + barBlob[:len(barBlob)-1] + "0/x"); code != 404 {
		t.Errorf("download of a stale blob: %d", code)
	}

	// The active script is not destroyed; deactivate, then destroy.
	set = e.call("SieveScript/set", e.args("destroy", []string{fooID}, "onSuccessDeactivateScript", true), "SieveScript/set")
	if se := setErr(t, set, "notDestroyed", fooID); se["type"] != "sieveIsActive" {
		t.Errorf("destroy active: %v", se)
	}
	if act, err := e.st.ActiveSieveScript(e.ctx, e.acct.ID); err != nil || act.Name != "main" {
		t.Errorf("a failed call deactivated: %+v %v", act, err)
	}
	set = e.call("SieveScript/set", e.args("onSuccessDeactivateScript", true), "SieveScript/set")
	jsonEq(t, "deactivate", set["updated"], `{"`+fooID+`":{"isActive":false}}`)
	set = e.call("SieveScript/set", e.args("destroy", []string{fooID}), "SieveScript/set")
	if strs(set["destroyed"])[0] != fooID {
		t.Errorf("destroy %v", set)
	}
	if typ := e.errorType("SieveScript/set", e.args("ifInState", state)); typ != "stateMismatch" {
		t.Errorf("stale state: %s", typ)
	}
}

func TestSieveScriptLimits(t *testing.T) {
	e := newEnv(t)
	big := e.upload("# " + strings.Repeat("x", admin.MaxSieveScriptSize) + "\nkeep;")
	set := e.call("SieveScript/set", e.args("create", map[string]any{"big": map[string]any{"blobId": big}}), "SieveScript/set")
	if se := setErr(t, set, "notCreated", "big"); se["type"] != "tooLarge" {
		t.Errorf("oversized: %v", se)
	}
	set = e.call("SieveScript/set", e.args("create", map[string]any{"n": map[string]any{"name": "a\nb", "blobId": e.upload("keep;")}}), "SieveScript/set")
	if se := setErr(t, set, "notCreated", "n"); se["type"] != "invalidProperties" || strs(se["properties"])[0] != "name" {
		t.Errorf("bad name: %v", se)
	}
	src := e.upload("keep;")
	create := map[string]any{}
	for i := 0; i <= admin.MaxSieveScripts; i++ {
		create[fmt.Sprintf("c%02d", i)] = map[string]any{"blobId": src}
	}
	set = e.call("SieveScript/set", e.args("create", create), "SieveScript/set")
	if n := len(set["created"].(map[string]any)); n != admin.MaxSieveScripts {
		t.Errorf("created %d", n)
	}
	over := set["notCreated"].(map[string]any)
	for _, se := range over {
		if se.(map[string]any)["type"] != "overQuota" {
			t.Errorf("past the count: %v", se)
		}
	}
	if len(over) != 1 {
		t.Errorf("refused %d", len(over))
	}
	// Server-assigned names.
	if _, err := e.st.SieveScript(e.ctx, e.acct.ID, "script-1"); err != nil {
		t.Errorf("script-1: %v", err)
	}
}

func TestSieveScriptValidate(t *testing.T) {
	e := newEnv(t)
	v := e.call("SieveScript/validate", e.args("blobId", e.upload(`require "vacation"; vacation "away";`)), "SieveScript/validate")
	jsonEq(t, "valid", v, `{"accountId":"`+e.aid+`","error":null}`)
	v = e.call("SieveScript/validate", e.args("blobId", e.upload("require [\"fileinto\"];\n\nif true {\n  fileinto\n}\n")), "SieveScript/validate")
	se, _ := v["error"].(map[string]any)
	if se == nil || se["type"] != "invalidSieve" || !strings.Contains(se["description"].(string), "line 5") {
		t.Errorf("invalid: %v", v)
	}
	v = e.call("SieveScript/validate", e.args("blobId", e.upload(`require "nosuchext";`)), "SieveScript/validate")
	if se, _ := v["error"].(map[string]any); se == nil || se["type"] != "invalidSieve" {
		t.Errorf("unknown extension: %v", v)
	}
	v = e.call("SieveScript/validate", e.args("blobId", "b404"), "SieveScript/validate")
	if se, _ := v["error"].(map[string]any); se == nil || se["type"] != "blobNotFound" {
		t.Errorf("unknown blob: %v", v)
	}
	if typ := e.errorType("SieveScript/validate", e.args()); typ != "invalidArguments" {
		t.Errorf("no blobId: %s", typ)
	}
	if list, _ := e.st.SieveScripts(e.ctx, e.acct.ID); len(list) != 0 {
		t.Errorf("validate stored %+v", list)
	}
}

func TestSieveScriptQueryAndChanges(t *testing.T) {
	e := newEnv(t)
	src := e.upload("keep;")
	set := e.call("SieveScript/set", e.args("create", map[string]any{
		"a": map[string]any{"name": "Work", "blobId": src},
		"b": map[string]any{"name": "lists", "blobId": src},
		"c": map[string]any{"name": "spam", "blobId": src},
	}, "onSuccessActivateScript", "#c"), "SieveScript/set")
	id := func(cid string) string { return set["created"].(map[string]any)[cid].(map[string]any)["id"].(string) }
	state := set["newState"].(string)

	q := e.call("SieveScript/query", e.args("sort", []any{map[string]any{"property": "name", "isAscending": false}}, "calculateTotal", true), "SieveScript/query")
	jsonEq(t, "query by name desc", q["ids"], `["`+id("a")+`","`+id("c")+`","`+id("b")+`"]`)
	if q["total"] != float64(3) || q["queryState"] != state {
		t.Errorf("query %v", q)
	}
	q = e.call("SieveScript/query", e.args("filter", map[string]any{"operator": "NOT", "conditions": []any{map[string]any{"isActive": true}}},
		"sort", []any{map[string]any{"property": "name"}}), "SieveScript/query")
	jsonEq(t, "inactive", q["ids"], `["`+id("b")+`","`+id("a")+`"]`)
	q = e.call("SieveScript/query", e.args("filter", map[string]any{"name": "WOR"}), "SieveScript/query")
	jsonEq(t, "name", q["ids"], `["`+id("a")+`"]`)
	q = e.call("SieveScript/query", e.args("sort", []any{map[string]any{"property": "isActive", "isAscending": false}},
		"anchor", id("c"), "anchorOffset", 1, "limit", 1), "SieveScript/query")
	if q["position"] != float64(1) || len(strs(q["ids"])) != 1 {
		t.Errorf("anchor: %v", q)
	}
	for args, want := range map[string]map[string]any{
		"anchorNotFound":    e.args("anchor", "s999"),
		"unsupportedSort":   e.args("sort", []any{map[string]any{"property": "blobId"}}),
		"unsupportedFilter": e.args("filter", map[string]any{"content": "x"}),
		"invalidArguments":  e.args("filter", map[string]any{"isActive": "yes"}),
	} {
		if typ := e.errorType("SieveScript/query", want); typ != args {
			t.Errorf("%v: %s, want %s", want, typ, args)
		}
	}
	if typ := e.errorType("SieveScript/queryChanges", e.args("sinceQueryState", state)); typ != "cannotCalculateChanges" {
		t.Errorf("queryChanges: %s", typ)
	}

	ch := e.call("SieveScript/changes", e.args("sinceState", state), "SieveScript/changes")
	jsonEq(t, "no changes", ch, `{"accountId":"`+e.aid+`","oldState":"`+state+`","newState":"`+state+`","hasMoreChanges":false,"created":[],"updated":[],"destroyed":[]}`)
	e.call("SieveScript/set", e.args("onSuccessDeactivateScript", true), "SieveScript/set")
	if typ := e.errorType("SieveScript/changes", e.args("sinceState", state)); typ != "cannotCalculateChanges" {
		t.Errorf("changes after a change: %s", typ)
	}
	if typ := e.errorType("SieveScript/changes", e.args("sinceState", state, "maxChanges", 0)); typ != "invalidArguments" {
		t.Errorf("maxChanges 0: %s", typ)
	}
	if typ := e.errorType("SieveScript/get", map[string]any{"accountId": "a999"}); typ != "accountNotFound" {
		t.Errorf("other account: %s", typ)
	}
}
