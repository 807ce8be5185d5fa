package adminapi

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestRequestDecoding(t *testing.T) {
	e := newEnv(t)
	c := e.bearer()
	for _, tc := range []struct {
		body        string
		status      int
		msg         string
		contentType string
	}{
		{`{"name": "x.test", "admin": true}`, 400, `unknown field "admin"`, ""},
		{`{"name": "x.test"} {"name": "y.test"}`, 400, "one JSON object, nothing after it", ""},
		{`{"name": "x.test"`, 400, "not valid JSON", ""},
		{`["x.test"]`, 400, "must be", ""},
		{`{"name": 5}`, 400, `field "name" must be string`, ""},
		{``, 400, "a JSON object is required", ""},
		{`{"name": "x.test"}`, 415, "must be application/json", "text/plain"},
		{`{"name": "x.test"}`, 415, "must be application/json", "application/x-www-form-urlencoded"},
		{`{"name": "x.test"}`, 415, "must be application/json", "nonsense/"},
		{`{"name": "` + strings.Repeat("a", maxBody) + `"}`, 413, "larger than", ""},
	} {
		req, _ := http.NewRequest("POST", e.url+"/admin/api/domains", strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+c.bearer)
		req.Header.Set("Content-Type", "application/json")
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out apiError
		_ = json.Unmarshal(raw, &out)
		if resp.StatusCode != tc.status || !strings.Contains(out.Msg, tc.msg) || out.Kind != "invalid" {
			t.Errorf("body %.40q: %d %s, want %d containing %q", tc.body, resp.StatusCode, raw, tc.status, tc.msg)
		}
	}
	c.wantError(404, "notfound", "no such endpoint", "GET", "/admin/api/nothing", nil)
}

func TestPagesAndExtraHandlers(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/admin/", "/healthz", "/admin/api/login"} {
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: security headers missing: %v", path, h)
		}
		switch path {
		case "/admin/":
			// The page is the web admin's: its module from the shared
			// asset set, no inline script or style for the CSP to allow.
			page := string(body)
			if resp.StatusCode != 200 || !strings.Contains(page, `<script type="module" src="/assets/admin.js?v=`) ||
				!strings.Contains(page, `href="/assets/style.css?v=`) || strings.Contains(page, "<script>") ||
				strings.Contains(page, "style=") || strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") ||
				!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("admin page: %d %s", resp.StatusCode, body)
			}
		case "/healthz":
			if resp.StatusCode != 200 || string(body) != "ok\n" {
				t.Errorf("extra handler: %d %q", resp.StatusCode, body)
			}
		case "/admin/api/login":
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no such endpoint: GET /admin/api/login") {
				t.Errorf("GET login: %d", resp.StatusCode)
			}
		}
	}
}

// fakeListener has any address and accepts nothing.
type fakeListener struct{ addr net.Addr }

var errClosed = errors.New("fake listener closed")

func (f fakeListener) Accept() (net.Conn, error) { return nil, errClosed }
func (f fakeListener) Close() error              { return nil }
func (f fakeListener) Addr() net.Addr            { return f.addr }

func TestListenerNeedsTLSOffLoopback(t *testing.T) {
	public := fakeListener{&net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 8081}}
	if err := New(Options{}).Serve(public, false); !errors.Is(err, ErrNeedsTLS) {
		t.Errorf("non-loopback without TLS: %v, want ErrNeedsTLS", err)
	}
	anyAddr := fakeListener{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8081}}
	if err := New(Options{}).Serve(anyAddr, false); !errors.Is(err, ErrNeedsTLS) {
		t.Errorf("every interface without TLS: %v, want ErrNeedsTLS", err)
	}
	// With TLS it serves (here: until the listener fails).
	if err := New(Options{TLS: &tls.Config{}}).Serve(public, false); !errors.Is(err, errClosed) {
		t.Errorf("non-loopback with TLS: %v, want the listener's error", err)
	}
	loop := fakeListener{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8081}}
	if err := New(Options{}).Serve(loop, false); !errors.Is(err, errClosed) {
		t.Errorf("loopback: %v", err)
	}
	for addr, want := range map[string]bool{
		"127.0.0.1:8081": true, "[::1]:8081": true, "localhost:8081": true, "127.1.2.3:1": true,
		":8081": false, "0.0.0.0:8081": false, "192.0.2.1:8081": false, "[::]:8081": false, "bad": false,
	} {
		if IsLoopback(addr) != want {
			t.Errorf("IsLoopback(%q) != %v", addr, want)
		}
	}
}

// TestProtectedHandlers: another package's handler under /admin/api/ (the
// delivery log, the queue, the dashboard) answers a server administrator
// only, and runs with them as the actor.
func TestProtectedHandlers(t *testing.T) {
	e := newEnv(t)
	e.anon().wantError(401, "unauthorized", "", "GET", "/admin/api/probe", nil)
	e.login("dom", domPW).wantError(403, "forbidden", "", "GET", "/admin/api/probe", nil)
	if got := e.bearer().want(200, "GET", "/admin/api/probe", nil); got["actor"] != "admin:root" {
		t.Errorf("actor: %v", got)
	}
}

// TestUIRoutes: every screen's URL serves the page, the shared files are
// served with their types, and nothing else under /admin/ is a page.
func TestUIRoutes(t *testing.T) {
	e := newEnv(t)
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, p := range uiPages {
		if resp, body := get("/admin/" + p + "?domain=example.org"); resp.StatusCode != 200 || !strings.Contains(body, "/assets/admin.js?v=") {
			t.Errorf("/admin/%s: %d", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/admin/nothing", "/admin/domains/example.org", "/assets/admin.html", "/assets/nothing.js"} {
		if resp, _ := get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	for path, ctype := range map[string]string{"/assets/admin.js": "text/javascript", "/assets/style.css": "text/css",
		"/assets/i18n/zh-CN/admin.json": "application/json", "/assets/icons.svg": "image/svg+xml"} {
		resp, body := get(path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// The page's language is the browser's best match until the page's
	// switch chooses.
	req, _ := http.NewRequest("GET", e.url+"/admin/", nil)
	req.Header.Set("Accept-Language", "zh-TW;q=0.9, fr;q=0.8")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `<html lang="zh-CN">`) {
			t.Errorf("Accept-Language zh-TW: the page is not in Chinese: %.200s", b)
		}
	}
	// Without a session the API answers nothing but 401.
	if resp, body := get("/admin/api/domains"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "example") {
		t.Errorf("GET /admin/api/domains without login: %d %s", resp.StatusCode, body)
	}
}
