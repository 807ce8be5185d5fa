package webmail

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/admin"
	"postern/internal/auth"
	"postern/internal/autoconfig"
	"postern/internal/jmap"
	"postern/internal/jmapmail"
	"postern/internal/msgmeta"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

const (
	alice         = "alice@example.org"
	alicePassword = "correct horse battery"
)

// env is the webmail and the JMAP server over a real store, the real
// login throttle and Tokens, mounted as internal/web mounts them.
type env struct {
	t     *testing.T
	ctx   context.Context
	st    *sqlstore.Store
	admin *admin.Service
	srv   *httptest.Server
	wm    *Handler
	acct  store.Account
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logger := slog.New(slog.DiscardHandler)
	adm := admin.New(st, logger, admin.Options{Hostname: "mail.example.org"})
	actx := admin.WithActor(ctx, admin.Actor{Name: "test"})
	if _, err := adm.AddDomain(actx, "example.org"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{alice, "bob@example.org"} {
		if _, _, err := adm.AddAccount(actx, a, admin.NewPassword{Given: alicePassword}); err != nil {
			t.Fatal(err)
		}
	}
	acct, err := st.Account(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	authSvc := auth.New(st, auth.Options{MaxFailuresPerIP: 5, MaxFailuresPerAccount: 3, FailureDelay: time.Millisecond, MaxDelay: time.Millisecond}, logger)
	key, err := st.ServerSecret(ctx, "webmail-csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	tokens := jmap.NewTokens(jmap.BasicAuth{Auth: authSvc}, st, jmap.TokenOptions{CSRFKey: key})
	js := jmap.New(jmap.Options{Auth: tokens, Tokens: tokens, Blobs: jmapmail.NewBlobs(st)})
	jmapmail.Register(js, st, jmapmail.Options{Parse: msgmeta.Parse})
	ac := autoconfig.New(autoconfig.Options{Settings: autoconfig.Settings{Hostname: "mail.example.org",
		IMAPS: 993, IMAP: 143, Submissions: 465, Submission: 587}})
	wm, err := New(Options{Tokens: tokens, Store: st, Admin: adm, MobileConfig: ac.MobileConfigHandler})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/jmap/", js)
	mux.Handle("/", wm)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, ctx: ctx, st: st, admin: adm, srv: srv, wm: wm, acct: acct}
}

// browser is a client of the webmail's origin: it keeps the session
// cookie (as Chromium does for a Secure cookie on http://127.0.0.1) and
// the CSRF token of its last login.
type browser struct {
	e      *env
	cookie *http.Cookie
	csrf   string
}

func (e *env) browser() *browser { return &browser{e: e} }

// req builds a request with the cookie; hdr are header name/value pairs.
func (b *browser) req(method, path string, body any, hdr ...string) *http.Request {
	b.e.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
	}
	r, err := http.NewRequest(method, b.e.srv.URL+path, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if b.cookie != nil {
		r.AddCookie(&http.Cookie{Name: b.cookie.Name, Value: b.cookie.Value})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

// send sends r and returns the response with its body; it keeps a
// session cookie the server sets (and drops a cleared one).
func (b *browser) send(r *http.Request) (*http.Response, []byte) {
	b.e.t.Helper()
	resp, err := b.e.srv.Client().Do(r)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.Name == jmap.SessionCookie {
			if c.MaxAge < 0 || c.Value == "" {
				b.cookie = nil
			} else {
				b.cookie = c
			}
		}
	}
	return resp, body
}

// do sends a request; a state change carries the CSRF token.
func (b *browser) do(method, path string, body any, hdr ...string) (*http.Response, []byte) {
	b.e.t.Helper()
	if method != "GET" && method != "HEAD" && b.csrf != "" {
		hdr = append([]string{jmap.CSRFHeader, b.csrf}, hdr...)
	}
	return b.send(b.req(method, path, body, hdr...))
}

// login logs in and keeps the CSRF token; it returns the status.
func (b *browser) login(user, password string) (int, map[string]any) {
	b.e.t.Helper()
	resp, body := b.send(b.req("POST", "/webmail/login", map[string]string{"username": user, "password": password}))
	var m map[string]any
	json.Unmarshal(body, &m)
	if resp.StatusCode == 200 {
		b.csrf, _ = m["csrf"].(string)
	}
	return resp.StatusCode, m
}

func (b *browser) mustLogin() {
	b.e.t.Helper()
	if status, m := b.login(alice, alicePassword); status != 200 {
		b.e.t.Fatalf("login: %d %v", status, m)
	}
}

// jsonOf decodes a JSON answer.
func jsonOf(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
}

// deliver stores a raw message (LF line ends are made CRLF) in alice's
// INBOX, parsed as delivery parses it, and returns its JMAP email id.
func (e *env) deliver(raw string) string {
	e.t.Helper()
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	meta, err := msgmeta.Parse(strings.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := e.st.Deliver(e.ctx, store.Delivery{
		Blob:         store.NewBlob{Body: store.BytesBody(raw), Meta: meta},
		InternalDate: time.Now(),
		Targets:      []store.DeliveryTarget{{AccountID: e.acct.ID, Mailbox: "INBOX"}},
	})
	if err != nil || out.Targets[0].Err != nil {
		e.t.Fatalf("Deliver: %v %+v", err, out)
	}
	r := out.Targets[0]
	ms, err := e.st.Messages(e.ctx, r.MailboxID, r.UID, r.UID)
	if err != nil || len(ms) != 1 {
		e.t.Fatalf("Messages: %v %v", err, ms)
	}
	return "e" + strconv.FormatInt(ms[0].ID, 10)
}
