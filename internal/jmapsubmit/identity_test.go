package jmapsubmit

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestCapability(t *testing.T) {
	e := newEnv(t, Options{}, false)
	req, _ := httpGet(e, "/jmap/session")
	var sess struct {
		Capabilities map[string]json.RawMessage
		Accounts     map[string]struct {
			AccountCapabilities map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(req, &sess); err != nil {
		t.Fatal(err)
	}
	if string(sess.Capabilities[Capability]) != "{}" {
		t.Errorf("session value %s", sess.Capabilities[Capability])
	}
	got := string(sess.Accounts[e.aid].AccountCapabilities[Capability])
	want := `{"maxDelayedSend":0,"submissionExtensions":{"8BITMIME":[],"DSN":[],"SIZE":["1048576"],"SMTPUTF8":[]}}`
	if got != want {
		t.Errorf("account capability %s, want %s", got, want)
	}
}

func TestIdentities(t *testing.T) {
	e := newEnv(t, Options{}, false)
	got := e.call("Identity/get", e.args("ids", nil), "Identity/get")
	list := got["list"].([]any)
	if len(list) != 1 {
		t.Fatalf("list %v", list)
	}
	def := list[0].(map[string]any)
	if def["email"] != "alice@example.org" || def["mayDelete"] != false || def["replyTo"] != nil || def["textSignature"] != "" {
		t.Errorf("default identity %v", def)
	}
	s0 := got["state"].(string)

	set := e.call("Identity/set", e.args("create", map[string]any{
		"foreign": map[string]any{"email": "bob@example.org"},
		"alias":   map[string]any{"email": "sales@example.org", "name": "Sales", "replyTo": []any{map[string]any{"email": "help@example.org"}}},
		"tag":     map[string]any{"email": "alice+lists@example.org"},
		"remote":  map[string]any{"email": "alice@remote.test"},
		"noemail": map[string]any{"name": "x"},
		"server":  map[string]any{"email": "sales@example.org", "mayDelete": true},
		"badlist": map[string]any{"email": "sales@example.org", "bcc": []any{map[string]any{"email": "not an address"}}},
	}), "Identity/set")
	for key, want := range map[string]string{"foreign": "forbiddenFrom", "remote": "forbiddenFrom",
		"noemail": "invalidProperties", "server": "invalidProperties", "badlist": "invalidProperties"} {
		if se := setError(t, set, key); se["type"] != want {
			t.Errorf("%s: %v, want %s", key, se, want)
		}
	}
	if p := setError(t, set, "server")["properties"]; !slices.Equal(strs(p), []string{"mayDelete"}) {
		t.Errorf("server-set property: %v", p)
	}
	created := set["created"].(map[string]any)
	alias, _ := created["alias"].(map[string]any)
	if alias == nil || created["tag"] == nil || alias["mayDelete"] != true || alias["textSignature"] != "" || alias["bcc"] != nil {
		t.Fatalf("created %v", created)
	}
	aliasID := alias["id"].(string)
	got = e.call("Identity/get", e.args("ids", []string{aliasID, "i999"}), "Identity/get")
	one := got["list"].([]any)[0].(map[string]any)
	if one["name"] != "Sales" || one["email"] != "sales@example.org" || !slices.Equal(strs(got["notFound"]), []string{"i999"}) {
		t.Errorf("get %v", got)
	}
	if rt := one["replyTo"].([]any); len(rt) != 1 || rt[0].(map[string]any)["email"] != "help@example.org" {
		t.Errorf("replyTo %v", one["replyTo"])
	}

	// Identity/changes from before the creates.
	ch := e.call("Identity/changes", e.args("sinceState", s0), "Identity/changes")
	if len(strs(ch["created"])) != 2 || len(strs(ch["updated"])) != 0 || ch["hasMoreChanges"] != false {
		t.Errorf("changes %v", ch)
	}
	s1 := ch["newState"].(string)
	ch = e.call("Identity/changes", e.args("sinceState", s0, "maxChanges", 1), "Identity/changes")
	if len(strs(ch["created"])) != 1 || ch["hasMoreChanges"] != true || ch["newState"] == s1 {
		t.Errorf("changes with maxChanges 1: %v", ch)
	}
	if rs := e.api("Identity/changes", e.args("sinceState", "999")); rs[0].Args["type"] != "cannotCalculateChanges" {
		t.Errorf("future state: %v", rs)
	}

	// Update and destroy.
	set = e.call("Identity/set", e.args("update", map[string]any{
		aliasID:            map[string]any{"name": "Sales team", "textSignature": "-- \nSales"},
		def["id"].(string): map[string]any{"email": "other@example.org"},
		"i999":             map[string]any{"name": "x"},
	}, "destroy", []string{def["id"].(string), "i998"}), "Identity/set")
	if _, ok := set["updated"].(map[string]any)[aliasID]; !ok {
		t.Errorf("update: %v", set)
	}
	nu := set["notUpdated"].(map[string]any)
	if nu[def["id"].(string)].(map[string]any)["type"] != "invalidProperties" || nu["i999"].(map[string]any)["type"] != "notFound" {
		t.Errorf("notUpdated %v", nu)
	}
	nd := set["notDestroyed"].(map[string]any)
	if nd[def["id"].(string)].(map[string]any)["type"] != "forbidden" || nd["i998"].(map[string]any)["type"] != "notFound" {
		t.Errorf("notDestroyed %v", nd)
	}
	// s1 is no longer the state after the update above.
	if rs := e.api("Identity/set", e.args("ifInState", s1, "destroy", []string{aliasID})); rs[0].Name != "error" || rs[0].Args["type"] != "stateMismatch" {
		t.Errorf("ifInState: %v", rs)
	}
	set = e.call("Identity/set", e.args("destroy", []string{aliasID}), "Identity/set")
	if !slices.Equal(strs(set["destroyed"]), []string{aliasID}) || set["oldState"] == set["newState"] {
		t.Errorf("destroy: %v", set)
	}
	ch = e.call("Identity/changes", e.args("sinceState", s1), "Identity/changes")
	if !slices.Equal(strs(ch["destroyed"]), []string{aliasID}) {
		t.Errorf("changes after destroy %v", ch)
	}
}

// strs turns a JSON array into strings (nil for null).
func strs(v any) []string {
	if v == nil {
		return nil
	}
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
