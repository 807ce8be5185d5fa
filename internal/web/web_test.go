package web

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSecureCredentials(t *testing.T) {
	reached := false
	h := secureCredentials(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	cases := []struct {
		name, remote, path, auth string
		tls, pass                bool
		cookie                   bool
	}{
		{"session cookie from afar", "192.0.2.7:4000", "/webmail/session", "", false, false, true},
		{"session cookie from loopback", "127.0.0.1:4000", "/webmail/session", "", false, true, true},
		{"session cookie over TLS", "192.0.2.7:4000", "/jmap/api", "", true, true, true},
		{"webmail login from afar", "192.0.2.7:4000", "/webmail/login", "", false, false, false},
		{"webmail login over TLS", "192.0.2.7:4000", "/webmail/login", "", true, true, false},
		{"webmail page from afar", "192.0.2.7:4000", "/", "", false, true, false},
		{"basic from afar", "192.0.2.7:4000", "/jmap/api", "Basic eDp5", false, false, false},
		{"bearer from afar", "192.0.2.7:4000", "/jmap/api", "Bearer abc", false, false, false},
		{"token endpoint from afar, body credentials", "192.0.2.7:4000", "/jmap/auth/token", "", false, false, false},
		{"bearer over TLS", "192.0.2.7:4000", "/jmap/api", "Bearer abc", true, true, false},
		{"token endpoint over TLS", "192.0.2.7:4000", "/jmap/auth/token", "", true, true, false},
		{"bearer from loopback", "127.0.0.1:4000", "/jmap/api", "Bearer abc", false, true, false},
		{"token endpoint from loopback v6", "[::1]:4000", "/jmap/auth/token", "", false, true, false},
		{"no credentials from afar", "192.0.2.7:4000", "/.well-known/jmap", "", false, true, false},
	}
	for _, c := range cases {
		reached = false
		r := httptest.NewRequest("POST", c.path, strings.NewReader(`{"username":"a","password":"b"}`))
		r.RemoteAddr = c.remote
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if c.cookie {
			r.AddCookie(&http.Cookie{Name: "postern_session", Value: "t"})
		}
		r.TLS = nil
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if reached != c.pass {
			t.Errorf("%s: reached %v, want %v", c.name, reached, c.pass)
		}
		if !c.pass && (w.Code != 403 || w.Header().Get("Cache-Control") != "no-store") {
			t.Errorf("%s: %d %v", c.name, w.Code, w.Header())
		}
	}
}

// streams records its Shutdown call.
type streams struct{ called chan struct{} }

func (s *streams) Shutdown(ctx context.Context) error {
	close(s.called)
	return errors.New("still open")
}

func TestWebmailMounted(t *testing.T) {
	s := New(Options{JMAP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }),
		Webmail: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(298) })})
	for path, want := range map[string]int{"/": 298, "/m/e1": 298, "/webmail/session": 298, "/assets/app.js": 298,
		"/jmap/session": 299, "/.well-known/jmap": 299} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = "127.0.0.1:5000"
		s.srv.Handler.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d, want %d", path, w.Code, want)
		}
	}
}

func TestShutdownEndsStreams(t *testing.T) {
	st := &streams{called: make(chan struct{})}
	s := New(Options{JMAP: http.NotFoundHandler(), Streams: st})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.called:
	default:
		t.Fatal("streams not shut down")
	}
}
