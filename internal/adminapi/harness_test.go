package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/admin"
	"postern/internal/auth"
	"postern/internal/dkim"
	"postern/internal/queue/queuetest"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// testKeys are DKIM keys made once (RSA-2048 is slow under -race);
// fastKeys hands out copies with fresh selectors.
var testKeys = sync.OnceValues(func() ([]store.DKIMKey, error) { return dkim.GenerateKeys(time.Now()) })

func fastKeys() func(time.Time) ([]store.DKIMKey, error) {
	var n atomic.Int64
	return func(now time.Time) ([]store.DKIMKey, error) {
		keys, err := testKeys()
		if err != nil {
			return nil, err
		}
		i := n.Add(1)
		out := make([]store.DKIMKey, len(keys))
		for j, k := range keys {
			k.Selector = fmt.Sprintf("t%d%s", i, k.Selector[len(k.Selector)-1:])
			k.CreatedAt = now
			out[j] = k
		}
		return out, nil
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is an admin listener over a fresh SQLite store, served by httptest
// on loopback, with a server administrator "root" and a domain
// administrator "dom" of example.org, and the domains example.org and
// other.test.
type env struct {
	t   *testing.T
	st  *sqlstore.Store
	svc *admin.Service
	url string
	log *syncBuffer
	cli context.Context // acts as "cli"
	// dns is the DNS server the service's live check asks.
	dns *queuetest.DNS
}

const (
	rootPW = "root password 1"
	domPW  = "dom password 12"
)

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	dns := queuetest.StartDNS(t)
	svc := admin.New(st, logger, admin.Options{Hostname: "mail.example.org", NewDKIMKeys: fastKeys(),
		DNS: admin.NewDNSLookup([]string{dns.Addr})})
	authSvc := auth.New(st, auth.Options{MaxFailuresPerIP: 100, MaxFailuresPerAccount: 3, FailureDelay: -1}, logger)
	srv := New(Options{Admin: svc, Auth: authSvc, Logger: logger, Extra: map[string]http.Handler{
		"/healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }),
	}, Protected: map[string]http.Handler{
		// Answers who it runs as, for TestProtectedHandlers.
		"GET /admin/api/probe": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a, _ := admin.ActorFrom(r.Context())
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"actor": a.Name})
		}),
	}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, st: st, svc: svc, url: ts.URL, log: logs, cli: admin.WithActor(ctx, admin.Actor{Name: "cli"}), dns: dns}
	for _, d := range []string{"example.org", "other.test"} {
		if _, err := svc.AddDomain(e.cli, d); err != nil {
			t.Fatal(err)
		}
	}
	e.addAdmin("root", "server", nil, rootPW, false)
	e.addAdmin("dom", "domain", []string{"example.org"}, domPW, false)
	return e
}

func (e *env) addAdmin(name, role string, domains []string, pw string, totp bool) string {
	e.t.Helper()
	_, _, url, err := e.svc.AddAdministrator(e.cli, admin.NewAdministrator{Name: name, Role: role, Domains: domains,
		Password: admin.NewPassword{Given: pw}, TOTP: totp})
	if err != nil {
		e.t.Fatal(err)
	}
	return url
}

// client is one caller: a session (cookie and CSRF token), a bearer
// token, or neither.
type client struct {
	e             *env
	cookie, csrf  string
	bearer        string
	noCSRF        bool
	lastSetCookie *http.Cookie
	lastHeader    http.Header
}

func (e *env) anon() *client { return &client{e: e} }

// login logs in and returns the session's client.
func (e *env) login(name, pw string) *client {
	e.t.Helper()
	c := e.anon()
	status, body := c.do("POST", "/admin/api/login", map[string]string{"username": name, "password": pw})
	if status != 200 {
		e.t.Fatalf("login %s: %d %v", name, status, body)
	}
	if c.lastSetCookie == nil {
		e.t.Fatal("login set no cookie")
	}
	c.cookie, c.csrf = c.lastSetCookie.Value, body["csrf_token"].(string)
	return c
}

// do sends a request; body, when not nil and not a string, goes as JSON.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.e.url+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
		if !c.noCSRF {
			req.Header.Set(csrfHeader, c.csrf)
		}
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	c.lastSetCookie = nil
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName {
			c.lastSetCookie = ck
		}
	}
	c.lastHeader = resp.Header
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.e.t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// want sends a request and checks the status, returning the body.
func (c *client) want(status int, method, path string, body any) map[string]any {
	c.e.t.Helper()
	got, out := c.do(method, path, body)
	if got != status {
		c.e.t.Fatalf("%s %s: status %d %v, want %d", method, path, got, out, status)
	}
	return out
}

// wantError checks an error answer: status, kind and a message containing
// msg.
func (c *client) wantError(status int, kind, msg, method, path string, body any) {
	c.e.t.Helper()
	got, out := c.do(method, path, body)
	if got != status || out["kind"] != kind || !strings.Contains(fmt.Sprint(out["error"]), msg) {
		c.e.t.Errorf("%s %s: %d %v, want %d kind %s containing %q", method, path, got, out, status, kind, msg)
	}
}
