package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"postern/internal/queue/queuetest"
)

// sieveConnect runs Debian's sieve-connect, a real ManageSieve client,
// against the server's managesieve port over STARTTLS, with the password
// on a file descriptor as its manual asks.
func sieveConnect(t *testing.T, s *Server, user, password string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("sieve-connect")
	if err != nil {
		t.Fatalf("sieve-connect not installed (run scripts/deps.sh): %v", err)
	}
	host, p := splitAddr(t, s.Addr["managesieve"])
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(password + "\n")
	w.Close()
	defer r.Close()
	cmd := exec.Command(bin, append([]string{"--server", host, "--port", p, "--user", user,
		"--passwordfd", "3", "--notlsverify"}, args...)...)
	cmd.ExtraFiles = []*os.File{r}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mailboxCount is the number of messages in one of the account's
// mailboxes, over IMAP STATUS; -1 when the mailbox does not exist.
func mailboxCount(t *testing.T, s *Server, user, mailbox string) int {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr["imap"], nil)
	if err != nil {
		t.Fatalf("IMAP dial: %v", err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatalf("IMAP LOGIN: %v", err)
	}
	st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return -1
	}
	return int(*st.NumMessages)
}

// TestSieveManageSieveDelivery: a script uploaded and activated with
// sieve-connect decides where mail sent over SMTP lands; vacation answers a
// sender once and never a list; a script that does not compile is refused
// with its line and column and never becomes active.
func TestSieveManageSieveDelivery(t *testing.T) {
	s := mailServer(t, nil)
	script := writeFile(t, "main.sieve", `require ["fileinto", "mailbox", "imap4flags", "vacation"];
if header :contains "subject" "report" {
	fileinto :create :flags "\\Seen" "Reports";
	stop;
}
vacation :days 1 :subject "Out of office" "I am away this week.";
`)
	out, err := sieveConnect(t, s, alice, pass, "--upload", "--localsieve", script, "--remotesieve", "main")
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	if out, err := sieveConnect(t, s, alice, pass, "--activate", "--remotesieve", "main"); err != nil {
		t.Fatalf("activate: %v\n%s", err, out)
	}
	if out, _ := sieveConnect(t, s, alice, pass, "--list"); !strings.Contains(out, `"main"`) || !strings.Contains(out, "ACTIVE") {
		t.Fatalf("list after activate:\n%s", out)
	}
	broken := writeFile(t, "broken.sieve", "require \"fileinto\";\nif true {\n  fileinto \"x\"\n}\n")
	out, err = sieveConnect(t, s, alice, pass, "--upload", "--localsieve", broken, "--remotesieve", "broken")
	if err == nil || !strings.Contains(out, "line 4") {
		t.Fatalf("broken script: err=%v, output lacks its location:\n%s", err, out)
	}
	if out, _ := sieveConnect(t, s, alice, pass, "--list"); strings.Contains(out, "broken") {
		t.Fatalf("broken script stored:\n%s", out)
	}

	mustSubmit(t, s, bob, pass, []string{alice}, strings.Replace(testMessage(bob, alice, uniq(), "numbers"), "Subject: test", "Subject: monthly report", 1))
	if n := mailboxCount(t, s, alice, "Reports"); n != 1 {
		t.Fatalf("Reports has %d messages, want the report", n)
	}
	for i := 0; i < 2; i++ {
		mustSubmit(t, s, bob, pass, []string{alice}, testMessage(bob, alice, uniq(), "are you there?"))
	}
	// The list message comes from carol, who has had no reply yet, so only
	// the list rule (RFC 3834 §2) can keep it from being answered.
	list := testMessage(carol, alice, uniq(), "list traffic")
	mustSubmit(t, s, carol, pass, []string{alice}, "List-Id: <news.example.test>\r\n"+list)
	if n := mailboxCount(t, s, alice, "INBOX"); n != 3 {
		t.Errorf("alice's INBOX has %d, want 3 (vacation keeps every message)", n)
	}
	if _, ok := s.WaitLog(time.Second, "vacation not sent", carol, "mailing list"); !ok {
		t.Error("no log line for the reply not sent to the list message")
	}
	waitFor(t, 10*time.Second, "the vacation reply", func() bool { return mailboxCount(t, s, bob, "INBOX") >= 1 })
	time.Sleep(300 * time.Millisecond)
	replies := fetchAll(t, s, bob, pass)
	if len(replies) != 1 {
		t.Fatalf("bob got %d replies, want exactly one", len(replies))
	}
	for _, want := range []string{"Subject: Out of office", "Auto-Submitted: auto-replied", "Return-Path: <>", "I am away this week."} {
		if !strings.Contains(replies[0].Text, want) {
			t.Errorf("reply lacks %q:\n%s", want, replies[0].Text)
		}
	}
	if _, ok := s.WaitLog(time.Second, "vacation not sent", "already replied"); !ok {
		t.Error("no log line for the second, suppressed reply")
	}
	if n := mailboxCount(t, s, carol, "INBOX"); n != 0 {
		t.Errorf("carol's INBOX has %d messages, want no vacation reply to list mail", n)
	}

	// The CLI refuses the same broken script with the same location.
	res := s.CLI("", "sieve", "put", alice, "broken", broken)
	if msg := res.mustFail(t); !strings.Contains(msg, "line 4, column 1") {
		t.Errorf("CLI error %q lacks the location", msg)
	}
	got := s.CLI("", "sieve", "get", alice, "main").mustOK(t)
	if !strings.Contains(got.Stdout, "Out of office") {
		t.Errorf("sieve get:\n%s", got.Stdout)
	}
}

// TestSieveBrokenAtRunTime: a script that fails while running (more
// redirects than allowed) still delivers to INBOX, and the log says why.
func TestSieveBrokenAtRunTime(t *testing.T) {
	s := mailServer(t, nil)
	src := `redirect "a@remote.test"; redirect "b@remote.test"; redirect "c@remote.test"; redirect "d@remote.test"; redirect "e@remote.test";`
	s.CLI(src, "sieve", "put", alice, "many", "-", "--activate").mustOK(t)
	mustSubmit(t, s, bob, pass, []string{alice}, testMessage(bob, alice, uniq(), "hello"))
	if n := mailboxCount(t, s, alice, "INBOX"); n != 1 {
		t.Fatalf("INBOX has %d, want the message kept", n)
	}
	if _, ok := s.WaitLog(2*time.Second, "filter failed, message kept in INBOX", "redirect"); !ok {
		t.Error("no log line saying why the script failed")
	}
	if q := s.CLI("", "queue", "list").mustOK(t); strings.Contains(q.Stdout, "remote.test") {
		t.Errorf("a failed script still redirected:\n%s", q.Stdout)
	}
}

// TestSieveRedirectSRS: a redirect to a remote address reaches the remote
// MTA under an SRS sender of our domain, so SPF there checks us; a bounce
// to that address comes back on port 25 and goes to the original sender.
func TestSieveRedirectSRS(t *testing.T) {
	dns := queuetest.StartDNS(t)
	b := startServer(t, Options{Hostname: "mx.remote.test", Domains: []string{"remote.test"},
		Users: map[string]string{"bob@remote.test": "bob-pass-1"}})
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1")
	a := senderServer(t, dns.Addr, port(t, b.Addr["smtp"]), nil)
	a.CLI(`redirect "bob@remote.test";`, "sieve", "put", "alice@example.test", "fwd", "-", "--activate").mustOK(t)

	id := uniq()
	mustSend(t, a.Addr["smtp"], "sender@ext.test", []string{"alice@example.test"}, testMessage("sender@ext.test", "alice@example.test", id, "pass it on"))
	line, ok := b.WaitLog(20*time.Second, "message accepted", "SRS0=")
	if !ok {
		t.Fatalf("the remote MTA never got the redirect from an SRS sender; its log:\n%s", tail(b.Logs(), 4<<10))
	}
	if !strings.Contains(line, "@example.test") {
		t.Errorf("SRS sender not of our domain: %s", line)
	}
	got := findByID(fetchAll(t, b, "bob@remote.test", "bob-pass-1"), id)
	if len(got) != 1 || !strings.Contains(got[0].Text, "X-Sieve-Redirected-From: alice@example.test") {
		t.Fatalf("redirected copy: %d copies", len(got))
	}
	if n := len(fetchAll(t, a, "alice@example.test", "alice-pass-1")); n != 0 {
		t.Errorf("alice kept %d copies of a redirected message", n)
	}

	srsAddr := between(line, `from="`, `"`)
	c := smtpSession(t, a.Addr["smtp"])
	c.expect("EHLO mx.remote.test", 250)
	c.expect("MAIL FROM:<>", 250)
	c.expect("RCPT TO:<"+srsAddr+">", 250)
	c.expect("RCPT TO:<SRS0=AAAA=AA=ext.test=forged@example.test>", 550)
	c.cmd("QUIT")
}

// between returns the text of s after start and up to end (or the end).
func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		s = s[:j]
	}
	return s
}

// TestSieveCLI: the administrator's `postern sieve` subcommands list,
// activate, check, del, deactivate and global put, each with its effect
// on delivery: a global "before" script runs ahead of the user's own.
func TestSieveCLI(t *testing.T) {
	s := mailServer(t, nil)
	own := writeFile(t, "own.sieve", `require ["fileinto", "mailbox"];
if header :contains "subject" "invoice" { fileinto :create "Invoices"; }
`)
	before := writeFile(t, "before.sieve", `require ["fileinto", "mailbox"];
if header :contains "subject" "quarantine" { fileinto :create "Screened"; stop; }
`)
	broken := writeFile(t, "broken.sieve", "require \"fileinto\";\nif true {\n  fileinto \"x\"\n}\n")
	// The server rereads an account's scripts at most once a second, so a
	// change made by the CLI (another process) applies within a second.
	cliChangeApplies := func() { time.Sleep(1100 * time.Millisecond) }
	send := func(subject string) {
		t.Helper()
		mustSubmit(t, s, bob, pass, []string{alice}, strings.Replace(testMessage(bob, alice, uniq(), "text"), "Subject: test", "Subject: "+subject, 1))
	}

	if msg := s.CLI("", "sieve", "check", alice, broken).mustFail(t); !strings.Contains(msg, "line 4, column 1") {
		t.Errorf("check of a broken script: %q lacks the location", msg)
	}
	s.CLI("", "sieve", "check", alice, own).mustOK(t)
	if msg := s.CLI("", "sieve", "global", "put", "after", broken).mustFail(t); !strings.Contains(msg, "line 4, column 1") {
		t.Errorf("global put of a broken script: %q lacks the location", msg)
	}
	s.CLI("", "sieve", "global", "put", "before", before).mustOK(t)
	s.CLI("", "sieve", "put", alice, "own", own).mustOK(t)
	if out := s.CLI("", "sieve", "list", alice).mustOK(t).Stdout; !strings.Contains(out, "own") || strings.Contains(out, "active") {
		t.Errorf("list before activate:\n%s", out)
	}
	send("invoice 1")
	if n := mailboxCount(t, s, alice, "Invoices"); n != -1 {
		t.Errorf("an inactive script filed %d messages", n)
	}

	s.CLI("", "sieve", "activate", alice, "own").mustOK(t)
	cliChangeApplies()
	if out := s.CLI("", "sieve", "list", alice).mustOK(t).Stdout; !strings.Contains(out, "active") {
		t.Errorf("list after activate:\n%s", out)
	}
	send("invoice 2")
	send("quarantine this")
	if n := mailboxCount(t, s, alice, "Invoices"); n != 1 {
		t.Errorf("Invoices has %d, want 1 (the user's script)", n)
	}
	if n := mailboxCount(t, s, alice, "Screened"); n != 1 {
		t.Errorf("Screened has %d, want 1 (the global before script)", n)
	}
	if msg := s.CLI("", "sieve", "del", alice, "own").mustFail(t); !strings.Contains(msg, "active") {
		t.Errorf("deleting the active script: %q", msg)
	}

	s.CLI("", "sieve", "deactivate", alice).mustOK(t)
	cliChangeApplies()
	send("invoice 3")
	if n := mailboxCount(t, s, alice, "Invoices"); n != 1 {
		t.Errorf("Invoices has %d after deactivate, want still 1", n)
	}
	s.CLI("", "sieve", "del", alice, "own").mustOK(t)
	if out := s.CLI("", "sieve", "list", alice).mustOK(t).Stdout; strings.Contains(out, "own") {
		t.Errorf("list after del:\n%s", out)
	}
	if n := mailboxCount(t, s, alice, "INBOX"); n != 2 {
		t.Errorf("INBOX has %d, want the 2 messages no script filed", n)
	}
}
