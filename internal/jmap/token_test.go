package jmap

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"postern/internal/admin"
	"postern/internal/auth"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// clock is a test clock the token service reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a log sink safe for the server's goroutines.
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

// tokenEnv is a Server over a real store, the real auth service (its
// throttle included) and Tokens, as internal/app builds it.
type tokenEnv struct {
	*testEnv
	st    *sqlstore.Store
	admin *admin.Service
	clock *clock
	log   *syncBuffer
	acct  store.Account
}

const tokenPassword = "correct horse battery"

func newTokenEnv(t *testing.T) *tokenEnv {
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
	cred, err := auth.HashPassword(tokenPassword)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, "carol@example.org", cred)
	if err != nil {
		t.Fatal(err)
	}
	te := &tokenEnv{st: st, clock: &clock{t: time.Now()}, log: &syncBuffer{}, acct: acct}
	logger := slog.New(slog.NewTextHandler(te.log, nil))
	authSvc := auth.New(st, auth.Options{MaxFailuresPerIP: 5, MaxFailuresPerAccount: 3, FailureDelay: time.Millisecond, MaxDelay: time.Millisecond}, logger)
	tokens := NewTokens(BasicAuth{Auth: authSvc}, st, TokenOptions{Logger: logger, Now: te.clock.now})
	te.admin = admin.New(st, logger, admin.Options{Hostname: "mail.example.org"})
	te.testEnv = newWSEnv(t, func(o *Options) {
		o.Auth, o.Tokens = tokens, tokens
		// A pong may come late on a loaded CI machine under -race.
		o.WebSocketPing = 250 * time.Millisecond
		o.Changes = &StoreChanges{Notifier: st.Notifier(), ModSeq: st.AccountModSeq, Types: []string{"Mailbox", "Email", "Thread"}}
	}, nil)
	return te
}

// token logs in at the token endpoint with HTTP Basic and returns the
// response.
func (te *tokenEnv) login(user, password string) (*http.Response, map[string]any) {
	te.t.Helper()
	req, _ := http.NewRequest("POST", te.http.URL+"/jmap/auth/token", nil)
	req.SetBasicAuth(user, password)
	return te.send(req)
}

func (te *tokenEnv) send(req *http.Request) (*http.Response, map[string]any) {
	te.t.Helper()
	resp, err := te.http.Client().Do(req)
	if err != nil {
		te.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Cache-Control") != "no-store" {
		te.t.Errorf("%s %s: no Cache-Control no-store", req.Method, req.URL.Path)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp, m
}

func (te *tokenEnv) issue() string {
	te.t.Helper()
	resp, m := te.login("carol@example.org", tokenPassword)
	tok, _ := m["accessToken"].(string)
	if resp.StatusCode != 200 || tok == "" {
		te.t.Fatalf("login: %d %v", resp.StatusCode, m)
	}
	return tok
}

// bearerStatus sends a request with the token and returns its status.
func (te *tokenEnv) bearerStatus(method, path, tok string, body io.Reader) int {
	te.t.Helper()
	req, _ := http.NewRequest(method, te.http.URL+path, body)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, _ := te.send(req)
	return resp.StatusCode
}

func TestTokenIssueAndUse(t *testing.T) {
	te := newTokenEnv(t)
	resp, m := te.login("Carol@Example.org", tokenPassword)
	tok, _ := m["accessToken"].(string)
	if resp.StatusCode != 200 || m["tokenType"] != "Bearer" || m["accountId"] != AccountID(te.acct.ID) || m["username"] != "carol@example.org" {
		t.Fatalf("login: %d %v", resp.StatusCode, m)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) != 32 {
		t.Fatalf("token %q", tok)
	}
	exp, err := time.Parse(time.RFC3339, m["expiresAt"].(string))
	if err != nil || exp.Sub(te.clock.now()) < 7*24*time.Hour-time.Second || exp.Sub(te.clock.now()) > 7*24*time.Hour {
		t.Errorf("expiresAt %v (%v)", m["expiresAt"], err)
	}
	// The store keeps the digest, never the token.
	if _, _, err := te.st.AccessToken(context.Background(), []byte(tok)); err == nil {
		t.Error("the token itself is a key in the store")
	}
	// A JSON body works as well as Basic.
	req, _ := http.NewRequest("POST", te.http.URL+"/jmap/auth/token",
		strings.NewReader(`{"username":"carol@example.org","password":"`+tokenPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, m := te.send(req); resp.StatusCode != 200 || m["accessToken"] == tok || m["accessToken"] == "" {
		t.Errorf("JSON login: %d %v", resp.StatusCode, m)
	}

	// The token is accepted everywhere Basic is.
	aid := AccountID(te.acct.ID)
	if st := te.bearerStatus("GET", "/jmap/session", tok, nil); st != 200 {
		t.Errorf("session: %d", st)
	}
	if st := te.bearerStatus("POST", "/jmap/api", tok, strings.NewReader(`{"using":[],"methodCalls":[]}`)); st != 200 {
		t.Errorf("api: %d", st)
	}
	if st := te.bearerStatus("POST", "/jmap/upload/"+aid+"/", tok, strings.NewReader("blob")); st != 201 && st != 200 {
		t.Errorf("upload: %d", st)
	}
	if st := te.bearerStatus("GET", "/jmap/download/"+aid+"/B1/x.txt", tok, nil); st != 200 {
		t.Errorf("download: %d", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", te.http.URL+"/jmap/eventsource?types=*&closeafter=no&ping=0", nil)
	req.Header.Set("Authorization", "bearer "+tok)
	if resp, err := te.http.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("eventsource: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	c := te.dialWS(http.Header{"Authorization": {"Bearer " + tok}})
	c.Close(websocket.StatusNormalClosure, "")

	// One log line per token, with the account and never the token.
	logs := te.log.String()
	if strings.Count(logs, "access token issued") != 2 || !strings.Contains(logs, "account=carol@example.org") || strings.Contains(logs, tok) {
		t.Errorf("log:\n%s", logs)
	}
}

func TestTokenRefused(t *testing.T) {
	te := newTokenEnv(t)
	tok := te.issue()
	for _, bad := range []string{"nope", tok[:40], base64.RawURLEncoding.EncodeToString(make([]byte, 32))} {
		req, _ := http.NewRequest("GET", te.http.URL+"/jmap/session", nil)
		req.Header.Set("Authorization", "Bearer "+bad)
		resp, _ := te.send(req)
		ch := strings.Join(resp.Header.Values("WWW-Authenticate"), "|")
		if resp.StatusCode != 401 || !strings.Contains(ch, `Bearer realm="Postern", error="invalid_token"`) || !strings.Contains(ch, "Basic") {
			t.Errorf("token %q: %d %s", bad, resp.StatusCode, ch)
		}
	}
	// Wrong password, bad bodies, wrong method.
	if resp, m := te.login("carol@example.org", "wrong"); resp.StatusCode != 401 || m["accessToken"] != nil {
		t.Errorf("wrong password: %d %v", resp.StatusCode, m)
	}
	for _, body := range []string{``, `{`, `{"password":"x"}`, `[]`, `{"username":"carol@example.org","password":"` + strings.Repeat("x", 5000) + `"}`} {
		req, _ := http.NewRequest("POST", te.http.URL+"/jmap/auth/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if resp, _ := te.send(req); resp.StatusCode != 400 {
			t.Errorf("body %.30q: %d", body, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", te.http.URL+"/jmap/auth/token", strings.NewReader(`{"username":"carol@example.org","password":"`+tokenPassword+`"}`))
	req.Header.Set("Content-Type", "text/plain")
	if resp, _ := te.send(req); resp.StatusCode != 400 {
		t.Errorf("text/plain body: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", te.http.URL+"/jmap/auth/token", nil)
	if resp, _ := te.send(req); resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST, DELETE" {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	// A Server without Tokens has no endpoint.
	e := newEnv(t, Limits{}, nil)
	if resp, _ := e.do("POST", "/jmap/auth/token", alice, nil); resp.StatusCode != 404 {
		t.Errorf("no Tokens: %d", resp.StatusCode)
	}
}

func TestTokenExpiry(t *testing.T) {
	te := newTokenEnv(t)
	tok := te.issue()
	// Each use moves the idle expiry: 6 days, use, 6 days, still good.
	te.clock.advance(6 * 24 * time.Hour)
	if st := te.bearerStatus("GET", "/jmap/session", tok, nil); st != 200 {
		t.Fatalf("after 6 days: %d", st)
	}
	te.clock.advance(6 * 24 * time.Hour)
	if st := te.bearerStatus("GET", "/jmap/session", tok, nil); st != 200 {
		t.Fatalf("after 6 more days, used in between: %d", st)
	}
	te.clock.advance(7*24*time.Hour + time.Minute)
	if st := te.bearerStatus("GET", "/jmap/session", tok, nil); st != 401 {
		t.Fatalf("after 7 idle days: %d", st)
	}
}

func TestTokenRevoke(t *testing.T) {
	te := newTokenEnv(t)
	tok, other := te.issue(), te.issue()
	if st := te.bearerStatus("DELETE", "/jmap/auth/token", tok, nil); st != 204 {
		t.Fatalf("DELETE: %d", st)
	}
	if st := te.bearerStatus("GET", "/jmap/session", tok, nil); st != 401 {
		t.Errorf("revoked token: %d", st)
	}
	if st := te.bearerStatus("DELETE", "/jmap/auth/token", tok, nil); st != 401 {
		t.Errorf("DELETE twice: %d", st)
	}
	req, _ := http.NewRequest("DELETE", te.http.URL+"/jmap/auth/token", nil)
	if resp, _ := te.send(req); resp.StatusCode != 401 {
		t.Errorf("DELETE without a token: %d", resp.StatusCode)
	}
	if st := te.bearerStatus("GET", "/jmap/session", other, nil); st != 200 {
		t.Errorf("another token revoked too: %d", st)
	}
	if !strings.Contains(te.log.String(), "access token revoked") {
		t.Errorf("no revocation log:\n%s", te.log.String())
	}
}

func TestTokenRevokedByPasswordChange(t *testing.T) {
	te := newTokenEnv(t)
	tok := te.issue()
	c := te.dialWS(http.Header{"Authorization": {"Bearer " + tok}})
	wsSend(t, c, `{"@type":"WebSocketPushEnable"}`) // not idle
	req, _ := http.NewRequest("GET", te.http.URL+"/jmap/eventsource?types=*&closeafter=no&ping=0", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	stream, err := te.http.Client().Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("eventsource: %v %v", err, stream)
	}
	streamEnded := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stream.Body)
		stream.Body.Close()
		close(streamEnded)
	}()
	closed := make(chan websocket.StatusCode, 1)
	go func() { // reading answers the pings
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				closed <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	select { // a live token keeps its streams across several checks
	case <-streamEnded:
		t.Fatal("event stream ended before the password change")
	case st := <-closed:
		t.Fatalf("websocket closed before the password change: %v", st)
	case <-time.After(800 * time.Millisecond):
	}
	ctx := admin.WithActor(context.Background(), admin.Actor{Name: "test"})
	if _, _, err := te.admin.SetPassword(ctx, "carol@example.org", admin.NewPassword{Given: "a new long password"}); err != nil {
		t.Fatal(err)
	}
	// The open WebSocket ends at its next ping, the event stream too.
	select {
	case st := <-closed:
		if st != websocket.StatusPolicyViolation {
			t.Errorf("websocket after password change: %v", st)
		}
	case <-time.After(5 * time.Second):
		t.Error("websocket still open after the password change")
	}
	select {
	case <-streamEnded:
	case <-time.After(5 * time.Second):
		t.Error("event stream still open after the password change")
	}
	if st := te.bearerStatus("GET", "/jmap/session", tok, nil); st != 401 {
		t.Errorf("token after password change: %d", st)
	}
	if _, m := te.login("carol@example.org", "a new long password"); m["accessToken"] == nil {
		t.Fatal("login with the new password failed")
	}
	// Disabling the account revokes too.
	tok = te.issue2("a new long password")
	if err := te.admin.DisableAccount(ctx, "carol@example.org"); err != nil {
		t.Fatal(err)
	}
	if st := te.bearerStatus("GET", "/jmap/session", tok, nil); st != 401 {
		t.Errorf("token after disable: %d", st)
	}
}

func (te *tokenEnv) issue2(password string) string {
	te.t.Helper()
	_, m := te.login("carol@example.org", password)
	tok, _ := m["accessToken"].(string)
	if tok == "" {
		te.t.Fatalf("login: %v", m)
	}
	return tok
}

func TestTokenDisabledAccountRefused(t *testing.T) {
	// A token whose account was disabled behind the store's back (no
	// revocation) is refused at use.
	te := newTokenEnv(t)
	tok := te.issue()
	hash, _ := hashToken(tok)
	at, _, err := te.st.AccessToken(context.Background(), hash)
	if err != nil {
		t.Fatal(err)
	}
	tokens := te.srv.opts.Tokens
	acct := te.acct
	acct.Disabled = true
	tokens.st = disabledStore{AccessTokens: te.st, acct: acct}
	if _, _, err := tokens.check(context.Background(), tok); err == nil || at.ID == 0 {
		t.Error("a disabled account's token was accepted")
	}
}

// disabledStore answers every token lookup with a disabled account.
type disabledStore struct {
	store.AccessTokens
	acct store.Account
}

func (d disabledStore) AccessToken(ctx context.Context, hash []byte) (store.AccessToken, store.Account, error) {
	t, _, err := d.AccessTokens.AccessToken(ctx, hash)
	return t, d.acct, err
}

func TestTokenLoginThrottled(t *testing.T) {
	te := newTokenEnv(t)
	var last *http.Response
	for i := 0; i < 6; i++ {
		last, _ = te.login("carol@example.org", "guess"+string(rune('a'+i)))
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("after repeated bad passwords: %d %v", last.StatusCode, last.Header)
	}
	// The right password is refused too while throttled, on the token
	// endpoint and with Basic on the API: the throttle is shared.
	if resp, m := te.login("carol@example.org", tokenPassword); resp.StatusCode != 429 || m["accessToken"] != nil {
		t.Errorf("right password while throttled: %d %v", resp.StatusCode, m)
	}
	req, _ := http.NewRequest("GET", te.http.URL+"/jmap/session", nil)
	req.SetBasicAuth("carol@example.org", tokenPassword)
	if resp, _ := te.send(req); resp.StatusCode != 429 {
		t.Errorf("Basic while throttled: %d", resp.StatusCode)
	}
}
