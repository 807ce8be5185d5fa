package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// shellRoutes serve the SPA's index.html (the spec's list).
var shellRoutes = []string{"/", "/f/m1", "/m/e1", "/t/t1", "/compose", "/settings", "/settings/filters", "/search?q=x", "/login"}

// TestWebmailSecurity checks the webmail's HTTP side as the issue's
// Security section lists it: CSP without unsafe-inline for scripts and
// frame-ancestors 'none' on every page; the session cookie's flags; CSRF
// on every state change; attachment downloads as attachments with
// nosniff; logout invalidates the session on the server; the login
// throttle.
func TestWebmailSecurity(t *testing.T) {
	t.Parallel()
	w := startWebmail(t, nil)

	t.Run("shell headers", func(t *testing.T) {
		for _, route := range shellRoutes {
			resp, body := wmRequest(t, "GET", w.base+route, "", "", "", nil)
			where := "GET " + route
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d", where, resp.StatusCode)
				continue
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s: Content-Type %q", where, ct)
			}
			checkShellCSP(t, where, resp.Header.Get("Content-Security-Policy"))
			checkCommonHeaders(t, where, resp, "no-store")
			checkShellHTML(t, w, where, string(body))
		}
	})

	t.Run("login and cookie", func(t *testing.T) {
		bad, _ := json.Marshal(map[string]string{"username": alice, "password": "not " + pass})
		resp, body := wmRequest(t, "POST", w.base+"/webmail/login", "", "", "application/json", bad)
		if resp.StatusCode != 401 || !strings.Contains(string(body), `"error"`) {
			t.Errorf("login with a wrong password: %d %s, want 401 {\"error\":...}", resp.StatusCode, short(string(body)))
		}
		if len(resp.Cookies()) != 0 {
			t.Errorf("a failed login sets cookies: %v", resp.Header.Values("Set-Cookie"))
		}
		s := w.login(t, alice, pass)
		c, err := http.ParseSetCookie(s.setCookie)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", s.setCookie, err)
		}
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
			t.Errorf("session cookie %q: want HttpOnly, Secure, SameSite=Strict, Path=/", s.setCookie)
		}
		resp, body = s.get("/webmail/session")
		var sess map[string]any
		if resp.StatusCode != 200 || json.Unmarshal(body, &sess) != nil || sess["username"] != alice || sess["csrf"] != s.csrf {
			t.Errorf("GET /webmail/session: %d %s", resp.StatusCode, short(string(body)))
		}
		checkCommonHeaders(t, "GET /webmail/session", resp, "no-store")
		resp, _ = wmRequest(t, "GET", w.base+"/webmail/session", "", "", "", nil)
		if resp.StatusCode != 401 {
			t.Errorf("GET /webmail/session without a cookie: %d, want 401", resp.StatusCode)
		}
		resp, _ = wmRequest(t, "GET", w.base+"/webmail/session", s.cookie+"x", "", "", nil)
		if resp.StatusCode != 401 {
			t.Errorf("GET /webmail/session with a forged cookie: %d, want 401", resp.StatusCode)
		}
		// The JMAP API takes the cookie as the session.
		resp, body = s.get("/jmap/session")
		if resp.StatusCode != 200 || !strings.Contains(string(body), alice) {
			t.Errorf("GET /jmap/session with the cookie: %d %s", resp.StatusCode, short(string(body)))
		}
	})

	t.Run("csrf", func(t *testing.T) {
		s := w.login(t, alice, pass)
		api, _ := json.Marshal(map[string]any{"using": []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"}, "methodCalls": []any{[]any{"Mailbox/get", map[string]any{"accountId": s.accountID}, "0"}}})
		for _, tc := range []struct {
			name, method, path, ctype string
			body                      []byte
		}{
			{"JMAP API", "POST", "/jmap/api", "application/json", api},
			{"upload", "POST", "/jmap/upload/" + s.accountID + "/", "text/plain", []byte("hello")},
			{"prefs", "POST", "/webmail/prefs", "application/json", []byte(`{"lang":"zh-CN"}`)},
			{"password", "POST", "/webmail/password", "application/json", []byte(`{"current":"x","new":"y"}`)},
			{"app passwords", "POST", "/webmail/app-passwords", "application/json", []byte(`{"name":"phone"}`)},
			{"logout", "POST", "/webmail/logout", "application/json", nil},
		} {
			for _, token := range []string{"", s.csrf + "0", "x"} {
				resp, body := wmRequest(t, tc.method, w.base+tc.path, s.cookie, token, tc.ctype, tc.body)
				if resp.StatusCode != 403 {
					t.Errorf("%s (%s %s) with the cookie and CSRF token %q: %d %s, want 403", tc.name, tc.method, tc.path, token, resp.StatusCode, short(string(body)))
				}
			}
		}
		// the same requests with the token pass the CSRF check
		resp, body := wmRequest(t, "POST", w.base+"/jmap/api", s.cookie, s.csrf, "application/json", api)
		if resp.StatusCode != 200 {
			t.Errorf("POST /jmap/api with cookie and CSRF token: %d %s", resp.StatusCode, short(string(body)))
		}
		resp, body = wmRequest(t, "POST", w.base+"/jmap/upload/"+s.accountID+"/", s.cookie, s.csrf, "text/plain", []byte("hello"))
		if resp.StatusCode != 200 && resp.StatusCode != 201 {
			t.Errorf("upload with cookie and CSRF token: %d %s", resp.StatusCode, short(string(body)))
		}
		// the session is still alive: the forged logouts did nothing
		if resp, _ := s.get("/webmail/session"); resp.StatusCode != 200 {
			t.Errorf("after logouts without a valid CSRF token the session answers %d", resp.StatusCode)
		}
		// another session's token is not this one's
		other := w.login(t, alice, pass)
		resp, _ = wmRequest(t, "POST", w.base+"/jmap/api", s.cookie, other.csrf, "application/json", api)
		if resp.StatusCode != 403 {
			t.Errorf("POST /jmap/api with another session's CSRF token: %d, want 403", resp.StatusCode)
		}
	})

	t.Run("attachment download", func(t *testing.T) {
		subject := "Attachment " + uniq()
		mustSend(t, w.Addr["smtp"], "friend@example.net", []string{alice}, attachmentMessage(alice, subject))
		s := w.login(t, alice, pass)
		id := s.waitEmails(s.mailboxIDs()["inbox"], []string{subject}, 10*time.Second)[subject]
		r := s.jmapCall([]any{"Email/get", map[string]any{"accountId": s.accountID, "ids": []string{id}, "properties": []string{"attachments"}}, "0"})
		var got struct {
			List []struct {
				Attachments []struct{ BlobID, Name, Type string } `json:"attachments"`
			}
		}
		json.Unmarshal(r["Email/get"], &got)
		if len(got.List) != 1 || len(got.List[0].Attachments) != 2 {
			t.Fatalf("Email/get attachments: %s", r["Email/get"])
		}
		for _, a := range got.List[0].Attachments {
			// as the SPA's downloadURL builds it, from the session's template
			path := fmt.Sprintf("/jmap/download/%s/%s/%s?type=%s", s.accountID, a.BlobID, a.Name, a.Type)
			resp, body := s.get(path)
			where := "GET " + path
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d %s", where, resp.StatusCode, short(string(body)))
				continue
			}
			if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
				t.Errorf("%s: Content-Disposition %q, want attachment", where, cd)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options %q", where, got)
			}
		}
		// raw source: shown as text, never as HTML
		resp, body := s.get("/webmail/raw/" + id)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(string(body), subject) {
			t.Errorf("GET /webmail/raw/%s: %d, Content-Type %q, nosniff %q, %d bytes", id, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"), len(body))
		}
		// the HTML body's own page may be framed only by the webmail
		resp, _ = s.get("/webmail/html/" + id + "?remote=0")
		if fa := parseCSP(resp.Header.Get("Content-Security-Policy"))["frame-ancestors"]; !slices.Equal(fa, []string{"'self'"}) {
			t.Errorf("GET /webmail/html/%s: frame-ancestors %v, want 'self'", id, fa)
		}
		// another user's message is not served
		other := w.login(t, bob, pass)
		for _, p := range []string{"/webmail/html/" + id + "?remote=0", "/webmail/raw/" + id} {
			if resp, body := other.get(p); resp.StatusCode == 200 && strings.Contains(string(body), "secret-"+subject) {
				t.Errorf("bob reads alice's message at %s", p)
			}
		}
	})

	t.Run("logout", func(t *testing.T) {
		s := w.login(t, alice, pass)
		keep := w.login(t, alice, pass)
		resp, body := s.post("/webmail/logout", nil)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST /webmail/logout: %d %s", resp.StatusCode, short(string(body)))
		}
		cleared := false
		for _, c := range resp.Cookies() {
			if c.Name == sessionCookie && (c.MaxAge < 0 || c.Value == "") {
				cleared = true
			}
		}
		if !cleared {
			t.Errorf("logout does not clear the cookie: %q", resp.Header.Values("Set-Cookie"))
		}
		// the old cookie is dead everywhere, not just forgotten by the browser
		for _, p := range []string{"/webmail/session", "/jmap/session"} {
			if resp, _ := s.get(p); resp.StatusCode != 401 {
				t.Errorf("GET %s with the logged-out cookie: %d, want 401", p, resp.StatusCode)
			}
		}
		if resp, _ := s.post("/jmap/api", map[string]any{"using": []string{"urn:ietf:params:jmap:core"}, "methodCalls": []any{}}); resp.StatusCode != 401 {
			t.Errorf("POST /jmap/api with the logged-out cookie: %d, want 401", resp.StatusCode)
		}
		// other sessions of the same user live on
		if resp, _ := keep.get("/webmail/session"); resp.StatusCode != 200 {
			t.Errorf("logging out one session ended another: %d", resp.StatusCode)
		}
	})

	// Last: it locks carol's logins for a while.
	t.Run("login throttle", func(t *testing.T) {
		bad, _ := json.Marshal(map[string]string{"username": carol, "password": "guess"})
		deadline := time.Now().Add(40 * time.Second)
		for i := 1; ; i++ {
			resp, body := wmRequest(t, "POST", w.base+"/webmail/login", "", "", "application/json", bad)
			if resp.StatusCode == 429 {
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
				t.Logf("throttled after %d failed logins", i-1)
				break
			}
			if resp.StatusCode != 401 {
				t.Fatalf("failed login %d: %d %s", i, resp.StatusCode, short(string(body)))
			}
			if i >= 12 || time.Now().After(deadline) {
				t.Fatalf("no 429 after %d failed logins", i)
			}
		}
	})
}

// checkShellCSP: the spec's policy, no unsafe-inline or unsafe-eval for
// scripts (or styles), nothing from other hosts, no framing.
func checkShellCSP(t *testing.T, where, header string) {
	t.Helper()
	csp := parseCSP(header)
	want := map[string][]string{
		"default-src":     {"'self'"},
		"script-src":      {"'self'"},
		"object-src":      {"'none'"},
		"base-uri":        {"'none'"},
		"frame-ancestors": {"'none'"},
		"form-action":     {"'self'"},
		"connect-src":     {"'self'"},
		"frame-src":       {"'self'"},
	}
	for dir, w := range want {
		if !slices.Equal(csp[dir], w) {
			t.Errorf("%s: CSP %s %v, want %v (header %q)", where, dir, csp[dir], w, header)
		}
	}
	for dir, vals := range csp {
		for _, v := range vals {
			lv := strings.ToLower(v)
			if lv == "'unsafe-inline'" || lv == "'unsafe-eval'" || lv == "*" || strings.Contains(lv, "://") || lv == "http:" || lv == "https:" {
				t.Errorf("%s: CSP %s allows %s", where, dir, v)
			}
		}
	}
}

// checkCommonHeaders: nosniff, no referrer, and the cache policy.
func checkCommonHeaders(t *testing.T, where string, resp *http.Response, cache string) {
	t.Helper()
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", where, got)
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy %q", where, got)
	}
	if cc := resp.Header.Get("Cache-Control"); cache == "no-store" && cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", where, cc)
	}
}

var (
	assetRef     = regexp.MustCompile(`(?i)(?:src|href)\s*=\s*["']?(/assets/[^"' >]+)`)
	absoluteURL  = regexp.MustCompile(`(?i)(?:src|href|action)\s*=\s*["']?((?:https?:)?//[^"' >]+)`)
	inlineScript = regexp.MustCompile(`(?is)<script(?:\s[^>]*)?>\s*[^<\s]`)
	inlineStyle  = regexp.MustCompile(`(?i)\sstyle\s*=|\son[a-z]+\s*=`)
)

// checkShellHTML: the shell loads its own assets only (each versioned by
// hash and cached long), has no inline script, style attribute or handler.
func checkShellHTML(t *testing.T, w *webmail, where, body string) {
	t.Helper()
	if m := absoluteURL.FindString(body); m != "" {
		t.Errorf("%s: the shell refers to another host: %s", where, m)
	}
	if inlineScript.MatchString(body) {
		t.Errorf("%s: the shell has an inline script", where)
	}
	if m := inlineStyle.FindString(body); m != "" {
		t.Errorf("%s: the shell has an inline %q", where, strings.TrimSpace(m))
	}
	refs := assetRef.FindAllStringSubmatch(body, -1)
	if !slices.ContainsFunc(refs, func(m []string) bool { return strings.HasPrefix(m[1], "/assets/app.js?v=") }) {
		t.Errorf("%s: the shell does not load /assets/app.js?v=<hash>: %v", where, refs)
	}
	for _, m := range refs {
		resp, _ := wmRequest(t, "GET", w.base+m[1], "", "", "", nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: asset %s: %d", where, m[1], resp.StatusCode)
			continue
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("asset %s without nosniff", m[1])
		}
		cc := resp.Header.Get("Cache-Control")
		if strings.Contains(m[1], "?v=") && !regexp.MustCompile(`max-age=(\d{6,})|immutable`).MatchString(cc) {
			t.Errorf("asset %s: Cache-Control %q, want a long max-age", m[1], cc)
		}
	}
}

// attachmentMessage has an HTML attachment that would run script if a
// browser rendered it from the webmail's origin, and a PDF.
func attachmentMessage(to, subject string) string {
	return "From: <friend@example.net>\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\n" +
		"Message-ID: <" + uniq() + "@e2e.test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsecret-" + subject + " two files attached\r\n" +
		"--b1\r\nContent-Type: text/html; name=\"page.html\"\r\nContent-Disposition: attachment; filename=\"page.html\"\r\n\r\n" +
		"<script>alert(document.cookie)</script>\r\n" +
		"--b1\r\nContent-Type: application/pdf; name=\"doc.pdf\"\r\nContent-Disposition: inline; filename=\"doc.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"JVBERi0xLjQKJSVFT0YK\r\n--b1--\r\n"
}
