package jmapsieve

import (
	"strings"
	"testing"
	"time"
)

const inbound = "From: Carol <carol@remote.test>\r\nTo: alice@example.org\r\nSubject: hello\r\nMessage-ID: <m1@remote.test>\r\n\r\nhi\r\n"

func TestVacationResponseGetSet(t *testing.T) {
	e := newEnv(t)
	got := e.call("VacationResponse/get", e.args(), "VacationResponse/get")
	jsonEq(t, "default", got, `{"accountId":"`+e.aid+`","state":"0","notFound":[],
		"list":[{"id":"singleton","isEnabled":false,"fromDate":null,"toDate":null,"subject":null,"textBody":null,"htmlBody":null}]}`)

	set := e.call("VacationResponse/set", e.args("ifInState", "0", "update", map[string]any{"singleton": map[string]any{
		"isEnabled": true, "fromDate": "2026-12-01T10:00:00.250Z", "toDate": "2026-12-24T00:00:00Z",
		"subject": "Away", "textBody": "Back after Christmas.",
	}}), "VacationResponse/set")
	jsonEq(t, "set", set, `{"accountId":"`+e.aid+`","oldState":"0","newState":"1","created":null,
		"updated":{"singleton":{"fromDate":"2026-12-01T10:00:00Z"}},"destroyed":null,
		"notCreated":null,"notUpdated":null,"notDestroyed":null}`)
	got = e.call("VacationResponse/get", e.args("ids", []string{"singleton", "other"}, "properties", []string{"isEnabled", "subject"}), "VacationResponse/get")
	jsonEq(t, "after set", got, `{"accountId":"`+e.aid+`","state":"1","notFound":["other"],
		"list":[{"id":"singleton","isEnabled":true,"subject":"Away"}]}`)

	// The same setting the admin service and the CLI see.
	v, err := e.st.Vacation(e.ctx, e.acct.ID)
	if err != nil || !v.Enabled || *v.TextBody != "Back after Christmas." || !v.To.Equal(time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("stored %+v %v", v, err)
	}

	// Errors: stateMismatch, singleton, notFound, invalidProperties (from
	// the patch and from the admin service's rules).
	if typ := e.errorType("VacationResponse/set", e.args("ifInState", "0", "update", map[string]any{})); typ != "stateMismatch" {
		t.Errorf("stale ifInState: %s", typ)
	}
	set = e.call("VacationResponse/set", e.args(
		"create", map[string]any{"k": map[string]any{}},
		"destroy", []string{"singleton"},
		"update", map[string]any{
			"other":     map[string]any{"isEnabled": false},
			"singleton": map[string]any{"isEnabled": "yes", "fromDate": "2026-12-01T10:00:00+01:00", "bogus": 1, "id": "x"},
		}), "VacationResponse/set")
	if se := setErr(t, set, "notCreated", "k"); se["type"] != "singleton" {
		t.Errorf("create: %v", se)
	}
	if se := setErr(t, set, "notDestroyed", "singleton"); se["type"] != "singleton" {
		t.Errorf("destroy: %v", se)
	}
	if se := setErr(t, set, "notUpdated", "other"); se["type"] != "notFound" {
		t.Errorf("update other: %v", se)
	}
	se := setErr(t, set, "notUpdated", "singleton")
	if se["type"] != "invalidProperties" || len(strs(se["properties"])) != 4 {
		t.Errorf("bad patch: %v", se)
	}
	set = e.call("VacationResponse/set", e.args("update", map[string]any{"singleton": "off"}), "VacationResponse/set")
	if se := setErr(t, set, "notUpdated", "singleton"); se["type"] != "invalidPatch" {
		t.Errorf("not a patch: %v", se)
	}
	set = e.call("VacationResponse/set", e.args("update", map[string]any{"singleton": map[string]any{
		"fromDate": "2026-12-30T00:00:00Z", "subject": "two\r\nlines"}}), "VacationResponse/set")
	se = setErr(t, set, "notUpdated", "singleton")
	if se["type"] != "invalidProperties" || strings.Join(strs(se["properties"]), ",") != "subject" {
		t.Errorf("admin refusal: %v", se)
	}
	set = e.call("VacationResponse/set", e.args("update", map[string]any{"singleton": map[string]any{
		"fromDate": "2026-12-30T00:00:00Z"}}), "VacationResponse/set")
	se = setErr(t, set, "notUpdated", "singleton")
	if se["type"] != "invalidProperties" || strings.Join(strs(se["properties"]), ",") != "toDate" {
		t.Errorf("end before start: %v", se)
	}
	if set["newState"] != "1" {
		t.Errorf("a refused update moved the state: %v", set["newState"])
	}
	if typ := e.errorType("VacationResponse/get", e.args("properties", []string{"nope"})); typ != "invalidArguments" {
		t.Errorf("unknown property: %s", typ)
	}
	if typ := e.errorType("VacationResponse/get", map[string]any{"accountId": "a999"}); typ != "accountNotFound" {
		t.Errorf("other account: %s", typ)
	}
	if typ := e.errorType("VacationResponse/get", e.args("bogus", 1)); typ != "invalidArguments" {
		t.Errorf("unknown argument: %s", typ)
	}
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// The webmail's VacationResponse is the vacation of delivery: set over
// JMAP, acted on by the real pipeline with the real Sieve filter, beside
// the user's own active script.
func TestVacationResponseDelivery(t *testing.T) {
	e := newEnv(t)
	// A ManageSieve user's script: it keeps filing mail.
	created := e.call("SieveScript/set", e.args("create", map[string]any{"f": map[string]any{
		"name": "filters", "blobId": e.upload(`require ["fileinto", "mailbox"]; if header :contains "subject" "hello" { fileinto :create "Hellos"; }`)}},
		"onSuccessActivateScript", "#f"), "SieveScript/set")
	if created["notCreated"] != nil {
		t.Fatalf("script: %v", created)
	}
	enable := func(on bool, from, to any) {
		t.Helper()
		set := e.call("VacationResponse/set", e.args("update", map[string]any{"singleton": map[string]any{
			"isEnabled": on, "fromDate": from, "toDate": to, "textBody": "Away."}}), "VacationResponse/set")
		if set["notUpdated"] != nil {
			t.Fatalf("vacation: %v", set)
		}
	}

	e.deliverTo("carol@remote.test", inbound)
	if r := e.replies(); len(r) != 0 {
		t.Fatalf("reply while disabled: %v", r)
	}
	enable(true, "2026-12-06T00:00:00Z", "2026-12-20T00:00:00Z")
	e.deliverTo("carol@remote.test", inbound) // before fromDate
	if r := e.replies(); len(r) != 0 {
		t.Fatalf("reply before fromDate: %v", r)
	}
	e.now = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		e.deliverTo("carol@remote.test", inbound)
	}
	e.deliverTo("dave@remote.test", inbound)
	if r := e.replies(); r["carol@remote.test"] != 1 || r["dave@remote.test"] != 1 {
		t.Fatalf("replies %v\n%s", r, e.log)
	}
	e.now = e.now.Add(7*24*time.Hour + time.Minute)
	e.deliverTo("carol@remote.test", inbound)
	if r := e.replies(); r["carol@remote.test"] != 2 {
		t.Errorf("after 7 days: %v", r)
	}
	e.now = time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC) // toDate: over
	e.deliverTo("erin@remote.test", inbound)
	if r := e.replies(); r["erin@remote.test"] != 0 {
		t.Errorf("reply at toDate: %v", r)
	}
	e.now = time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)
	enable(false, nil, nil)
	e.deliverTo("frank@remote.test", inbound)
	if r := e.replies(); r["frank@remote.test"] != 0 {
		t.Errorf("reply once disabled: %v", r)
	}
	hellos, err := e.st.Mailbox(e.ctx, e.acct.ID, "Hellos")
	if err != nil {
		t.Fatal(err)
	}
	if msgs, _ := e.st.Messages(e.ctx, hellos.ID, 1, 0); len(msgs) != 9 {
		t.Errorf("the user's script filed %d messages, want 9", len(msgs))
	}
}
