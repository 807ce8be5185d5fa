package jmap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAuth accepts alice:secret as account "a1" and answers "throttled"
// users with a ThrottledError.
type fakeAuth struct{}

func (fakeAuth) Authenticate(r *http.Request) (Principal, error) {
	u, p, ok := r.BasicAuth()
	switch {
	case !ok:
		return Principal{}, ErrUnauthenticated
	case u == "throttled":
		return Principal{}, &ThrottledError{RetryAfter: 90 * time.Second}
	case u == "alice@example.org" && p == "secret":
		return Principal{AccountID: "a1", Username: u}, nil
	case u == "bob@example.org" && p == "secret":
		return Principal{AccountID: "a2", Username: u}, nil
	}
	return Principal{}, ErrUnauthenticated
}

// memBlobs keeps blobs in memory.
type memBlobs struct {
	mu    sync.Mutex
	blobs map[string]memBlob
}

type memBlob struct {
	account, ctype string
	data           []byte
}

func (m *memBlobs) Upload(_ context.Context, account, ctype string, r io.Reader, max int64) (BlobInfo, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return BlobInfo{}, err
	}
	if int64(len(data)) > max {
		return BlobInfo{}, ErrBlobTooLarge
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blobs == nil {
		m.blobs = map[string]memBlob{}
	}
	id := fmt.Sprintf("B%d", len(m.blobs)+1)
	m.blobs[id] = memBlob{account, ctype, data}
	return BlobInfo{BlobID: id, Type: ctype, Size: int64(len(data))}, nil
}

func (m *memBlobs) Download(_ context.Context, account, id string) (io.ReadCloser, int64, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[id]
	if !ok || b.account != account {
		return nil, 0, "", ErrBlobNotFound
	}
	return io.NopCloser(bytes.NewReader(b.data)), int64(len(b.data)), b.ctype, nil
}

// hub is a Changes that fans out to subscribers.
type hub struct {
	mu   sync.Mutex
	subs map[chan StateChange]string
}

func (h *hub) Subscribe(account string) (<-chan StateChange, func()) {
	ch := make(chan StateChange, 16)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan StateChange]string{}
	}
	h.subs[ch] = account
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *hub) publish(sc StateChange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		ch <- sc
	}
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

type testEnv struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	blobs *memBlobs
	hub   *hub
}

func newEnv(t *testing.T, limits Limits, register func(*Server)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, blobs: &memBlobs{}, hub: &hub{}}
	e.srv = New(Options{Auth: fakeAuth{}, Blobs: e.blobs, Changes: e.hub, Limits: limits, MinPing: time.Second})
	if register != nil {
		register(e.srv)
	}
	e.http = newServer(t, e.srv)
	return e
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// do sends a request as alice (user "" sends none) and returns the
// response with its body read.
func (e *testEnv) do(method, path, user string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, "secret")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("%s %s: Cache-Control %q, want no-store", method, path, cc)
	}
	return resp, b
}

const alice = "alice@example.org"

// api posts a request body and returns status and decoded JSON.
func (e *testEnv) api(body string) (int, map[string]any) {
	e.t.Helper()
	resp, b := e.do("POST", "/jmap/api", alice, strings.NewReader(body), "Content-Type", "application/json")
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatalf("response is not JSON: %v: %s", err, b)
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode == 200 && ct != "application/json; charset=utf-8" {
		e.t.Errorf("Content-Type %q", ct)
	}
	if resp.StatusCode != 200 && !strings.HasPrefix(ct, "application/problem+json") {
		e.t.Errorf("error with Content-Type %q", ct)
	}
	return resp.StatusCode, m
}

// responses posts a request and returns its methodResponses re-encoded
// compactly, one string per invocation.
func (e *testEnv) responses(body string) []string {
	e.t.Helper()
	status, m := e.api(body)
	if status != 200 {
		e.t.Fatalf("status %d: %v", status, m)
	}
	var out []string
	for _, inv := range m["methodResponses"].([]any) {
		b, _ := json.Marshal(inv)
		out = append(out, string(b))
	}
	return out
}
