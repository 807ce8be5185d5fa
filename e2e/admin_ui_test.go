package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"postern/internal/queue/queuetest"
)

type queueList struct {
	Entries []struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	} `json:"entries"`
}

// closedPort is a loopback port nobody listens on: outbound connections
// to it are refused at once, so messages there stay deferred.
func closedPort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

// TestAdminUI drives the web admin in Chromium (admin.mjs) through the
// issue's flows, checking after each phase that the server did what the
// page showed: a server administrator creates a domain and sees its DNS
// records and their live check against the test DNS server, creates an
// account that then logs in to the webmail, finds the delivery of a
// message to it in the delivery log with its trace, retries and drops
// queue entries of mail to an unreachable domain and sees that in the
// audit page; a domain administrator (with TOTP) sees only its domain.
// Then every main screen is photographed in both languages at phone and
// desktop widths.
func TestAdminUI(t *testing.T) {
	t.Parallel()
	dns := queuetest.StartDNS(t)
	httpAddr := env.freeAddr(t)
	s := mailServer(t, map[string]any{
		"listen.http": httpAddr, "dns.servers": []string{dns.Addr},
		"outbound.port": closedPort(t), "outbound.connect_timeout": "2s",
	})
	webBase, adminBase := "http://"+httpAddr, "http://"+s.Addr["admin"]
	const rootPass, deputyPass, annPass = "root admin passphrase 1", "deputy admin passphrase 2", "ann mailbox passphrase 3"
	s.AddSecret(rootPass)
	s.AddSecret(deputyPass)
	s.AddSecret(annPass)
	s.CLI(rootPass+"\n", "admin", "add", "root", "--role", "server", "--password-stdin").mustOK(t)
	s.CLI("", "domain", "add", "other.test").mustOK(t)
	out := s.CLI(deputyPass+"\n", "admin", "add", "deputy", "--role", "domain", "--domains", "other.test", "--password-stdin", "--totp").mustOK(t).Stdout
	m := regexp.MustCompile(`otpauth://\S+`).FindString(out)
	u, err := url.Parse(m)
	if err != nil || u.Query().Get("secret") == "" {
		t.Fatalf("admin add --totp printed no otpauth URL: %q", out)
	}
	deputySecret := u.Query().Get("secret")
	s.AddSecret(deputySecret)

	// What DNS publishes for the domain the UI will create: the MX right,
	// SPF wrong, the rest missing. The remote domain's MX is a closed port.
	dns.Add(t, "shop.test. MX 10 mx.example.test.", `shop.test. TXT "v=spf1 ip4:192.0.2.1 -all"`,
		"unreachable.test. MX 10 mx.unreachable.test.", "mx.unreachable.test. A 127.0.0.1")

	input := map[string]any{"admin": adminBase, "web": webBase, "root": "root", "rootPass": rootPass,
		"domain": "shop.test", "ann": "ann@shop.test", "annPass": annPass, "shotDir": screenshotDir(t)}
	run := adminPhases(t, "admin.mjs", input)

	// Phase 1: login, dashboard, domain with DNS, account, webmail login.
	setup := run("setup", nil)
	root := newAdminClient(t, adminBase, "root", rootPass)
	if out := s.CLI("", "user", "list", "shop.test").mustOK(t).Stdout; !strings.Contains(out, "ann@shop.test") {
		t.Errorf("the account made in the browser is not in `user list shop.test`: %s", out)
	}
	resp, body := root.do("GET", "/admin/api/domains/shop.test/dns/check", nil)
	checkShown := stepInfo(setup.Steps, "domain: DNS records and check")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET dns/check: %d %s", resp.StatusCode, body)
	} else if checkShown["check"] != "table" || checkShown["mxOK"] != true || checkShown["spfBad"] != true {
		t.Errorf("DNS check: the API answers %s, the page showed %v", short(string(body)), checkShown)
	}
	if users := s.CLI("", "user", "list", "shop.test").mustOK(t).Stdout; !strings.Contains(users, "bea@shop.test") || !strings.Contains(users, "cid@shop.test") {
		t.Errorf("the accounts imported in the browser are not in `user list`: %s", users)
	}

	// Mail: one message delivered to ann, two to a domain whose MX refuses.
	id := uniq()
	mustSend(t, s.Addr["smtp"], "friend@example.net", []string{"ann@shop.test"}, testMessage("friend@example.net", "ann@shop.test", id, "hello ann"))
	for i := range 2 {
		if err := submit(s.Addr["submission"], "ann@shop.test", annPass, "ann@shop.test", []string{"bob@unreachable.test"},
			testMessage("ann@shop.test", "bob@unreachable.test", fmt.Sprintf("%s-remote-%d", id, i), "to nowhere")); err != nil {
			t.Fatalf("submit to the unreachable domain: %v", err)
		}
	}
	var deferred queueList
	waitFor(t, 30*time.Second, "two deferred queue entries", func() bool {
		root.getJSON("/admin/api/queue?state=deferred", &deferred)
		return len(deferred.Entries) == 2
	})
	retryID, dropID := deferred.Entries[0].ID, deferred.Entries[1].ID

	// A name tried with wrong passwords until the throttle refuses it
	// (auth.max_failures_per_account, 5), for the blocked logins page.
	intruder := &adminClient{t: t, base: adminBase}
	for range 5 {
		if resp, body := intruder.do("POST", "/admin/api/login", map[string]string{"username": "intruder", "password": "wrong guess"}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failed login: %d %s", resp.StatusCode, body)
		}
	}

	// Phase 2: delivery log and trace, queue retry and drop, audit page.
	run("ops", map[string]any{"messageID": id + "@e2e.test", "retryID": retryID, "dropID": dropID, "intruder": "intruder"})
	var after queueList
	root.getJSON("/admin/api/queue", &after)
	var ids []int64
	for _, e := range after.Entries {
		ids = append(ids, e.ID)
	}
	if len(ids) != 1 || ids[0] != retryID {
		t.Errorf("queue after the browser dropped #%d: %v, want only #%d", dropID, ids, retryID)
	}
	var audit struct {
		Entries []struct{ Actor, Action, Target string } `json:"entries"`
	}
	root.getJSON("/admin/api/audit?actor=admin:root", &audit)
	seen := map[string]bool{}
	for _, e := range audit.Entries {
		seen[e.Action+" "+e.Target] = true
	}
	for _, want := range []string{"domain.add shop.test", "account.add ann@shop.test", fmt.Sprintf("queue.retry %d", retryID), fmt.Sprintf("queue.drop %d", dropID),
		"account.disable old@shop.test", "account.enable old@shop.test", "account.password old@shop.test", "account.delete old@shop.test",
		"account.quota ann@shop.test", "app_password.delete ann@shop.test", "alias.add sales@shop.test", "sieve.put ann@shop.test", "dkim.rotate shop.test", "domain.catchall.set shop.test"} {
		if !seen[want] {
			t.Errorf("audit log of admin:root lacks %q: %v", want, keys(seen))
		}
	}

	// Phase 3: the domain administrator, with a TOTP code, sees its domain
	// only; the API refuses the other.
	code, err := totp.GenerateCode(deputySecret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	scope := run("scope", map[string]any{"deputy": "deputy", "deputyPass": deputyPass, "totp": code, "own": "other.test"})
	if st := stepInfo(scope.Steps, "deputy: another domain is refused"); st["apiStatus"] != float64(http.StatusForbidden) {
		t.Errorf("the domain administrator's GET of another domain from the page: %v, want 403", st["apiStatus"])
	}
	if _, ok := s.WaitLog(5*time.Second, "admin request forbidden", "admin=deputy"); !ok {
		t.Errorf("no log line for the domain administrator's refused request")
	}

	// Phase 4: every main screen, en and zh-CN, phone and desktop.
	shots := run("screens", map[string]any{"retryID": retryID, "messageID": id + "@e2e.test"})
	t.Logf("screenshots: %d files in %s", len(shots.Shots), screenshotDir(t))
}

// adminResult is what admin.mjs prints.
type adminResult struct {
	flowsResult
}

// stepInfo is the info of the named step.
func stepInfo(steps []browserStep, name string) map[string]any {
	for _, s := range steps {
		if s.Name == name {
			return s.Info
		}
	}
	return map[string]any{}
}

// adminPhases returns a runner of one phase of an admin browser script:
// the common input with the phase and its extra keys, the steps and the
// requests to other hosts checked, console errors logged.
func adminPhases(t *testing.T, script string, input map[string]any) func(phase string, extra map[string]any) adminResult {
	return func(phase string, extra map[string]any) adminResult {
		in := map[string]any{"phase": phase}
		for k, v := range input {
			in[k] = v
		}
		for k, v := range extra {
			in[k] = v
		}
		var got adminResult
		runBrowser(t, script, in, 150*time.Second, &got)
		checkSteps(t, got.Steps)
		checkForeign(t, got.flowsResult)
		for _, e := range got.ConsoleErrors {
			t.Logf("console error (not failing): %s", short(e))
		}
		return got
	}
}
