package jmapsubmit

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// sendN sends n drafts to bob, one a minute, and returns the submission
// and email ids.
func (e *env) sendN(n int) (subs, emails []string) {
	e.t.Helper()
	ident := e.defaultIdentity()
	for i := 0; i < n; i++ {
		email := e.draft(fmt.Sprintf("From: alice@example.org\r\nTo: bob@example.org\r\nSubject: n%d\r\nMessage-ID: <n%d@example.org>\r\n\r\nx\r\n", i, i))
		resp := e.send(map[string]any{"identityId": ident, "emailId": email})
		c, ok := resp["created"].(map[string]any)["k"].(map[string]any)
		if !ok {
			e.t.Fatalf("send %d: %v", i, resp)
		}
		subs, emails = append(subs, c["id"].(string)), append(emails, email)
		e.now = e.now.Add(time.Minute)
	}
	return subs, emails
}

func TestQueryAndChanges(t *testing.T) {
	e := newEnv(t, Options{}, false)
	s0 := e.call("EmailSubmission/get", e.args("ids", []string{}), "EmailSubmission/get")["state"].(string)
	subs, emails := e.sendN(3)
	query := func(kv ...any) []string {
		t.Helper()
		return strs(e.call("EmailSubmission/query", e.args(kv...), "EmailSubmission/query")["ids"])
	}
	if got := query(); !slices.Equal(got, subs) {
		t.Errorf("all: %v", got)
	}
	if got := query("sort", []any{map[string]any{"property": "sentAt", "isAscending": false}}); !slices.Equal(got, []string{subs[2], subs[1], subs[0]}) {
		t.Errorf("sentAt descending: %v", got)
	}
	if got := query("sort", []any{map[string]any{"property": "emailId", "isAscending": false}}, "limit", 1, "calculateTotal", true); !slices.Equal(got, []string{subs[2]}) {
		t.Errorf("emailId descending, limit 1: %v", got)
	}
	if got := query("filter", map[string]any{"emailIds": []string{emails[1]}}); !slices.Equal(got, []string{subs[1]}) {
		t.Errorf("emailIds: %v", got)
	}
	if got := query("filter", map[string]any{"identityIds": []string{e.defaultIdentity()}, "undoStatus": "final"}); len(got) != 3 {
		t.Errorf("identityIds and undoStatus: %v", got)
	}
	if got := query("filter", map[string]any{"undoStatus": "pending"}); len(got) != 0 {
		t.Errorf("pending: %v", got)
	}
	// sendAt: 10:00, 10:01, 10:02.
	if got := query("filter", map[string]any{"after": "2026-12-01T10:01:00Z", "before": "2026-12-01T10:02:00Z"}); !slices.Equal(got, []string{subs[1]}) {
		t.Errorf("after/before: %v", got)
	}
	if got := query("filter", map[string]any{"operator": "NOT", "conditions": []any{map[string]any{"emailIds": []string{emails[0]}}}}); !slices.Equal(got, subs[1:]) {
		t.Errorf("NOT: %v", got)
	}
	get := e.call("EmailSubmission/get", e.args("ids", []string{subs[0]}, "properties", []string{"threadId"}), "EmailSubmission/get")
	thread := get["list"].([]any)[0].(map[string]any)["threadId"].(string)
	if got := query("filter", map[string]any{"threadIds": []string{thread}}); !slices.Equal(got, subs[:1]) {
		t.Errorf("threadIds: %v", got)
	}
	if got := query("anchor", subs[1], "anchorOffset", 1); !slices.Equal(got, subs[2:]) {
		t.Errorf("anchor: %v", got)
	}
	for _, bad := range []struct {
		args []any
		want string
	}{
		{[]any{"sort", []any{map[string]any{"property": "identityId"}}}, "unsupportedSort"},
		{[]any{"filter", map[string]any{"subject": "x"}}, "unsupportedFilter"},
		{[]any{"filter", map[string]any{"before": "yesterday"}}, "invalidArguments"},
		{[]any{"anchor", "s999"}, "anchorNotFound"},
	} {
		if rs := e.api("EmailSubmission/query", e.args(bad.args...)); rs[0].Args["type"] != bad.want {
			t.Errorf("%v: %v, want %s", bad.args, rs[0].Args, bad.want)
		}
	}
	q := e.call("EmailSubmission/query", e.args(), "EmailSubmission/query")
	if rs := e.api("EmailSubmission/queryChanges", e.args("sinceQueryState", q["queryState"])); rs[0].Args["type"] != "cannotCalculateChanges" {
		t.Errorf("queryChanges: %v", rs)
	}

	// Changes: three created, then one destroyed.
	ch := e.call("EmailSubmission/changes", e.args("sinceState", s0), "EmailSubmission/changes")
	if !slices.Equal(strs(ch["created"]), subs) {
		t.Errorf("changes %v", ch)
	}
	s1 := ch["newState"].(string)
	set := e.call("EmailSubmission/set", e.args("destroy", []string{subs[0]}), "EmailSubmission/set")
	if !slices.Equal(strs(set["destroyed"]), subs[:1]) {
		t.Fatalf("destroy %v", set)
	}
	ch = e.call("EmailSubmission/changes", e.args("sinceState", s1), "EmailSubmission/changes")
	if !slices.Equal(strs(ch["destroyed"]), subs[:1]) || len(strs(ch["created"])) != 0 {
		t.Errorf("changes after destroy %v", ch)
	}
	ch = e.call("EmailSubmission/changes", e.args("sinceState", s0, "maxChanges", 1), "EmailSubmission/changes")
	if !slices.Equal(strs(ch["created"]), subs[1:2]) || ch["hasMoreChanges"] != true {
		t.Errorf("changes with maxChanges: %v", ch)
	}
	get = e.call("EmailSubmission/get", e.args("ids", []string{subs[0], subs[1]}), "EmailSubmission/get")
	if !slices.Equal(strs(get["notFound"]), subs[:1]) || len(get["list"].([]any)) != 1 {
		t.Errorf("get after destroy %v", get)
	}

	// A week later the next set purges the records, reported destroyed.
	s2 := e.call("EmailSubmission/get", e.args("ids", []string{}), "EmailSubmission/get")["state"].(string)
	e.now = e.now.Add(8 * 24 * time.Hour)
	e.call("EmailSubmission/set", e.args(), "EmailSubmission/set")
	ch = e.call("EmailSubmission/changes", e.args("sinceState", s2), "EmailSubmission/changes")
	if !slices.Equal(strs(ch["destroyed"]), subs[1:]) {
		t.Errorf("changes after purge %v", ch)
	}
	if got := query(); len(got) != 0 {
		t.Errorf("after purge: %v", got)
	}
}

// TestOnSuccess: onSuccessUpdateEmail and onSuccessDestroyEmail run as an
// Email/set of the same request, answered after EmailSubmission/set. The
// Email/set here is the test's fake (jmapmail's is in another branch).
func TestOnSuccess(t *testing.T) {
	e := newEnv(t, Options{}, true)
	ident := e.defaultIdentity()
	email := e.draft(toBob)
	drafts, sent := e.mailbox(e.alice, "Drafts"), e.mailbox(e.alice, "Sent")
	rs := e.api("EmailSubmission/set", e.args(
		"create", map[string]any{"k1": map[string]any{"identityId": ident, "emailId": email}},
		"onSuccessUpdateEmail", map[string]any{"#k1": map[string]any{
			"keywords/$draft":                        nil,
			"mailboxIds/" + formatID('m', drafts.ID): nil,
			"mailboxIds/" + formatID('m', sent.ID):   true,
		}}))
	if len(rs) != 2 || rs[0].Name != "EmailSubmission/set" || rs[1].Name != "Email/set" || rs[0].ID != rs[1].ID {
		t.Fatalf("responses %+v", rs)
	}
	if _, ok := rs[1].Args["updated"].(map[string]any)[email]; !ok {
		t.Errorf("Email/set %v", rs[1].Args)
	}
	msgs, _ := e.messages(e.alice, "Sent")
	if len(msgs) != 1 || slices.Contains(msgs[0].Keywords, "$draft") || formatID('e', msgs[0].ID) != email {
		t.Errorf("Sent holds %+v", msgs)
	}
	if left, _ := e.messages(e.alice, "Drafts"); len(left) != 0 {
		t.Errorf("Drafts still holds %d", len(left))
	}

	// A refused create runs nothing; a destroy of another submission
	// does, for its email.
	other := e.draft(strings.Replace(toBob, "lunch@", "dinner@", 1))
	set := e.call("EmailSubmission/set", e.args("create", map[string]any{"k2": map[string]any{"identityId": ident, "emailId": other}}), "EmailSubmission/set")
	sub2 := set["created"].(map[string]any)["k2"].(map[string]any)["id"].(string)
	rs = e.api("EmailSubmission/set", e.args(
		"create", map[string]any{"bad": map[string]any{"identityId": "i999", "emailId": email}},
		"destroy", []string{sub2},
		"onSuccessUpdateEmail", map[string]any{"#bad": map[string]any{"keywords/$draft": nil}},
		"onSuccessDestroyEmail", []string{sub2}))
	if len(rs) != 2 || rs[1].Name != "Email/set" || !slices.Equal(strs(rs[1].Args["destroyed"]), []string{other}) ||
		len(rs[1].Args["updated"].(map[string]any)) != 0 {
		t.Fatalf("responses %+v", rs)
	}
	if got, _ := e.st.MessagesByID(e.ctx, e.alice.ID, []int64{mustID(t, other, 'e')}); len(got) != 0 {
		t.Errorf("email not destroyed: %+v", got)
	}

	// Without the mail capability in the request the implicit Email/set
	// still runs: it is part of EmailSubmission/set (clients such as
	// jmap-jam ask only for submission).
	e.using = e.using[:2]
	third := e.draft(strings.Replace(toBob, "lunch@", "tea@", 1))
	rs = e.api("EmailSubmission/set", e.args(
		"create", map[string]any{"k3": map[string]any{"identityId": ident, "emailId": third}},
		"onSuccessDestroyEmail", []string{"#k3"}))
	if len(rs) != 2 || rs[0].Args["created"].(map[string]any)["k3"] == nil || rs[1].Name != "Email/set" ||
		!slices.Equal(strs(rs[1].Args["destroyed"]), []string{third}) {
		t.Errorf("responses %+v", rs)
	}
}
