package jmapmail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"postern/internal/jmap"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// testAuth accepts every account of the store by address, password
// "secret".
type testAuth struct{ st store.Store }

func (a testAuth) Authenticate(r *http.Request) (jmap.Principal, error) {
	u, p, ok := r.BasicAuth()
	if !ok || p != "secret" {
		return jmap.Principal{}, jmap.ErrUnauthenticated
	}
	acct, err := a.st.Account(r.Context(), u)
	if err != nil {
		return jmap.Principal{}, jmap.ErrUnauthenticated
	}
	return jmap.Principal{AccountID: jmap.AccountID(acct.ID), Username: u}, nil
}

type env struct {
	t    testing.TB
	ctx  context.Context
	st   *sqlstore.Store
	http *httptest.Server
	acct store.Account
	aid  string // JMAP account id
	user string
	n    int
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, "alice@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAccount(ctx, "bob@example.org", store.Credentials{}); err != nil {
		t.Fatal(err)
	}
	srv := jmap.New(jmap.Options{Auth: testAuth{st}, Blobs: NewBlobs(st)})
	Register(srv, st, opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &env{t: t, ctx: ctx, st: st, http: hs, acct: acct, aid: jmap.AccountID(acct.ID), user: "alice@example.org"}
}

// response is one method response.
type response struct {
	Name string
	Args map[string]any
	ID   string
}

// api sends method calls (name, args) as alice and returns the responses.
func (e *env) api(calls ...any) []response {
	e.t.Helper()
	resp := e.apiRaw(calls...)
	var out []response
	for _, r := range resp["methodResponses"].([]any) {
		inv := r.([]any)
		out = append(out, response{inv[0].(string), inv[1].(map[string]any), inv[2].(string)})
	}
	return out
}

// call sends one call and returns its response arguments, failing the test
// when the response has another name than want.
func (e *env) call(name string, args map[string]any, want string) map[string]any {
	e.t.Helper()
	rs := e.api(name, args)
	if len(rs) != 1 || rs[0].Name != want {
		e.t.Fatalf("%s: got %+v, want %s", name, rs, want)
	}
	return rs[0].Args
}

// errorType calls and returns the method error's type.
func (e *env) errorType(name string, args map[string]any) string {
	e.t.Helper()
	return e.call(name, args, "error")["type"].(string)
}

func (e *env) apiRaw(calls ...any) map[string]any {
	e.t.Helper()
	var mc []any
	for i := 0; i+1 < len(calls); i += 2 {
		mc = append(mc, []any{calls[i], calls[i+1], fmt.Sprintf("c%d", i/2)})
	}
	body, _ := json.Marshal(map[string]any{
		"using":       []string{jmap.CapabilityCore, Capability},
		"methodCalls": mc,
	})
	req, _ := http.NewRequest("POST", e.http.URL+"/jmap/api", bytes.NewReader(body))
	req.SetBasicAuth(e.user, "secret")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		e.t.Fatalf("HTTP %d: %s", res.StatusCode, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// args builds an arguments object with alice's accountId.
func (e *env) args(kv ...any) map[string]any {
	a := map[string]any{"accountId": e.aid}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i].(string)] = kv[i+1]
	}
	return a
}

// mailbox returns a store mailbox of alice by name.
func (e *env) mailbox(name string) store.Mailbox {
	e.t.Helper()
	m, err := e.st.Mailbox(e.ctx, e.acct.ID, name)
	if err != nil {
		e.t.Fatalf("Mailbox(%q): %v", name, err)
	}
	return m
}

func (e *env) id(name string) string { return mailboxID(e.mailbox(name).ID) }

// deliver puts a message in a mailbox of alice; parent, when not "",
// threads it under the message with that Message-ID.
func (e *env) deliver(mailbox, msgID, parent string) store.DeliveryResult {
	e.t.Helper()
	e.n++
	body := fmt.Sprintf("Message-ID: <%s>\r\nSubject: m%d\r\n\r\nbody %d\r\n", msgID, e.n, e.n)
	meta := store.MessageMeta{SearchText: "body", Thread: store.ThreadKeys{MessageID: msgID, BaseSubject: fmt.Sprintf("m%d", e.n)}}
	if parent != "" {
		meta.Thread.Parents = []string{parent}
		meta.Thread.IsReply = true
	}
	out, err := e.st.Deliver(e.ctx, store.Delivery{
		Blob:         store.NewBlob{Body: store.BytesBody(body), Meta: meta},
		InternalDate: time.Unix(1700000000, 0),
		Targets:      []store.DeliveryTarget{{AccountID: e.acct.ID, Mailbox: mailbox}},
	})
	if err != nil || out.Targets[0].Err != nil {
		e.t.Fatalf("Deliver: %v %+v", err, out)
	}
	return out.Targets[0]
}

// state is Mailbox/get's state now.
func (e *env) state() string {
	e.t.Helper()
	return e.call("Mailbox/get", e.args("ids", []string{}), "Mailbox/get")["state"].(string)
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
