package webmail

import (
	"net/http"
	"strings"
	"testing"

	"postern/internal/jmap"
)

const apiEcho = `{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"x":1},"c0"]]}`

func TestLoginSessionLogout(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if resp, _ := b.do("GET", "/webmail/session", nil); resp.StatusCode != 401 {
		t.Fatalf("session before login: %d", resp.StatusCode)
	}
	status, m := b.login(alice, "wrong password")
	if status != 401 || m["error"] == "" || b.cookie != nil {
		t.Fatalf("wrong password: %d %v cookie %v", status, m, b.cookie)
	}
	resp, body := b.send(b.req("POST", "/webmail/login", map[string]string{"username": "Alice@Example.org", "password": alicePassword}))
	var in sessionInfo
	jsonOf(t, body, &in)
	if resp.StatusCode != 200 || in.CSRF == "" || in.Username != alice || in.AccountID != jmap.AccountID(e.acct.ID) {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	b.csrf = in.CSRF
	c := b.cookie
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge < 6*24*3600 {
		t.Fatalf("cookie %+v (Set-Cookie %q)", c, resp.Header.Get("Set-Cookie"))
	}
	resp, body = b.do("GET", "/webmail/session", nil)
	var again sessionInfo
	jsonOf(t, body, &again)
	if resp.StatusCode != 200 || again != in {
		t.Fatalf("session: %d %+v, want %+v", resp.StatusCode, again, in)
	}
	if c := b.cookie; c == nil || c.MaxAge < 6*24*3600 || !c.HttpOnly || !c.Secure {
		t.Errorf("session did not renew the cookie: %+v", c)
	}

	// The cookie works on JMAP: GET without the CSRF header, POST with it.
	if resp, body := b.do("GET", "/jmap/session", nil); resp.StatusCode != 200 || !strings.Contains(string(body), alice) {
		t.Fatalf("/jmap/session by cookie: %d %s", resp.StatusCode, body)
	}
	if resp, body := b.do("POST", "/jmap/api", apiEcho); resp.StatusCode != 200 || !strings.Contains(string(body), "Core/echo") {
		t.Fatalf("/jmap/api with CSRF: %d %s", resp.StatusCode, body)
	}

	// Logout needs the CSRF header too, then revokes the token itself.
	old := *b.cookie
	csrf := b.csrf
	b.csrf = ""
	if resp, _ := b.do("POST", "/webmail/logout", nil); resp.StatusCode != 403 {
		t.Fatalf("logout without CSRF: %d", resp.StatusCode)
	}
	b.csrf = csrf
	resp, _ = b.do("POST", "/webmail/logout", nil)
	if resp.StatusCode != 204 || b.cookie != nil || !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d, Set-Cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	// A copy of the old cookie is worth nothing now.
	b.cookie = &old
	if resp, _ := b.do("GET", "/webmail/session", nil); resp.StatusCode != 401 {
		t.Errorf("session after logout: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/jmap/api", apiEcho); resp.StatusCode != 401 {
		t.Errorf("/jmap/api with the revoked cookie: %d", resp.StatusCode)
	}
}

func TestLoginThrottled(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	var status int
	for range 4 {
		status, _ = b.login(alice, "wrong password")
	}
	resp, body := b.send(b.req("POST", "/webmail/login", map[string]string{"username": alice, "password": alicePassword}))
	if status != 429 && resp.StatusCode != 429 {
		t.Fatalf("no throttle: last failure %d, then %d %s", status, resp.StatusCode, body)
	}
	if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	if b.cookie != nil {
		t.Errorf("throttled login set a cookie")
	}
}

func TestLoginRefusedFromAnotherSite(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	creds := `{"username":"` + alice + `","password":"` + alicePassword + `"}`
	for name, hdr := range map[string][]string{
		"form post":           {"Content-Type", "application/x-www-form-urlencoded"},
		"text/plain":          {"Content-Type", "text/plain"},
		"Origin of elsewhere": {"Origin", "https://evil.example"},
		"cross-site fetch":    {"Sec-Fetch-Site", "cross-site"},
	} {
		resp, _ := b.send(b.req("POST", "/webmail/login", creds, hdr...))
		if resp.StatusCode != 403 || b.cookie != nil {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if status, m := b.login("", ""); status != 400 {
		t.Errorf("empty login: %d %v", status, m)
	}
	if resp, _ := b.send(b.req("POST", "/webmail/login", "{not json")); resp.StatusCode != 400 {
		t.Errorf("bad JSON: %d", resp.StatusCode)
	}
}

// TestCSRF: with the cookie, every state change without the right
// X-CSRF-Token is refused, on JMAP and on /webmail/; another site's
// request is refused even with it.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustLogin()
	good := b.csrf
	other := e.browser()
	other.e = e
	if status, _ := other.login("bob@example.org", alicePassword); status != 200 {
		t.Fatal("bob login")
	}
	changes := []struct{ method, path, body string }{
		{"POST", "/jmap/api", apiEcho},
		{"POST", "/jmap/upload/" + jmap.AccountID(e.acct.ID) + "/", "data"},
		{"POST", "/webmail/logout", ""},
		{"POST", "/webmail/prefs", `{"lang":"zh-CN"}`},
		{"POST", "/webmail/password", `{"current":"` + alicePassword + `","new":"another long password"}`},
		{"POST", "/webmail/app-passwords", `{"name":"phone"}`},
		{"DELETE", "/webmail/app-passwords/phone", ""},
	}
	for _, c := range changes {
		for name, csrf := range map[string]string{"none": "", "wrong": "x" + good, "another session's": other.csrf} {
			var body any
			if c.body != "" {
				body = c.body
			}
			resp, rb := b.send(b.req(c.method, c.path, body, jmap.CSRFHeader, csrf))
			if resp.StatusCode != 403 {
				t.Errorf("%s %s with %s CSRF token: %d %s", c.method, c.path, name, resp.StatusCode, rb)
			}
		}
		// From another site, even the right token does not help.
		for _, hdr := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "same-site"}, {"Origin", "null"}} {
			var body any
			if c.body != "" {
				body = c.body
			}
			resp, _ := b.send(b.req(c.method, c.path, body, jmap.CSRFHeader, good, hdr[0], hdr[1]))
			if resp.StatusCode != 403 {
				t.Errorf("%s %s from another site (%s: %s): %d", c.method, c.path, hdr[0], hdr[1], resp.StatusCode)
			}
		}
	}
	// Reads from another site are refused too: the cookie is never
	// accepted cross-site.
	for _, path := range []string{"/jmap/session", "/webmail/session", "/jmap/eventsource?types=*&closeafter=state&ping=0"} {
		resp, _ := b.send(b.req("GET", path, nil, "Sec-Fetch-Site", "cross-site"))
		if resp.StatusCode != 403 {
			t.Errorf("GET %s cross-site: %d", path, resp.StatusCode)
		}
	}
	// Nothing changed: the session is alive and the language unset.
	resp, body := b.do("GET", "/webmail/session", nil)
	var in sessionInfo
	jsonOf(t, body, &in)
	if resp.StatusCode != 200 || in.Lang != "" {
		t.Errorf("after refused changes: %d %+v", resp.StatusCode, in)
	}
	// Same-origin requests with the token pass.
	if resp, _ := b.do("POST", "/webmail/prefs", map[string]string{"lang": "zh-CN"}, "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin"); resp.StatusCode != 200 {
		t.Errorf("same-origin change: %d", resp.StatusCode)
	}
}

// TestAuthorizationHeaderWins: a request with an Authorization header is
// judged by it alone; the cookie is not a fallback.
func TestAuthorizationHeaderWins(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustLogin()
	resp, _ := b.do("POST", "/jmap/api", apiEcho, "Authorization", "Bearer not-a-token")
	if resp.StatusCode != 401 {
		t.Errorf("bad bearer with a good cookie: %d", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	id := e.deliver("From: a@example.net\nSubject: x\nContent-Type: text/html\n\n<p>hi</p>\n")
	anon := e.browser()
	b := e.browser()
	b.mustLogin()
	routes := []struct {
		b            *browser
		method, path string
	}{
		{anon, "GET", "/"}, {anon, "GET", "/f/m1"}, {anon, "GET", "/m/e1"}, {anon, "GET", "/t/t1"},
		{anon, "GET", "/compose"}, {anon, "GET", "/settings"}, {anon, "GET", "/settings/filters"},
		{anon, "GET", "/search?q=x"}, {anon, "GET", "/login"}, {anon, "GET", "/nowhere"},
		{anon, "GET", "/assets/app.js"}, {anon, "GET", "/assets/missing.js"}, {anon, "GET", "/webmail/session"},
		{anon, "POST", "/webmail/login"}, {b, "GET", "/webmail/session"}, {b, "GET", "/webmail/prefs"},
		{b, "GET", "/webmail/html/" + id}, {b, "GET", "/webmail/raw/" + id}, {b, "GET", "/webmail/html/e999"},
		{b, "GET", "/webmail/app-passwords"}, {b, "POST", "/webmail/prefs"},
	}
	for _, r := range routes {
		resp, _ := r.b.do(r.method, r.path, nil)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if csp == "" || !strings.Contains(csp, "default-src") || strings.Contains(csp, "script-src 'unsafe-inline'") {
			t.Errorf("%s %s: CSP %q", r.method, r.path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-DNS-Prefetch-Control") != "off" {
			t.Errorf("%s %s: %v", r.method, r.path, h)
		}
		cc := h.Get("Cache-Control")
		if strings.HasPrefix(r.path, "/assets/app.js") {
			if cc == "no-store" || cc == "" {
				t.Errorf("%s: Cache-Control %q", r.path, cc)
			}
		} else if cc != "no-store" {
			t.Errorf("%s %s: Cache-Control %q", r.method, r.path, cc)
		}
		if strings.HasPrefix(r.path, "/webmail/html/e") && resp.StatusCode == 200 {
			if !strings.Contains(csp, "frame-ancestors 'self'") || !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("message CSP %q", csp)
			}
		} else if strings.HasPrefix(r.path, "/webmail/raw/") {
			if csp != "default-src 'none'; frame-ancestors 'self'; sandbox" {
				t.Errorf("raw CSP %q", csp)
			}
		} else if csp != shellCSP {
			t.Errorf("%s %s: CSP %q, want the shell's", r.method, r.path, csp)
		}
	}
}
