package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// adminClient talks to the admin API as the web admin does: the session
// cookie (set by hand: Go's jar keeps a Secure cookie off plain http) and
// its CSRF token.
type adminClient struct {
	t      testing.TB
	base   string // http://127.0.0.1:port
	cookie string
	csrf   string
}

// newAdminClient logs in to the admin API; the test fails unless it succeeds.
func newAdminClient(t testing.TB, base, name, password string) *adminClient {
	t.Helper()
	c := &adminClient{t: t, base: base}
	resp, body := c.do("POST", "/admin/api/login", map[string]string{"username": name, "password": password})
	if resp.StatusCode != 200 {
		t.Fatalf("admin login %s: %d %s", name, resp.StatusCode, body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "postern_admin" {
			c.cookie = ck.Value
		}
	}
	var s struct {
		CSRF string `json:"csrf_token"`
	}
	json.Unmarshal(body, &s)
	c.csrf = s.CSRF
	if c.cookie == "" || c.csrf == "" {
		t.Fatalf("admin login %s: no cookie or CSRF token: %s", name, body)
	}
	return c
}

// adminLogin adds an administrator through the CLI (domains: a domain
// administrator of those, else a server administrator) and logs in.
func adminLogin(t testing.TB, s *Server, name string, domains ...string) *adminClient {
	t.Helper()
	pw := "admin password " + name
	s.AddSecret(pw)
	args := []string{"admin", "add", name, "--role", "server", "--password-stdin"}
	if len(domains) > 0 {
		args = []string{"admin", "add", name, "--role", "domain", "--domains", strings.Join(domains, ","), "--password-stdin"}
	}
	s.CLI(pw+"\n", args...).mustOK(t)
	return newAdminClient(t, "http://"+s.Addr["admin"], name, pw)
}

// request sends one request with the session.
func (c *adminClient) request(method, path, contentType string, body []byte) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "postern_admin", Value: c.cookie})
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp, b
}

// do sends v as JSON (none when nil).
func (c *adminClient) do(method, path string, v any) (*http.Response, []byte) {
	c.t.Helper()
	if v == nil {
		return c.request(method, path, "", nil)
	}
	body, _ := json.Marshal(v)
	return c.request(method, path, "application/json", body)
}

// call sends body as JSON, decodes a 200 answer into out and returns the
// status.
func (c *adminClient) call(method, path string, body, out any) int {
	c.t.Helper()
	resp, data := c.do(method, path, body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// getJSON GETs path and decodes a 200 answer into out.
func (c *adminClient) getJSON(path string, out any) {
	c.t.Helper()
	c.expectJSON(path, 200, out)
}

// expectJSON GETs path, wants status and decodes the answer into v.
func (c *adminClient) expectJSON(path string, status int, v any) {
	c.t.Helper()
	resp, out := c.request("GET", path, "", nil)
	if resp.StatusCode != status {
		c.t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, out, status)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			c.t.Fatalf("GET %s: %v: %s", path, err, out)
		}
	}
}
