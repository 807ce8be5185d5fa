package jmap

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, Limits{}, register)
	for _, c := range []struct{ method, path string }{
		{"GET", "/.well-known/jmap"},
		{"GET", "/jmap/session"},
		{"POST", "/jmap/api"},
		{"POST", "/jmap/upload/a1/"},
		{"GET", "/jmap/download/a1/B1/x.txt"},
		{"GET", "/jmap/eventsource?types=*"},
	} {
		for _, user := range []string{"", "mallory"} {
			resp, _ := e.do(c.method, c.path, user, strings.NewReader(`{}`))
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Basic realm="Postern"`) {
				t.Errorf("%s %s as %q: %d %q", c.method, c.path, user, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
		resp, _ := e.do(c.method, c.path, "throttled", strings.NewReader(`{}`))
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "90" {
			t.Errorf("%s %s throttled: %d %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	resp, _ := e.do("GET", "/jmap/nothing", alice, nil)
	if resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}

// loginFunc is an auth.Authenticator from a function.
type loginFunc func(ctx context.Context, remote netip.Addr, user, pass string) (store.Account, error)

func (f loginFunc) Login(ctx context.Context, remote netip.Addr, user, pass string) (store.Account, error) {
	return f(ctx, remote, user, pass)
}

func TestBasicAuth(t *testing.T) {
	var calls int
	var lastRemote netip.Addr
	b := BasicAuth{Auth: loginFunc(func(ctx context.Context, remote netip.Addr, user, pass string) (store.Account, error) {
		calls++
		lastRemote = remote
		switch {
		case user == "slow@example.org":
			return store.Account{}, auth.ErrThrottled
		case user == "broken@example.org":
			return store.Account{}, errors.New("database gone")
		case user == "alice@example.org" && pass == "pw":
			return store.Account{ID: 42, Address: "alice@example.org"}, nil
		}
		return store.Account{}, auth.ErrFailed
	})}
	req := func(user, pass string) *http.Request {
		r := httptest.NewRequest("GET", "/jmap/session", nil)
		r.RemoteAddr = "[::ffff:192.0.2.7]:5555"
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		return r
	}
	p, err := b.Authenticate(req("alice@example.org", "pw"))
	if err != nil || p != (Principal{AccountID: "a42", Username: "alice@example.org"}) {
		t.Fatalf("%v %v", p, err)
	}
	if lastRemote != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("remote %v", lastRemote)
	}
	if _, err := b.Authenticate(req("alice@example.org", "wrong")); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("wrong password: %v", err)
	}
	var te *ThrottledError
	if _, err := b.Authenticate(req("slow@example.org", "pw")); !errors.As(err, &te) || te.RetryAfter != time.Minute {
		t.Errorf("throttled: %v", err)
	}
	if _, err := b.Authenticate(req("broken@example.org", "pw")); err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Errorf("store failure: %v", err)
	}
	n := calls
	if _, err := b.Authenticate(req("", "")); !errors.Is(err, ErrUnauthenticated) || calls != n {
		t.Errorf("no credentials: %v, Login called", err)
	}

	// Through the server: 401, 429, 503, 200.
	s := httptest.NewServer(New(Options{Auth: b}))
	defer s.Close()
	for user, want := range map[string]int{"alice@example.org": 200, "bob@example.org": 401, "slow@example.org": 429, "broken@example.org": 503} {
		r, _ := http.NewRequest("GET", s.URL+"/.well-known/jmap", nil)
		r.SetBasicAuth(user, "pw")
		resp, err := s.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", user, resp.StatusCode, want)
		}
	}
}

func TestAccountID(t *testing.T) {
	for _, id := range []int64{1, 42, 1 << 62} {
		s := AccountID(id)
		if got, ok := ParseAccountID(s); !ok || got != id {
			t.Errorf("%d -> %s -> %d %v", id, s, got, ok)
		}
	}
	for _, s := range []string{"", "a", "a0", "a01", "a-1", "a+1", "b1", "a1x", "a99999999999999999999"} {
		if _, ok := ParseAccountID(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
}
