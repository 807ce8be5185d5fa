package jmapsubmit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/deliver"
	"postern/internal/jmap"
	"postern/internal/message"
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

// fakeSigner records the domains it signs for.
type fakeSigner struct {
	mu      sync.Mutex
	domains []string
}

func (f *fakeSigner) Sign(_ context.Context, domain string, _ []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.domains = append(f.domains, domain)
	return []byte("DKIM-Signature: fake; d=" + domain + "\r\n"), nil
}

type waker struct{ n int }

func (w *waker) Wake() { w.n++ }

// parse is what the composition root's parser keeps, enough for threads.
func parse(r io.Reader) (store.MessageMeta, error) {
	p, err := message.Parse(r, message.DefaultLimits())
	if err != nil {
		return store.MessageMeta{}, err
	}
	return store.MessageMeta{Envelope: p.Envelope.Marshal(), BodyStructure: p.Body.Marshal(),
		SearchText: p.SearchText, Headers: p.Headers}, nil
}

type env struct {
	t      *testing.T
	ctx    context.Context
	st     *sqlstore.Store
	http   *httptest.Server
	signer *fakeSigner
	queue  *waker
	alice  store.Account
	bob    store.Account
	aid    string
	user   string
	using  []string
	now    time.Time
}

// newEnv: example.org with alice and bob, sales@example.org an alias of
// alice; alice has Drafts and Sent. Email/set is not in this branch: fake,
// when set, registers the tiny one of fakeEmailSet.
func newEnv(t *testing.T, opts Options, fake bool) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, ctx: ctx, st: st, signer: &fakeSigner{}, queue: &waker{}, user: "alice@example.org",
		using: []string{jmap.CapabilityCore, Capability, mailCapability}, now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	must(t, func() error { _, err := st.AddDomain(ctx, "example.org"); return err }())
	e.alice, err = st.AddAccount(ctx, "alice@example.org", store.Credentials{})
	must(t, err)
	e.bob, err = st.AddAccount(ctx, "bob@example.org", store.Credentials{})
	must(t, err)
	must(t, st.AddAlias(ctx, "sales@example.org", []string{"alice@example.org"}))
	for _, mb := range []struct{ name, use string }{{"Drafts", store.SpecialDrafts}, {"Sent", store.SpecialSent}} {
		if _, err := st.CreateMailbox(ctx, e.alice.ID, mb.name, mb.use); err != nil && !errors.Is(err, store.ErrExists) {
			t.Fatal(err)
		}
	}
	e.aid = jmap.AccountID(e.alice.ID)
	p := deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: parse, Queue: e.queue})
	opts.Pipeline, opts.Signer, opts.Hostname = p, e.signer, "mail.example.org"
	if opts.Extensions == nil {
		opts.Extensions = map[string][]string{"8BITMIME": {}, "SIZE": {"1048576"}, "DSN": {}, "SMTPUTF8": {}}
	}
	opts.Now = func() time.Time { return e.now }
	srv := jmap.New(jmap.Options{Auth: testAuth{st}})
	Register(srv, st, opts)
	if fake {
		srv.Handle("Email/set", mailCapability, fakeEmailSet(st))
	} else {
		e.using = e.using[:2]
	}
	e.http = httptest.NewServer(srv)
	t.Cleanup(e.http.Close)
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type response struct {
	Name string
	Args map[string]any
	ID   string
}

// api sends method calls (name, args, name, args...) as e.user.
func (e *env) api(calls ...any) []response {
	e.t.Helper()
	var mc []any
	for i := 0; i+1 < len(calls); i += 2 {
		mc = append(mc, []any{calls[i], calls[i+1], fmt.Sprintf("c%d", i/2)})
	}
	body, _ := json.Marshal(map[string]any{"using": e.using, "methodCalls": mc})
	req, _ := http.NewRequest("POST", e.http.URL+"/jmap/api", bytes.NewReader(body))
	req.SetBasicAuth(e.user, "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		e.t.Fatalf("HTTP %d: %s", res.StatusCode, b)
	}
	var out struct{ MethodResponses [][]json.RawMessage }
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatal(err)
	}
	var rs []response
	for _, inv := range out.MethodResponses {
		var r response
		json.Unmarshal(inv[0], &r.Name)
		json.Unmarshal(inv[1], &r.Args)
		json.Unmarshal(inv[2], &r.ID)
		rs = append(rs, r)
	}
	return rs
}

// call sends one call and returns its response, which must be named want.
func (e *env) call(name string, args map[string]any, want string) map[string]any {
	e.t.Helper()
	rs := e.api(name, args)
	if len(rs) == 0 || rs[0].Name != want {
		e.t.Fatalf("%s: got %+v, want %s", name, rs, want)
	}
	return rs[0].Args
}

func (e *env) args(kv ...any) map[string]any {
	a := map[string]any{"accountId": e.aid}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i].(string)] = kv[i+1]
	}
	return a
}

// draft stores a message in alice's Drafts with $draft and returns its
// JMAP email id.
func (e *env) draft(msg string) string {
	e.t.Helper()
	meta, err := parse(strings.NewReader(msg))
	must(e.t, err)
	out, err := e.st.Deliver(e.ctx, store.Delivery{
		Blob:         store.NewBlob{Body: store.BytesBody(msg), Meta: meta},
		InternalDate: e.now,
		Targets:      []store.DeliveryTarget{{AccountID: e.alice.ID, Mailbox: "Drafts", Keywords: []string{"$draft"}}},
	})
	if err != nil || out.Targets[0].Err != nil {
		e.t.Fatalf("Deliver: %v %+v", err, out)
	}
	mb := e.mailbox(e.alice, "Drafts")
	msgs, err := e.st.Messages(e.ctx, mb.ID, out.Targets[0].UID, out.Targets[0].UID)
	if err != nil || len(msgs) != 1 {
		e.t.Fatalf("Messages: %v %v", msgs, err)
	}
	return formatID('e', msgs[0].ID)
}

func (e *env) mailbox(a store.Account, name string) store.Mailbox {
	e.t.Helper()
	mb, err := e.st.Mailbox(e.ctx, a.ID, name)
	must(e.t, err)
	return mb
}

// messages reads the messages of a mailbox with their bodies.
func (e *env) messages(a store.Account, name string) ([]store.Message, []string) {
	e.t.Helper()
	msgs, err := e.st.Messages(e.ctx, e.mailbox(a, name).ID, 1, 0)
	must(e.t, err)
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, e.blob(m.BlobID))
	}
	return msgs, bodies
}

func (e *env) blob(id int64) string {
	rc, err := e.st.OpenBlob(e.ctx, id)
	must(e.t, err)
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

// send creates one submission and returns the set response.
func (e *env) send(create map[string]any, extra ...any) map[string]any {
	e.t.Helper()
	args := e.args(append([]any{"create", map[string]any{"k": create}}, extra...)...)
	return e.call("EmailSubmission/set", args, "EmailSubmission/set")
}

// setError returns the SetError type of the one create of a set response.
func setError(t *testing.T, resp map[string]any, key string) map[string]any {
	t.Helper()
	nc, _ := resp["notCreated"].(map[string]any)
	se, ok := nc[key].(map[string]any)
	if !ok {
		t.Fatalf("no SetError for %s: %v", key, resp)
	}
	return se
}

// defaultIdentity returns the id of alice's own identity.
func (e *env) defaultIdentity() string {
	e.t.Helper()
	got := e.call("Identity/get", e.args("ids", nil), "Identity/get")
	for _, x := range got["list"].([]any) {
		id := x.(map[string]any)
		if id["email"] == e.alice.Address {
			return id["id"].(string)
		}
	}
	e.t.Fatal("no default identity")
	return ""
}

// fakeEmailSet is a tiny Email/set standing in for package jmapmail's
// (another branch): update applies "keywords/K": null and
// "mailboxIds/M": true|null, destroy expunges.
func fakeEmailSet(st store.Store) jmap.Method {
	return func(ctx context.Context, c *jmap.Call) (any, error) {
		var a struct {
			AccountID string                                `json:"accountId"`
			Update    map[string]map[string]json.RawMessage `json:"update"`
			Destroy   []string                              `json:"destroy"`
		}
		if err := c.Decode(&a); err != nil {
			return nil, err
		}
		acct, _ := jmap.ParseAccountID(a.AccountID)
		resp := map[string]any{"accountId": a.AccountID, "updated": map[string]any{}, "destroyed": []string{}}
		find := func(id string) (store.Message, error) {
			n, _ := parseID(id, 'e')
			msgs, err := st.MessagesByID(ctx, acct, []int64{n})
			if err != nil || len(msgs) != 1 {
				return store.Message{}, fmt.Errorf("no email %s: %v", id, err)
			}
			return msgs[0], nil
		}
		for id, patch := range a.Update {
			m, err := find(id)
			if err != nil {
				return nil, err
			}
			to := int64(0)
			for k, v := range patch {
				switch {
				case strings.HasPrefix(k, "keywords/") && string(v) == "null":
					if _, err := st.UpdateFlags(ctx, m.MailboxID, []uint32{m.UID},
						store.FlagUpdate{Op: store.FlagsRemove, Keywords: []string{strings.TrimPrefix(k, "keywords/")}}); err != nil {
						return nil, err
					}
				case strings.HasPrefix(k, "mailboxIds/") && string(v) == "true":
					to, _ = parseID(strings.TrimPrefix(k, "mailboxIds/"), 'm')
				}
			}
			if to != 0 {
				if _, _, err := st.Copy(ctx, m.MailboxID, []uint32{m.UID}, to, true); err != nil {
					return nil, err
				}
			}
			resp["updated"].(map[string]any)[id] = nil
		}
		for _, id := range a.Destroy {
			m, err := find(id)
			if err != nil {
				return nil, err
			}
			if _, _, err := st.Expunge(ctx, m.MailboxID, []uint32{m.UID}); err != nil {
				return nil, err
			}
			resp["destroyed"] = append(resp["destroyed"].([]string), id)
		}
		return resp, nil
	}
}

// httpGet fetches a path of the server as e.user.
func httpGet(e *env, path string) ([]byte, int) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+path, nil)
	req.SetBasicAuth(e.user, "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return b, res.StatusCode
}
