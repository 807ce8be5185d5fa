package jmap

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// TestCookieSession: the session cookie is a bearer token when no
// Authorization header is sent; a state change needs X-CSRF-Token, and
// no request from another site is accepted with it.
func TestCookieSession(t *testing.T) {
	te := newTokenEnv(t)
	tokens := te.srv.opts.Tokens
	tok := te.issue()
	csrf := tokens.CSRF(tok)
	if csrf == tokens.CSRF(tok+"x") || len(csrf) != 43 {
		t.Fatalf("CSRF %q", csrf)
	}
	status := func(method, path, body string, hdr ...string) int {
		t.Helper()
		var rd *strings.Reader
		if body == "" {
			rd = strings.NewReader("")
		} else {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, te.http.URL+path, rd)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: tok})
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, _ := te.send(req)
		return resp.StatusCode
	}
	api := `{"using":[],"methodCalls":[]}`
	aid := AccountID(te.acct.ID)
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		want                     int
	}{
		{"session by cookie", "GET", "/jmap/session", "", nil, 200},
		{"api without CSRF", "POST", "/jmap/api", api, nil, 403},
		{"api with wrong CSRF", "POST", "/jmap/api", api, []string{CSRFHeader, csrf[1:]}, 403},
		{"api with CSRF", "POST", "/jmap/api", api, []string{CSRFHeader, csrf}, 200},
		{"upload without CSRF", "POST", "/jmap/upload/" + aid + "/", "x", nil, 403},
		{"upload with CSRF", "POST", "/jmap/upload/" + aid + "/", "x", []string{CSRFHeader, csrf}, 201},
		{"revoke by cookie without CSRF", "DELETE", "/jmap/auth/token", "", nil, 401},
		{"cross-site read", "GET", "/jmap/session", "", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"sibling-site read", "GET", "/jmap/session", "", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"foreign Origin with CSRF", "POST", "/jmap/api", api, []string{CSRFHeader, csrf, "Origin", "https://evil.example"}, 403},
		{"own Origin with CSRF", "POST", "/jmap/api", api, []string{CSRFHeader, csrf, "Origin", te.http.URL}, 200},
		// A proxy that rewrote Host: Sec-Fetch-Site is what counts.
		{"same-origin behind a proxy", "POST", "/jmap/api", api, []string{CSRFHeader, csrf, "Origin", "https://mail.example.org", "Sec-Fetch-Site", "same-origin"}, 200},
		{"bad bearer beats the cookie", "GET", "/jmap/session", "", []string{"Authorization", "Bearer nope"}, 401},
	}
	for _, c := range cases {
		if got := status(c.method, c.path, c.body, c.hdr...); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	// A WebSocket opened with the cookie works from the same origin only.
	c := te.dialWS(http.Header{"Cookie": {SessionCookie + "=" + tok}})
	c.Close(websocket.StatusNormalClosure, "")

	if err := tokens.Revoke(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if got := status("GET", "/jmap/session", ""); got != 401 {
		t.Errorf("revoked cookie: %d", got)
	}
	if err := tokens.Revoke(t.Context(), tok); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
}

// TestCookieRefusedWithoutChallenge: a webmail request whose session died
// gets 401 without WWW-Authenticate (a browser would put its own password
// dialog over the page); a client without the cookie still gets the
// Basic and Bearer challenges.
func TestCookieRefusedWithoutChallenge(t *testing.T) {
	te := newTokenEnv(t)
	req, _ := http.NewRequest("GET", te.http.URL+"/jmap/session", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: "dead" + strings.Repeat("x", 39)})
	resp, _ := te.send(req)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("dead cookie: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	req, _ = http.NewRequest("GET", te.http.URL+"/jmap/session", nil)
	resp, _ = te.send(req)
	if resp.StatusCode != 401 || len(resp.Header.Values("WWW-Authenticate")) != 2 {
		t.Errorf("no credentials: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
}
