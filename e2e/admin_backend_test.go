package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"postern/internal/queue/queuetest"
)

// adminSession is a logged-in session of the admin API: the cookie's
// value and the CSRF token of the login answer.
type adminSession struct {
	t            testing.TB
	base         string
	cookie, csrf string
}

// adminLogin adds an administrator through the CLI (domains: a domain
// administrator of those, else a server administrator) and logs in.
func adminLogin(t testing.TB, s *Server, name string, domains ...string) *adminSession {
	t.Helper()
	pw := "admin password " + name
	s.AddSecret(pw)
	args := []string{"admin", "add", name, "--role", "server", "--password-stdin"}
	if len(domains) > 0 {
		args = []string{"admin", "add", name, "--role", "domain", "--domains", strings.Join(domains, ","), "--password-stdin"}
	}
	s.CLI(pw+"\n", args...).mustOK(t)
	a := &adminSession{t: t, base: "http://" + s.Addr["admin"]}
	body, _ := json.Marshal(map[string]string{"username": name, "password": pw})
	resp, out := a.request("POST", "/admin/api/login", "application/json", body)
	if resp.StatusCode != 200 {
		t.Fatalf("admin login %s: %d %s", name, resp.StatusCode, out)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "postern_admin" {
			a.cookie = c.Value
		}
	}
	var sess struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.Unmarshal(out, &sess); err != nil || a.cookie == "" || sess.CSRF == "" {
		t.Fatalf("admin login %s: no session in %s (%v)", name, out, err)
	}
	a.csrf = sess.CSRF
	return a
}

// request sends one request with the session (cookie set by hand: Go's
// jar keeps a Secure cookie off plain http).
func (a *adminSession) request(method, path, contentType string, body []byte) (*http.Response, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if a.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "postern_admin", Value: a.cookie})
		req.Header.Set("X-CSRF-Token", a.csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// getJSON GETs path, wants status and decodes the answer into v.
func (a *adminSession) getJSON(path string, status int, v any) {
	a.t.Helper()
	resp, out := a.request("GET", path, "", nil)
	if resp.StatusCode != status {
		a.t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, out, status)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			a.t.Fatalf("GET %s: %v: %s", path, err, out)
		}
	}
}

type dnsCheckAnswer struct {
	Domain    string `json:"domain"`
	CheckedAt string `json:"checked_at"`
	Records   []struct {
		Type, Name, Want, Status, Fix string
		Found                         []string
	} `json:"records"`
}

// cliCheckStatuses reads the table of `postern dns check`: "TYPE NAME" →
// status.
func cliCheckStatuses(out string) map[string]string {
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && strings.Contains("ok missing wrong error", f[0]) {
			got[f[1]+" "+f[2]] = f[0]
		}
	}
	return got
}

// TestAdminDNSCheck: `postern dns check` and GET .../dns/check look the
// records up through [dns] servers (a test DNS server): a domain with
// some records right, some wrong, some missing gets those marks and exit
// status 1; a domain that publishes the zone `postern dns` printed is
// all ok, exit status 0.
func TestAdminDNSCheck(t *testing.T) {
	t.Parallel()
	dns := queuetest.StartDNS(t)
	s := startServer(t, Options{Domains: []string{"example.test", "right.test"},
		Set: map[string]any{"dns.servers": []string{dns.Addr}}})
	dns.Add(t, "example.test. MX 10 mx.example.test.",
		`example.test. TXT "v=spf1 a:other.example.net -all"`,
		`_dmarc.example.test. TXT "v=DMARC1; p=reject"`,
		"autoconfig.example.test. CNAME elsewhere.example.net.")
	// right.test publishes exactly what `postern dns` prints.
	zone := s.CLI("", "dns", "right.test").mustOK(t).Stdout
	var published int
	for _, l := range strings.Split(zone, "\n") {
		if l == "" || strings.HasPrefix(l, ";") || strings.HasPrefix(l, "$") {
			continue
		}
		dns.Add(t, l)
		published++
	}

	r := s.CLI("", "dns", "check", "example.test")
	if r.Code != 1 || !strings.Contains(r.Stderr, "not as needed") {
		t.Fatalf("dns check example.test: exit %d, stderr %q", r.Code, r.Stderr)
	}
	cli := cliCheckStatuses(r.Stdout)
	for k, want := range map[string]string{
		"MX example.test.":                 "ok",
		"TXT example.test.":                "wrong",
		"TXT _dmarc.example.test.":         "ok",
		"SRV _imaps._tcp.example.test.":    "missing",
		"CNAME autoconfig.example.test.":   "wrong",
		"TXT _mta-sts.example.test.":       "missing",
		"CNAME autodiscover.example.test.": "missing",
	} {
		if cli[k] != want {
			t.Errorf("CLI %s: %q, want %s\n%s", k, cli[k], want, r.Stdout)
		}
	}
	if !strings.Contains(r.Stdout, "fix:") || !strings.Contains(r.Stdout, "add the mechanism mx") {
		t.Errorf("no fix for the SPF record in:\n%s", r.Stdout)
	}
	ok := s.CLI("", "dns", "check", "right.test")
	if ok.Code != 0 {
		t.Fatalf("dns check right.test: exit %d\n%s%s", ok.Code, ok.Stdout, ok.Stderr)
	}
	if n := len(cliCheckStatuses(ok.Stdout)); n != published || strings.Count(ok.Stdout, "\nok ") != published {
		t.Errorf("right.test: %d rows, %d published:\n%s", n, published, ok.Stdout)
	}

	// The API gives the same marks; a domain administrator only for their
	// domain.
	root := adminLogin(t, s, "root")
	var api dnsCheckAnswer
	root.getJSON("/admin/api/domains/example.test/dns/check", 200, &api)
	if api.Domain != "example.test" || len(api.Records) != len(cli) {
		t.Fatalf("API check: %+v", api)
	}
	if _, err := time.Parse(time.RFC3339, api.CheckedAt); err != nil {
		t.Errorf("checked_at %q: %v", api.CheckedAt, err)
	}
	for _, rec := range api.Records {
		if got := cli[rec.Type+" "+rec.Name]; got != rec.Status {
			t.Errorf("API %s %s: %s, the CLI said %s", rec.Type, rec.Name, rec.Status, got)
		}
		if rec.Status != "ok" && rec.Fix == "" {
			t.Errorf("API %s %s: %s without a fix", rec.Type, rec.Name, rec.Status)
		}
	}
	dom := adminLogin(t, s, "righty", "right.test")
	dom.getJSON("/admin/api/domains/right.test/dns/check", 200, nil)
	dom.getJSON("/admin/api/domains/example.test/dns/check", 403, nil)
}

// TestAdminLastLogin: logins over IMAP and POP3 show in the API's account
// objects and in `postern user show`, per protocol; a failed login does
// not count.
func TestAdminLastLogin(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	root := adminLogin(t, s, "root")
	before := time.Now().Add(-time.Second).Truncate(time.Second)

	c, err := imapclient.DialInsecure(s.Addr["imap"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(alice, pass).Wait(); err != nil {
		t.Fatalf("IMAP LOGIN: %v", err)
	}
	c.Close()
	p := dialPOP3(t, s.Addr["pop3"])
	p.login(alice, pass)
	p.ok("QUIT")
	bad := dialPOP3(t, s.Addr["pop3"])
	bad.ok("USER " + bob)
	if l := bad.do("PASS wrong password"); !strings.HasPrefix(l, "-ERR") {
		t.Fatalf("wrong password: %q", l)
	}
	bad.ok("QUIT")

	type account struct {
		Address   string               `json:"address"`
		LastLogin map[string]time.Time `json:"last_login"`
	}
	var got account
	deadline := time.Now().Add(10 * time.Second)
	for {
		root.getJSON("/admin/api/accounts/"+alice, 200, &got)
		if len(got.LastLogin) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, proto := range []string{"imap", "pop3"} {
		at, ok := got.LastLogin[proto]
		if !ok || at.Before(before) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("last_login %v: %s missing or not now", got.LastLogin, proto)
		}
	}
	if len(got.LastLogin) != 2 {
		t.Errorf("last_login %v, want imap and pop3 only", got.LastLogin)
	}
	var list struct {
		Accounts []account `json:"accounts"`
	}
	root.getJSON("/admin/api/domains/"+domain+"/accounts", 200, &list)
	for _, a := range list.Accounts {
		switch a.Address {
		case alice:
			if len(a.LastLogin) != 2 {
				t.Errorf("list: alice's last_login %v", a.LastLogin)
			}
		case bob:
			if len(a.LastLogin) != 0 {
				t.Errorf("list: bob never logged in, last_login %v", a.LastLogin)
			}
		}
	}
	show := s.CLI("", "user", "show", alice).mustOK(t).Stdout
	if !strings.Contains(show, "imap") || !strings.Contains(show, "pop3") || !strings.Contains(show, "last login:") {
		t.Errorf("user show:\n%s", show)
	}
	if show := s.CLI("", "user", "show", bob).mustOK(t).Stdout; !strings.Contains(show, "last login: never") {
		t.Errorf("user show bob:\n%s", show)
	}

	// A second login within the minute waits in memory; a graceful stop
	// writes it.
	time.Sleep(1100 * time.Millisecond)
	second := time.Now().UTC().Truncate(time.Second)
	p = dialPOP3(t, s.Addr["pop3"])
	p.login(alice, pass)
	p.ok("QUIT")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	show = s.CLI("", "user", "show", alice).mustOK(t).Stdout
	var popAt time.Time
	for _, l := range strings.Split(show, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[len(f)-2] == "pop3" {
			popAt, _ = time.Parse(time.RFC3339, f[len(f)-1])
		}
	}
	if popAt.Before(second) || !popAt.After(got.LastLogin["pop3"]) {
		t.Errorf("after a stop, pop3 last login %v, want the second login (%v, after %v):\n%s", popAt, second, got.LastLogin["pop3"], show)
	}
}

// TestAdminImport: a CSV file with mistakes is refused whole by `postern
// user import` with every line's error; corrected, its accounts are
// created and log in with their passwords; the API imports too, with a
// dry run first.
func TestAdminImport(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	dir := t.TempDir()
	file := filepath.Join(dir, "staff.csv")
	pw1, pw2 := "first import pw 1", "second, quoted pw"
	s.AddSecret(pw1)
	s.AddSecret(pw2)
	bad := "address,password,quota,name\n" +
		"ann@example.test," + pw1 + ",10M,Ann Example\n" +
		"ben@nowhere.test," + pw1 + ",0\n" +
		"cat@example.test,short,1G\n" +
		alice + "," + pw1 + ",1G\n"
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.CLI("", "user", "import", file)
	if r.Code != 1 {
		t.Fatalf("bad file: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{
		"line 3: ben@nowhere.test: domain nowhere.test does not exist",
		"line 4: cat@example.test: password is too short",
		"line 5: " + alice + ": account " + alice + " already exists",
		"nothing imported: 3 error(s)",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	if strings.Contains(s.CLI("", "user", "list").Stdout, "ann@") {
		t.Fatal("a refused file created an account")
	}
	good := "ann@example.test," + pw1 + ",10M,Ann Example\n\"dan@example.test\",\"" + pw2 + "\",1.5G\n"
	out := s.CLI(good, "user", "import", "-", "--dry-run").mustOK(t).Stdout
	if !strings.Contains(out, "would create dan@example.test") || strings.Contains(s.CLI("", "user", "list").Stdout, "dan@") {
		t.Fatalf("dry run:\n%s", out)
	}
	out = s.CLI(good, "user", "import", "-").mustOK(t).Stdout
	if !strings.Contains(out, "2 account(s) created") {
		t.Fatalf("import:\n%s", out)
	}
	if !strings.Contains(s.CLI("", "user", "show", "dan@example.test").mustOK(t).Stdout, "1610612736 bytes") {
		t.Error("dan's quota is not 1.5G")
	}
	p := dialPOP3(t, s.Addr["pop3"])
	p.login("dan@example.test", pw2)
	p.ok("QUIT")

	root := adminLogin(t, s, "root")
	csv := []byte("eve@example.test,eve password 1,0\n")
	s.AddSecret("eve password 1")
	resp, body := root.request("POST", "/admin/api/accounts/import?dry_run=1", "text/csv", csv)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"created":["eve@example.test"]`) {
		t.Fatalf("API dry run: %d %s", resp.StatusCode, body)
	}
	resp, body = root.request("POST", "/admin/api/accounts/import", "text/csv", csv)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"errors":[]`) {
		t.Fatalf("API import: %d %s", resp.StatusCode, body)
	}
	resp, body = root.request("POST", "/admin/api/accounts/import", "text/csv", csv)
	if resp.StatusCode != 422 || !strings.Contains(string(body), `"line":1`) || !strings.Contains(string(body), "already exists") {
		t.Fatalf("API import again: %d %s", resp.StatusCode, body)
	}
}

// TestWebmailMobileConfig: the settings page "Phones and mail apps" in
// Chromium offers the profile, which downloads for the logged-in user;
// without a session the profile is refused. Screenshots in both languages
// go to e2e/screenshots.
func TestWebmailMobileConfig(t *testing.T) {
	t.Parallel()
	w := startWebmail(t, map[string]any{"log.level": "warn"})
	resp, body := wmRequest(t, "GET", w.base+"/webmail/mobileconfig", "", "", "", nil)
	if resp.StatusCode != 401 {
		t.Fatalf("without a session: %d %s", resp.StatusCode, body)
	}
	var got flowsResult
	runBrowser(t, "devices.mjs", map[string]any{"base": w.base, "user": alice, "pass": pass, "shotDir": screenshotDir(t)},
		90*time.Second, &got)
	checkSteps(t, got.Steps)
	if len(got.Shots) != 4 {
		t.Errorf("screenshots %v, want 4", got.Shots)
	}
	t.Logf("screenshots: %v", got.Shots)
}
