package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/emersion/go-smtp"

	"postern/internal/queue/queuetest"
)

// TestCLIErrors: each mistake gives a non-zero exit and one line on stderr.
func TestCLIErrors(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  string // a word the message should contain (lower case)
	}{
		{"unknown domain", pass + "\n", []string{"user", "add", "dave@unknown.test", "--password-stdin"}, "unknown.test"},
		{"existing user", pass + "\n", []string{"user", "add", alice, "--password-stdin"}, "alice@example.test"},
		{"bad address", pass + "\n", []string{"user", "add", "not an address", "--password-stdin"}, ""},
		{"no at sign", pass + "\n", []string{"user", "add", "dave", "--password-stdin"}, ""},
		{"short password", "abc\n", []string{"user", "add", "dave@example.test", "--password-stdin"}, "password"},
		{"passwd unknown user", pass + "\n", []string{"user", "passwd", "zed@example.test", "--password-stdin"}, ""},
		{"del unknown user", "", []string{"user", "del", "zed@example.test"}, ""},
		{"duplicate domain", "", []string{"domain", "add", domain}, domain},
		{"del unknown domain", "", []string{"domain", "del", "nosuch.test"}, ""},
		{"alias in foreign domain", "", []string{"alias", "add", "x@unknown.test", alice}, ""},
		{"alias over account", "", []string{"alias", "add", alice, bob}, ""},
		{"bad quota", "", []string{"user", "quota", alice, "lots"}, ""},
		{"catchall unknown domain", "", []string{"domain", "catchall", "nosuch.test", alice}, ""},
		{"unknown command", "", []string{"frobnicate"}, ""},
	}
	for _, c := range cases {
		msg := s.CLI(c.stdin, c.args...).mustFail(t)
		if c.want != "" && !strings.Contains(strings.ToLower(msg), c.want) {
			t.Errorf("%s: stderr %q does not mention %q", c.name, msg, c.want)
		}
	}
	// None of the failed adds created anything.
	out := s.CLI("", "user", "list").mustOK(t).Stdout
	if strings.Contains(out, "dave") {
		t.Errorf("a failed user add left an account:\n%s", out)
	}
}

// TestCLIWhileServing: admin commands take effect at once on a running
// server.
func TestCLIWhileServing(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	s.CLI("", "domain", "add", "second.test").mustOK(t)
	if out := s.CLI("", "domain", "list").mustOK(t).Stdout; !strings.Contains(out, "second.test") || !strings.Contains(out, domain) {
		t.Errorf("domain list:\n%s", out)
	}
	s.AddUser("dave@second.test", pass)
	if out := s.CLI("", "user", "list", "second.test").mustOK(t).Stdout; !strings.Contains(out, "dave@second.test") || strings.Contains(out, alice) {
		t.Errorf("user list second.test:\n%s", out)
	}
	id := uniq()
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{"dave@second.test"}, testMessage("x@remote.test", "dave@second.test", id, "new user"))
	if n := len(findByID(fetchAll(t, s, "dave@second.test", pass), id)); n != 1 {
		t.Errorf("new user has %d copies, want 1", n)
	}

	// passwd: the new password works at once, the old one no longer.
	const newPass = "brand-new-long-password"
	s.AddSecret(newPass)
	s.CLI(newPass+"\n", "user", "passwd", "dave@second.test", "--password-stdin").mustOK(t)
	if popLogin(t, s, "dave@second.test", pass) {
		t.Errorf("old password still works after passwd")
	}
	if !popLogin(t, s, "dave@second.test", newPass) {
		t.Errorf("new password refused after passwd")
	}

	// disable / enable.
	s.CLI("", "user", "disable", bob).mustOK(t)
	if popLogin(t, s, bob, pass) {
		t.Errorf("disabled account can log in")
	}
	s.CLI("", "user", "enable", bob).mustOK(t)
	if !popLogin(t, s, bob, pass) {
		t.Errorf("re-enabled account cannot log in")
	}

	// alias add / list / del.
	s.CLI("", "alias", "add", "sales@example.test", carol).mustOK(t)
	if out := s.CLI("", "alias", "list").mustOK(t).Stdout; !strings.Contains(out, "sales@example.test") {
		t.Errorf("alias list:\n%s", out)
	}
	assertRcpt(t, s, "sales@example.test", 250)
	s.CLI("", "alias", "del", "sales@example.test").mustOK(t)
	assertRcpt(t, s, "sales@example.test", 550)

	// user del: refused without --yes when not on a terminal, saying what
	// it would delete; with it, RCPT is refused at once.
	if msg := s.CLI("", "user", "del", "dave@second.test").mustFail(t); !strings.Contains(msg, "--yes") || !strings.Contains(msg, "account dave@second.test with 1 messages") {
		t.Errorf("user del without --yes: %q", msg)
	}
	assertRcpt(t, s, "dave@second.test", 250)
	r := s.CLI("", "user", "del", "dave@second.test", "--yes").mustOK(t)
	if !strings.Contains(r.Stdout, "deleting account dave@second.test with 1 messages") {
		t.Errorf("user del did not say what it deletes: %q", r.Stdout)
	}
	assertRcpt(t, s, "dave@second.test", 550)
	if msg := s.CLI("", "domain", "del", "second.test").mustFail(t); !strings.Contains(msg, "--yes") {
		t.Errorf("domain del without --yes: %q", msg)
	}
	if r := s.CLI("", "domain", "del", "second.test", "--yes").mustOK(t); !strings.Contains(r.Stdout, "deleting domain second.test: 0 accounts") {
		t.Errorf("domain del did not say what it deletes: %q", r.Stdout)
	}
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<x@remote.test>", 250)
	if code, _ := c.cmd("RCPT TO:<dave@second.test>"); code != 554 {
		t.Errorf("RCPT to a deleted domain: %d, want 554 (relay denied)", code)
	}
}

// TestCLIQuotaSizes: `user quota` takes sizes with units (one letter and
// KiB..: powers of 1024; KB..: powers of 1000), `user list` shows the
// bytes, the change is audited on stderr with stdout left clean, and the
// quota holds at once.
func TestCLIQuotaSizes(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	for _, c := range []struct{ size, bytes string }{
		{"1.5M", "1572864"}, {"500KiB", "512000"}, {"2MB", "2000000"}, {"10k", "10240"}, {"2048", "2048"},
	} {
		r := s.CLI("", "user", "quota", alice, c.size, "3").mustOK(t)
		want := `msg="admin change" actor=cli action=account.quota target=` + alice + " bytes=" + c.bytes + " messages=3"
		if r.Stdout != "" || !strings.Contains(r.Stderr, want) {
			t.Errorf("quota %s: stdout %q, stderr %q; want the audit line %s", c.size, r.Stdout, r.Stderr, want)
		}
		out := s.CLI("", "user", "list", domain).mustOK(t).Stdout
		if !strings.Contains(out, alice+"\tenabled\tused=0/"+c.bytes+" bytes") {
			t.Errorf("quota %s: user list:\n%s", c.size, out)
		}
	}
	for _, bad := range []string{"10X", "1.5.2G", "1e6"} {
		if msg := s.CLI("", "user", "quota", alice, bad).mustFail(t); !strings.Contains(msg, `"`+bad+`"`) {
			t.Errorf("quota %s: %q does not name the value", bad, msg)
		}
	}
	s.CLI("", "user", "quota", bob, "1K").mustOK(t)
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<x@remote.test>", 250)
	code, text := c.cmd("RCPT TO:<" + bob + ">")
	if code == 250 {
		c.expect("DATA", 354)
		c.write(testMessage("x@remote.test", bob, uniq(), strings.Repeat("q", 1400)) + ".\r\n")
		code, text = c.reply()
	}
	c.cmd("QUIT")
	if code != 452 || !strings.HasPrefix(text, "4.2.2") {
		t.Errorf("1.6 kB message into a 1K quota: %d %s, want 452 4.2.2", code, text)
	}
}

func popLogin(t *testing.T, s *Server, user, password string) bool {
	t.Helper()
	p := dialPOP3(t, s.Addr["pop3"])
	p.ok("USER " + user)
	l := p.do("PASS " + password)
	p.do("QUIT")
	if !strings.HasPrefix(l, "+OK") {
		t.Logf("POP3 login %s: %s", user, l)
		return false
	}
	return true
}

func assertRcpt(t *testing.T, s *Server, rcpt string, want int) {
	t.Helper()
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<x@remote.test>", 250)
	if code, text := c.cmd("RCPT TO:<" + rcpt + ">"); code != want {
		t.Errorf("RCPT TO:<%s>: %d %s, want %d", rcpt, code, text, want)
	}
	c.cmd("QUIT")
}

// TestConfigErrors: serve refuses to start on an unknown key or a bad
// value, naming the key.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key string
		val any
	}{
		{"no_such_key", 1},
		{"smtp.max_recipents", 100},
		{"listen.smtpp", "127.0.0.1:1"},
		{"smtp.idle_timeout", "forever"},
		{"smtp.max_message_bytes", "big"},
		{"smtp.max_recipients", -5},
		{"log.level", "chatty"},
		{"listen.smtp", "not-an-address"},
		{"auth.allow_plaintext_loopback", "yes"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		runCLI(t, "", "init", "--dir", dir, "--hostname", "mx.example.test", "--dev").mustOK(t)
		s := &Server{t: t, Dir: dir, Config: dir + "/postern.toml", logs: &logBuffer{}, out: &logBuffer{}}
		s.configure(map[string]any{c.key: c.val})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, env.bin, "-c", s.Config, "serve")
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err() == context.DeadlineExceeded
		cancel()
		if timedOut {
			t.Errorf("%s = %v: serve still running after 20s, want a start-up failure", c.key, c.val)
			continue
		}
		if err == nil {
			t.Errorf("%s = %v: serve exited 0", c.key, c.val)
		}
		leaf := c.key[strings.LastIndexByte(c.key, '.')+1:]
		if !strings.Contains(string(out), leaf) {
			t.Errorf("%s = %v: message does not name the key: %s", c.key, c.val, tail(string(out), 500))
		}
	}
}

// TestSIGHUPReload: SIGHUP keeps the server running and serving, open
// sessions included.
func TestSIGHUPReload(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	open := smtpSession(t, s.Addr["smtp"])
	open.expect("MAIL FROM:<x@remote.test>", 250)
	for range 2 {
		s.Signal(syscall.SIGHUP)
		time.Sleep(500 * time.Millisecond)
		if !s.Running() {
			t.Fatalf("server exited after SIGHUP")
		}
	}
	id := uniq()
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, id, "after reload"))
	open.expect("RCPT TO:<"+alice+">", 250)
	open.expect("DATA", 354)
	id2 := uniq()
	open.write(testMessage("x@remote.test", alice, id2, "open across reload") + ".\r\n")
	if code, text := open.reply(); code != 250 {
		t.Errorf("session open across SIGHUP: DATA end %d %s", code, text)
	}
	msgs := fetchAll(t, s, alice, pass)
	if len(findByID(msgs, id)) != 1 || len(findByID(msgs, id2)) != 1 {
		t.Errorf("after SIGHUP, messages missing: %d in mailbox", len(msgs))
	}
}

// TestSIGHUPReloadsPort25Checks: an administrator turns on a blocklist
// and the inbound checks in postern.toml and sends SIGHUP; the next
// connection on port 25 gets them, without a restart. A session opened
// before the reload keeps what admitted it.
func TestSIGHUPReloadsPort25Checks(t *testing.T) {
	t.Parallel()
	dns := queuetest.StartDNS(t)
	dns.Add(t, "2.0.0.127.bl.test. A 127.0.0.2")
	s := mailServer(t, map[string]any{
		"dns.servers": []string{dns.Addr}, "checks.enabled": false, "checks.dns_failure": "defer",
		"antispam.check_loopback": true,
	})
	forged := func() error {
		return sendSMTP(s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage(alice, alice, uniq(), "it is me"))
	}
	if err := forged(); err != nil {
		t.Fatalf("checks off: forged From refused already: %v", err)
	}
	sendFrom(t, "127.0.0.2", s.Addr["smtp"], "friend@ext.test", alice)
	before := smtpFrom(t, "127.0.0.2", s.Addr["smtp"])

	s.Edit(map[string]any{"checks.enabled": true, "antispam.dnsbl": []string{"bl.test"}})
	s.Signal(syscall.SIGHUP)
	if _, ok := s.WaitLog(10*time.Second, "reload: antispam gate rebuilt", "dnsbl=bl.test"); !ok {
		t.Fatalf("no reload of the gate in the log:\n%s", tail(s.Logs(), 4<<10))
	}
	if _, ok := s.WaitLog(5*time.Second, "reload: inbound checks rebuilt", "enabled=true"); !ok {
		t.Fatalf("no reload of the checks in the log:\n%s", tail(s.Logs(), 4<<10))
	}

	wantRefusal(t, "forged From after the reload", forged(), 550, smtp.EnhancedCode{5, 7, 1})
	c := smtpFrom(t, "127.0.0.2", s.Addr["smtp"])
	c.expect("MAIL FROM:<friend@ext.test>", 250)
	if code, text := c.cmd("RCPT TO:<" + alice + ">"); code != 554 || !strings.Contains(text, "bl.test") {
		t.Errorf("listed client after the reload: %d %s", code, text)
	}
	before.expect("MAIL FROM:<friend@ext.test>", 250)
	before.expect("RCPT TO:<"+alice+">", 250)

	// A config that does not load changes nothing.
	if err := os.WriteFile(s.Config, []byte("[checks\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Signal(syscall.SIGHUP)
	if _, ok := s.WaitLog(10*time.Second, "reload failed, keeping the running config"); !ok {
		t.Fatalf("a broken config was not reported:\n%s", tail(s.Logs(), 4<<10))
	}
	wantRefusal(t, "forged From after a failed reload", forged(), 550, smtp.EnhancedCode{5, 7, 1})
}

// TestGracefulShutdown: SIGTERM during an open SMTP transaction; the client
// either completes it (and the message survives a restart) or gets 421.
// The process exits 0 soon after.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<x@remote.test>", 250)
	c.expect("RCPT TO:<"+alice+">", 250)
	c.expect("DATA", 354)
	id := uniq()
	msg := testMessage("x@remote.test", alice, id, "during shutdown")
	c.write(msg[:len(msg)/2])
	s.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	c.c.Write([]byte(msg[len(msg)/2:] + ".\r\n"))
	line, ok := c.tryLine()
	delivered := false
	switch {
	case ok && strings.HasPrefix(line, "250"):
		delivered = true
	case ok && strings.HasPrefix(line, "421"):
	default:
		t.Errorf("after SIGTERM mid-DATA, client got %q (read ok=%v), want 250 or 421", line, ok)
	}
	err, exited := s.Wait(15 * time.Second)
	if !exited {
		t.Fatalf("server still running 15s after SIGTERM")
	}
	if err != nil {
		t.Errorf("graceful shutdown exit: %v, want 0", err)
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
		t.Errorf("server died of a signal instead of exiting")
	}
	s.Restart()
	if n := len(findByID(fetchAll(t, s, alice, pass), id)); delivered && n != 1 || !delivered && n != 0 {
		t.Errorf("client was told delivered=%v, mailbox has %d copies", delivered, n)
	}
}

// TestDevCommand: `postern dev` on an initialised dir creates the demo
// account, prints its password once, and serves mail for it; run again, it
// keeps the account and its password.
func TestDevCommand(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{Dev: true})
	re := regexp.MustCompile(`account: (\S+@\S+)\s+password: (\S+)`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		m = re.FindStringSubmatch(s.Stdout())
	}
	if m == nil {
		t.Fatalf("dev banner has no account and password:\n%s", s.Stdout())
	}
	user, password := m[1], m[2]
	id := uniq()
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{user}, testMessage("x@remote.test", user, id, "dev mode"))
	if n := len(findByID(fetchAll(t, s, user, password), id)); n != 1 {
		t.Errorf("dev account has %d copies, want 1", n)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	s.Restart()
	if strings.Count(s.Stdout(), "password: ") != 1 {
		t.Errorf("second dev run printed a password again:\n%s", s.Stdout())
	}
	if !popLogin(t, s, user, password) {
		t.Errorf("dev password no longer works after a restart")
	}
}

// TestDevBusyPortShowsPassword: when `postern dev` creates the demo account
// and then cannot bind a port, the password is printed anyway (it is
// shown only once, when the account is made).
func TestDevBusyPortShowsPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runCLI(t, "", "init", "--dir", dir, "--hostname", "mx.example.test", "--dev").mustOK(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfgPath := filepath.Join(dir, "postern.toml")
	cfg := map[string]any{}
	if _, err := toml.DecodeFile(cfgPath, &cfg); err != nil {
		t.Fatal(err)
	}
	listen := cfg["listen"].(map[string]any)
	for k := range listen {
		listen[k] = ""
	}
	listen["smtp"] = busy.Addr().String()
	writeTOML(t, cfgPath, cfg)
	r := runCLI(t, "", "dev", "--dir", dir)
	if r.Code == 0 {
		t.Fatalf("dev started on a busy port:\n%s", r.Stdout)
	}
	if !regexp.MustCompile(`account: demo@example\.test\s+password: \S+`).MatchString(r.Stdout) ||
		!strings.Contains(r.Stderr, "listen.smtp") {
		t.Errorf("no password after the failed start; stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	}
}

// TestPostmasterExists: postmaster@ and abuse@ of every local domain take
// mail out of the box (RFC 5321 §4.5.1), at the domain's oldest account,
// and go where `domain postmaster` says once set.
func TestPostmasterExists(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	id := uniq()
	mustSend(t, s.Addr["smtp"], "reporter@remote.test", []string{"postmaster@example.test", "abuse@example.test"},
		testMessage("reporter@remote.test", "postmaster@example.test", id, "a report"))
	if n := len(findByID(fetchAll(t, s, alice, pass), id)); n != 1 {
		t.Errorf("the oldest account (alice) has %d copies of the postmaster mail, want 1", n)
	}
	s.CLI("", "domain", "postmaster", "example.test", bob).mustOK(t)
	if out := s.CLI("", "domain", "list").mustOK(t).Stdout; !strings.Contains(out, "postmaster="+bob) {
		t.Errorf("domain list: %q", out)
	}
	id = uniq()
	mustSend(t, s.Addr["smtp"], "reporter@remote.test", []string{"postmaster@example.test"},
		testMessage("reporter@remote.test", "postmaster@example.test", id, "another"))
	if n := len(findByID(fetchAll(t, s, bob, pass), id)); n != 1 {
		t.Errorf("bob has %d copies after domain postmaster, want 1", n)
	}
	if msg := s.CLI("", "domain", "postmaster", "example.test", "ghost@example.test").mustFail(t); !strings.Contains(msg, "ghost@example.test") {
		t.Errorf("postmaster to a missing local address: %q", msg)
	}
}
