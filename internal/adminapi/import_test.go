package adminapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// postCSV sends body as text/csv (or contentType) and returns the status
// and the JSON answer.
func (c *client) postCSV(path, contentType, body string) (int, map[string]any) {
	c.e.t.Helper()
	req, err := http.NewRequest("POST", c.e.url+path, strings.NewReader(body))
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
		req.Header.Set(csrfHeader, c.csrf)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		c.e.t.Fatalf("answer is not JSON: %q", raw)
	}
	return resp.StatusCode, out
}

func TestImportEndpoint(t *testing.T) {
	e := newEnv(t)
	dom := e.login("dom", domPW)
	file := "address,password,quota,name\n" +
		"a@example.org,a password 1,10M,A\n" +
		"b@other.test,b password 1,0\n" +
		"bad,short,x\n"
	status, got := dom.postCSV("/admin/api/accounts/import", "text/csv", file)
	if status != 422 {
		t.Fatalf("status %d %v", status, got)
	}
	errs := got["errors"].([]any)
	if len(got["created"].([]any)) != 0 || len(errs) != 2 {
		t.Fatalf("answer %v", got)
	}
	e0, e1 := errs[0].(map[string]any), errs[1].(map[string]any)
	if e0["line"] != 3.0 || e0["address"] != "b@other.test" || !strings.Contains(e0["message"].(string), "does not manage") ||
		e1["line"] != 4.0 || e1["address"] != "bad" || !strings.Contains(e1["message"].(string), "not a valid address") {
		t.Errorf("errors %v", errs)
	}
	dom.want(404, "GET", "/admin/api/accounts/a@example.org", nil)

	ok := "a@example.org,a password 1,10M,A\nc@example.org,c password 1,1G\n"
	status, got = dom.postCSV("/admin/api/accounts/import?dry_run=1", "text/csv; charset=utf-8", ok)
	if status != 200 || len(got["created"].([]any)) != 2 || got["dry_run"] != true {
		t.Fatalf("dry run: %d %v", status, got)
	}
	dom.want(404, "GET", "/admin/api/accounts/a@example.org", nil)
	status, got = dom.postCSV("/admin/api/accounts/import", "text/csv", ok)
	if status != 200 || len(got["created"].([]any)) != 2 || len(got["errors"].([]any)) != 0 {
		t.Fatalf("import: %d %v", status, got)
	}
	if a := dom.want(200, "GET", "/admin/api/accounts/c@example.org", nil); a["quota_bytes"] != float64(1<<30) {
		t.Errorf("account %v", a)
	}
	if !strings.Contains(e.log.String(), "action=account.add target=a@example.org") {
		t.Error("no audit line for the import")
	}

	// Not CSV, too large, no CSRF token.
	if status, _ := dom.postCSV("/admin/api/accounts/import", "text/plain", ok); status != 415 {
		t.Errorf("text/plain: %d", status)
	}
	if status, got := dom.postCSV("/admin/api/accounts/import", "text/csv", strings.Repeat("x", 1<<20+1)); status != 413 {
		t.Errorf("too large: %d %v", status, got)
	}
	noCSRF := *dom
	noCSRF.csrf = "wrong"
	if status, _ := noCSRF.postCSV("/admin/api/accounts/import", "text/csv", ok); status != 403 {
		t.Errorf("without CSRF: %d", status)
	}
}
