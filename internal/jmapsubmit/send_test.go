package jmapsubmit

import (
	"context"
	"slices"
	"strings"
	"testing"

	"postern/internal/store"
)

const toBob = "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: lunch\r\n" +
	"Message-ID: <lunch@example.org>\r\n\r\nAt noon?\r\n"

// TestSendLocal: an Email sent to a local account arrives in its INBOX
// with the Return-Path of the envelope, signed, with a Received field.
func TestSendLocal(t *testing.T) {
	e := newEnv(t, Options{}, false)
	email := e.draft(toBob)
	before := e.call("EmailSubmission/get", e.args("ids", nil), "EmailSubmission/get")["state"]
	resp := e.send(map[string]any{"identityId": e.defaultIdentity(), "emailId": email})
	created := resp["created"].(map[string]any)["k"].(map[string]any)
	if created == nil || created["undoStatus"] != "final" || created["id"] == nil || resp["newState"] == before ||
		created["envelope"].(map[string]any)["mailFrom"].(map[string]any)["email"] != "alice@example.org" {
		t.Fatalf("set %v", resp)
	}
	_, bodies := e.messages(e.bob, "INBOX")
	if len(bodies) != 1 {
		t.Fatalf("bob has %d messages", len(bodies))
	}
	b := bodies[0]
	if !strings.HasPrefix(b, "Return-Path: <alice@example.org>\r\nReceived: by mail.example.org (Postern, JMAP submission) id ") ||
		!strings.Contains(b, "\r\nDKIM-Signature: fake; d=example.org\r\nFrom: Alice <alice@example.org>\r\n") ||
		!strings.Contains(b, "\r\nDate: ") || !strings.HasSuffix(b, "\r\n\r\nAt noon?\r\n") {
		t.Errorf("bob got:\n%s", b)
	}
	id := created["id"].(string)
	got := e.call("EmailSubmission/get", e.args("ids", []string{id}), "EmailSubmission/get")
	sub := got["list"].([]any)[0].(map[string]any)
	env := sub["envelope"].(map[string]any)
	if sub["emailId"] != email || sub["undoStatus"] != "final" || sub["sendAt"] != "2026-12-01T10:00:00Z" ||
		env["mailFrom"].(map[string]any)["email"] != "alice@example.org" || len(env["rcptTo"].([]any)) != 1 {
		t.Errorf("get %v", sub)
	}
	ds := sub["deliveryStatus"].(map[string]any)["bob@example.org"].(map[string]any)
	if ds["delivered"] != "yes" || ds["displayed"] != "unknown" || !strings.HasPrefix(ds["smtpReply"].(string), "250 ") {
		t.Errorf("deliveryStatus %v", sub["deliveryStatus"])
	}
	if len(sub["dsnBlobIds"].([]any))+len(sub["mdnBlobIds"].([]any)) != 0 {
		t.Errorf("blob ids %v", sub)
	}
	// The email's thread is the one of the stored draft.
	msgs, _ := e.st.MessagesByID(e.ctx, e.alice.ID, []int64{mustID(t, email, 'e')})
	if sub["threadId"] != formatID('t', msgs[0].ThreadID) {
		t.Errorf("threadId %v, want t%d", sub["threadId"], msgs[0].ThreadID)
	}
}

func mustID(t *testing.T, s string, prefix byte) int64 {
	t.Helper()
	n, ok := parseID(s, prefix)
	if !ok {
		t.Fatalf("bad id %q", s)
	}
	return n
}

// TestSendRemote: remote recipients (To and Bcc) are queued once, from the
// envelope sender, without the Bcc field; the DSN parameters of an
// explicit envelope reach the queue.
func TestSendRemote(t *testing.T) {
	e := newEnv(t, Options{}, false)
	email := e.draft("From: alice@example.org\r\nTo: x@remote.test\r\nBcc: y@remote.test, x@remote.test\r\nSubject: hi\r\n\r\nbody\r\n")
	resp := e.send(map[string]any{"identityId": e.defaultIdentity(), "emailId": email})
	id := resp["created"].(map[string]any)["k"].(map[string]any)["id"].(string)
	q, err := e.st.QueueList(e.ctx)
	must(t, err)
	if len(q) != 1 || q[0].Sender != "alice@example.org" || q[0].AccountID != e.alice.ID || len(q[0].Recipients) != 2 || e.queue.n == 0 {
		t.Fatalf("queue %+v (woken %d)", q, e.queue.n)
	}
	body := e.queued(q[0])
	if strings.Contains(body, "Bcc") || strings.Contains(body, "y@remote.test") || strings.Contains(body, "Return-Path") ||
		!strings.HasPrefix(body, "Received: by mail.example.org") {
		t.Errorf("queued body:\n%s", body)
	}
	got := e.call("EmailSubmission/get", e.args("ids", []string{id}, "properties", []string{"deliveryStatus"}), "EmailSubmission/get")
	sub := got["list"].([]any)[0].(map[string]any)
	ds := sub["deliveryStatus"].(map[string]any)
	if len(sub) != 2 || len(ds) != 2 || ds["x@remote.test"].(map[string]any)["delivered"] != "queued" {
		t.Errorf("get %v", sub)
	}
	// The queue is done with it: its outcome is no longer known.
	must(t, e.st.QueueDelete(e.ctx, q[0].ID))
	got = e.call("EmailSubmission/get", e.args("ids", []string{id}), "EmailSubmission/get")
	ds = got["list"].([]any)[0].(map[string]any)["deliveryStatus"].(map[string]any)
	if ds["y@remote.test"].(map[string]any)["delivered"] != "unknown" {
		t.Errorf("after the queue: %v", ds)
	}

	// An explicit envelope with DSN parameters, from an alias of alice.
	email = e.draft("From: Sales <sales@example.org>\r\nTo: z@remote.test\r\nSubject: offer\r\n\r\nbody\r\n")
	ret, notify := "HDRS", "FAILURE,DELAY"
	resp = e.send(map[string]any{"identityId": e.defaultIdentity(), "emailId": email, "envelope": map[string]any{
		"mailFrom": map[string]any{"email": "sales@example.org", "parameters": map[string]any{"RET": ret, "ENVID": "e1"}},
		"rcptTo":   []any{map[string]any{"email": "w@remote.test", "parameters": map[string]any{"NOTIFY": notify}}},
	}})
	if resp["created"].(map[string]any)["k"] == nil {
		t.Fatalf("explicit envelope: %v", resp)
	}
	q, _ = e.st.QueueList(e.ctx)
	if len(q) != 1 || q[0].Sender != "sales@example.org" || q[0].Ret != "HDRS" || q[0].EnvID != "e1" ||
		len(q[0].Recipients) != 1 || q[0].Recipients[0].Rcpt != "w@remote.test" || q[0].Recipients[0].Notify != notify {
		t.Errorf("queue %+v", q)
	}
}

func (e *env) queued(m store.QueueMessage) string {
	e.t.Helper()
	rc, err := store.OpenQueued(context.Background(), e.st, m)
	must(e.t, err)
	defer rc.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := rc.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// TestSetErrors: every SetError EmailSubmission/set gives, and that
// nothing is sent for any of them.
func TestSetErrors(t *testing.T) {
	e := newEnv(t, Options{MaxRecipients: 3, MaxMessageBytes: 2000}, false)
	_, err := e.st.AddDomain(e.ctx, "example.net")
	must(t, err)
	must(t, e.st.SetCatchAll(e.ctx, "example.net", "alice@example.org"))
	ident := e.defaultIdentity()
	ok := e.draft(toBob)
	env := func(from string, rcpts ...string) map[string]any {
		list := []any{}
		for _, r := range rcpts {
			list = append(list, map[string]any{"email": r})
		}
		return map[string]any{"mailFrom": map[string]any{"email": from}, "rcptTo": list}
	}
	cases := []struct {
		name   string
		create map[string]any
		want   string
		check  func(se map[string]any) bool
	}{
		{"unknown identity", map[string]any{"identityId": "i999", "emailId": ok}, "invalidProperties",
			func(se map[string]any) bool { return slices.Equal(strs(se["properties"]), []string{"identityId"}) }},
		{"unknown email", map[string]any{"identityId": ident, "emailId": "e999"}, "invalidProperties",
			func(se map[string]any) bool { return slices.Equal(strs(se["properties"]), []string{"emailId"}) }},
		{"unknown property", map[string]any{"identityId": ident, "emailId": ok, "sendAt": "2026-01-01T00:00:00Z"}, "invalidProperties", nil},
		{"pending", map[string]any{"identityId": ident, "emailId": ok, "undoStatus": "pending"}, "invalidProperties", nil},
		{"bad envelope", map[string]any{"identityId": ident, "emailId": ok, "envelope": map[string]any{"mailFrom": "x"}}, "invalidProperties", nil},
		{"unsupported parameter", map[string]any{"identityId": ident, "emailId": ok, "envelope": map[string]any{
			"mailFrom": map[string]any{"email": "alice@example.org", "parameters": map[string]any{"MT-PRIORITY": "3"}},
			"rcptTo":   []any{map[string]any{"email": "bob@example.org"}}}}, "invalidProperties",
			func(se map[string]any) bool { return slices.Equal(strs(se["properties"]), []string{"envelope"}) }},
		{"no From", map[string]any{"identityId": ident, "emailId": e.draft("To: bob@example.org\r\n\r\nx\r\n")}, "invalidEmail",
			func(se map[string]any) bool { return slices.Equal(strs(se["properties"]), []string{"from"}) }},
		{"two From, envelope given", map[string]any{"identityId": ident, "emailId": e.draft("From: alice@example.org\r\nFrom: sales@example.org\r\nTo: bob@example.org\r\n\r\nx\r\n"),
			"envelope": env("alice@example.org", "bob@example.org")}, "invalidEmail", nil},
		{"From not hers", map[string]any{"identityId": ident, "emailId": e.draft("From: bob@example.org\r\nTo: bob@example.org\r\n\r\nx\r\n"),
			"envelope": env("alice@example.org", "bob@example.org")}, "forbiddenFrom", nil},
		{"Sender not hers", map[string]any{"identityId": ident, "emailId": e.draft("From: alice@example.org\r\nSender: bob@example.org\r\nTo: bob@example.org\r\n\r\nx\r\n"),
			"envelope": env("alice@example.org", "bob@example.org")}, "forbiddenFrom", nil},
		{"derived mailFrom not hers", map[string]any{"identityId": ident, "emailId": e.draft("From: bob@example.org\r\nTo: bob@example.org\r\n\r\nx\r\n")}, "forbiddenMailFrom", nil},
		{"mailFrom not hers", map[string]any{"identityId": ident, "emailId": ok, "envelope": env("bob@example.org", "bob@example.org")}, "forbiddenMailFrom", nil},
		{"remote mailFrom", map[string]any{"identityId": ident, "emailId": ok, "envelope": env("someone@remote.test", "bob@example.org")}, "forbiddenMailFrom", nil},
		{"catch-all is no owner", map[string]any{"identityId": ident, "emailId": ok, "envelope": env("someone@example.net", "bob@example.org")}, "forbiddenMailFrom", nil},
		{"no recipients", map[string]any{"identityId": ident, "emailId": ok, "envelope": env("alice@example.org")}, "noRecipients", nil},
		{"no recipients in the header", map[string]any{"identityId": ident, "emailId": e.draft("From: alice@example.org\r\nSubject: x\r\n\r\nx\r\n")}, "noRecipients", nil},
		{"too many", map[string]any{"identityId": ident, "emailId": ok, "envelope": env("alice@example.org", "a@remote.test", "b@remote.test", "c@remote.test", "d@remote.test")},
			"tooManyRecipients", func(se map[string]any) bool { return se["maxRecipients"] == float64(3) }},
		{"invalid recipients", map[string]any{"identityId": ident, "emailId": ok, "envelope": env("alice@example.org", "bob@example.org", "not an address", "nobody@example.org")},
			"invalidRecipients", func(se map[string]any) bool {
				return slices.Equal(strs(se["invalidRecipients"]), []string{"not an address"})
			}},
		{"unknown local user", map[string]any{"identityId": ident, "emailId": ok, "envelope": env("alice@example.org", "bob@example.org", "nobody@example.org")},
			"invalidRecipients", func(se map[string]any) bool {
				return slices.Equal(strs(se["invalidRecipients"]), []string{"nobody@example.org"})
			}},
		{"too large", map[string]any{"identityId": ident, "emailId": e.draft(toBob + strings.Repeat("x", 3000) + "\r\n")}, "tooLarge",
			func(se map[string]any) bool { return se["maxSize"] == float64(2000) }},
	}
	for _, tc := range cases {
		resp := e.send(tc.create)
		se := setError(t, resp, "k")
		if se["type"] != tc.want || (tc.check != nil && !tc.check(se)) {
			t.Errorf("%s: %v, want %s", tc.name, se, tc.want)
		}
	}
	if msgs, _ := e.messages(e.bob, "INBOX"); len(msgs) != 0 {
		t.Errorf("bob got %d messages from refused submissions", len(msgs))
	}
	if q, _ := e.st.QueueList(e.ctx); len(q) != 0 {
		t.Errorf("queued %d from refused submissions", len(q))
	}

	// Update and destroy.
	resp := e.send(map[string]any{"identityId": ident, "emailId": ok})
	id := resp["created"].(map[string]any)["k"].(map[string]any)["id"].(string)
	set := e.call("EmailSubmission/set", e.args(
		"update", map[string]any{id: map[string]any{"undoStatus": "canceled"}, "s999": map[string]any{"undoStatus": "canceled"}},
		"destroy", []string{"s998"}), "EmailSubmission/set")
	nu := set["notUpdated"].(map[string]any)
	if nu[id].(map[string]any)["type"] != "cannotUnsend" || nu["s999"].(map[string]any)["type"] != "notFound" ||
		set["notDestroyed"].(map[string]any)["s998"].(map[string]any)["type"] != "notFound" {
		t.Errorf("update/destroy errors: %v", set)
	}
	set = e.call("EmailSubmission/set", e.args("update", map[string]any{id: map[string]any{"emailId": "e1"}}), "EmailSubmission/set")
	if set["notUpdated"].(map[string]any)[id].(map[string]any)["type"] != "invalidProperties" {
		t.Errorf("update of an immutable property: %v", set)
	}
	if rs := e.api("EmailSubmission/set", e.args("ifInState", "0", "destroy", []string{id})); rs[0].Args["type"] != "stateMismatch" {
		t.Errorf("ifInState: %v", rs)
	}
}

// TestSendRequireTLS: REQUIRETLS in the envelope's mailFrom (RFC 8689)
// reaches the queue entry as it does from SMTP submission, so every hop
// onward needs verified TLS; where submission does not advertise it, it
// is refused as any unknown parameter is.
func TestSendRequireTLS(t *testing.T) {
	ext := map[string][]string{"8BITMIME": {}, "SIZE": {"1048576"}, "DSN": {}, "SMTPUTF8": {}, "REQUIRETLS": {}}
	e := newEnv(t, Options{Extensions: ext}, false)
	envelope := func(params map[string]any) map[string]any {
		return map[string]any{"mailFrom": map[string]any{"email": "alice@example.org", "parameters": params},
			"rcptTo": []any{map[string]any{"email": "x@remote.test"}}}
	}
	email := e.draft("From: alice@example.org\r\nTo: x@remote.test\r\nSubject: secret\r\n\r\nbody\r\n")
	resp := e.send(map[string]any{"identityId": e.defaultIdentity(), "emailId": email, "envelope": envelope(map[string]any{"REQUIRETLS": nil})})
	if resp["created"].(map[string]any)["k"] == nil {
		t.Fatalf("REQUIRETLS refused: %v", resp)
	}
	q, err := e.st.QueueList(e.ctx)
	must(t, err)
	if len(q) != 1 || !q[0].RequireTLS {
		t.Fatalf("queue %+v; want one entry with RequireTLS", q)
	}
	must(t, e.st.QueueDelete(e.ctx, q[0].ID))
	resp = e.send(map[string]any{"identityId": e.defaultIdentity(), "emailId": email, "envelope": envelope(nil)})
	if q, _ = e.st.QueueList(e.ctx); resp["created"].(map[string]any)["k"] == nil || len(q) != 1 || q[0].RequireTLS {
		t.Errorf("without REQUIRETLS: %v, queue %+v", resp, q)
	}

	plain := newEnv(t, Options{}, false)
	email = plain.draft("From: alice@example.org\r\nTo: x@remote.test\r\nSubject: secret\r\n\r\nbody\r\n")
	resp = plain.send(map[string]any{"identityId": plain.defaultIdentity(), "emailId": email, "envelope": envelope(map[string]any{"REQUIRETLS": nil})})
	if resp["notCreated"] == nil {
		t.Errorf("REQUIRETLS not advertised but accepted: %v", resp)
	}
}
