package jmapsieve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/admin"
	"postern/internal/deliver"
	"postern/internal/jmap"
	"postern/internal/message"
	"postern/internal/sieve"
	"postern/internal/sievefilter"
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

// memUploads is an upload store in memory: blob ids "b1", "b2"...
type memUploads struct {
	mu    sync.Mutex
	blobs map[string][]byte // accountId + "/" + blobId
}

func (m *memUploads) Upload(_ context.Context, accountID, contentType string, r io.Reader, max int64) (jmap.BlobInfo, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return jmap.BlobInfo{}, err
	}
	if int64(len(b)) > max {
		return jmap.BlobInfo{}, jmap.ErrBlobTooLarge
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blobs == nil {
		m.blobs = map[string][]byte{}
	}
	id := "b" + strconv.Itoa(len(m.blobs)+1)
	m.blobs[accountID+"/"+id] = b
	return jmap.BlobInfo{BlobID: id, Type: contentType, Size: int64(len(b))}, nil
}

func (m *memUploads) Download(_ context.Context, accountID, blobID string) (io.ReadCloser, int64, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[accountID+"/"+blobID]
	if !ok {
		return nil, 0, "", jmap.ErrBlobNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), "", nil
}

type env struct {
	t      *testing.T
	ctx    context.Context
	st     *sqlstore.Store
	http   *httptest.Server
	acct   store.Account
	aid    string
	user   string
	now    time.Time
	filter *sievefilter.Filter
	admin  *admin.Service
	p      *deliver.Pipeline
	log    *bytes.Buffer
}

func newEnv(t *testing.T) *env {
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
	e := &env{t: t, ctx: ctx, st: st, acct: acct, aid: jmap.AccountID(acct.ID), user: "alice@example.org",
		now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC), log: &bytes.Buffer{}}
	logger := slog.New(slog.NewTextHandler(e.log, nil))
	clock := func() time.Time { return e.now }
	e.filter = sievefilter.New(sievefilter.Options{Store: st, Logger: logger, Now: clock, Location: time.UTC})
	e.p = deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: parseMessage, Filter: e.filter, Logger: logger, Now: clock})
	uploads := &memUploads{}
	e.admin = admin.New(st, logger, admin.Options{})
	h := New(Options{Admin: e.admin, Store: st, Uploads: uploads,
		Changed: e.filter.Forget, SieveExtensions: sieve.Extensions(), MaxRedirects: 5, Now: clock, Logger: logger})
	srv := jmap.New(jmap.Options{Auth: testAuth{st}, Blobs: h.Blobs(uploads)})
	h.Register(srv)
	e.http = httptest.NewServer(srv)
	t.Cleanup(e.http.Close)
	return e
}

func parseMessage(r io.Reader) (store.MessageMeta, error) {
	p, err := message.Parse(r, message.DefaultLimits())
	if err != nil {
		return store.MessageMeta{}, err
	}
	return store.MessageMeta{Envelope: p.Envelope.Marshal(), BodyStructure: p.Body.Marshal(), SearchText: p.SearchText, Headers: p.Headers}, nil
}

type response struct {
	Name string
	Args map[string]any
	ID   string
}

// api sends method calls (name, args, name, args...) as the env's user
// with every capability of this package.
func (e *env) api(calls ...any) []response {
	e.t.Helper()
	var mc []any
	for i := 0; i+1 < len(calls); i += 2 {
		mc = append(mc, []any{calls[i], calls[i+1], fmt.Sprintf("c%d", i/2)})
	}
	body, _ := json.Marshal(map[string]any{
		"using":       []string{jmap.CapabilityCore, CapabilityVacation, CapabilitySieve, CapabilityQuota},
		"methodCalls": mc,
	})
	b := e.post("/jmap/api", "application/json", body, 200)
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

func (e *env) post(path, ctype string, body []byte, want int) []byte {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.http.URL+path, bytes.NewReader(body))
	req.SetBasicAuth(e.user, "secret")
	req.Header.Set("Content-Type", ctype)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		e.t.Fatalf("POST %s: HTTP %d: %s", path, res.StatusCode, b)
	}
	return b
}

func (e *env) get(path string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+path, nil)
	req.SetBasicAuth(e.user, "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// call sends one call and returns its response arguments, failing the
// test when the response has another name than want.
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

func (e *env) args(kv ...any) map[string]any {
	a := map[string]any{"accountId": e.aid}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i].(string)] = kv[i+1]
	}
	return a
}

// upload stores body as a blob of the user and returns its id.
func (e *env) upload(body string) string {
	e.t.Helper()
	b := e.post("/jmap/upload/"+e.aid+"/", "application/sieve", []byte(body), 201)
	var r struct{ BlobID string }
	json.Unmarshal(b, &r)
	return r.BlobID
}

// setError returns the SetError at m[key][id].
func setErr(t *testing.T, m map[string]any, key, id string) map[string]any {
	t.Helper()
	not, _ := m[key].(map[string]any)
	se, _ := not[id].(map[string]any)
	if se == nil {
		t.Fatalf("no %s[%s] in %v", key, id, m)
	}
	return se
}

// jsonEq compares a JSON value with a Go literal by their encodings.
func jsonEq(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("%s:\n got %s\nwant %s", what, gb, wb)
	}
}

// deliverTo delivers msg from sender to alice through the real pipeline.
func (e *env) deliverTo(sender, msg string) {
	e.t.Helper()
	tx := e.p.Begin(deliver.Envelope{Source: deliver.SourceMX, Sender: sender})
	if err := tx.AddRecipient(e.ctx, "alice@example.org", deliver.RcptOptions{}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := tx.Deliver(e.ctx, strings.NewReader(msg)); err != nil {
		e.t.Fatal(err)
	}
}

// replies counts the queued vacation replies by recipient.
func (e *env) replies() map[string]int {
	e.t.Helper()
	q, err := e.st.QueueList(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range q {
		for _, r := range m.Recipients {
			out[r.Rcpt]++
		}
	}
	return out
}
