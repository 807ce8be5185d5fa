package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Two more independent clients that administrators reach for: curl (its
// SMTP, IMAP and POP3 support, used in scripts and monitoring) and
// fetchmail (the classic mail retrieval agent). Each verifies our
// certificate against the server's own CA file and the configured
// hostname, as a careful client would.

// TestCurlClient: curl submits on 587 after STARTTLS with AUTH, lists the
// mailboxes and searches and fetches over IMAP with STARTTLS, and lists and
// retrieves over POP3S.
func TestCurlClient(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	id := uniq()
	msgFile := filepath.Join(t.TempDir(), "m.eml")
	if err := os.WriteFile(msgFile, []byte(testMessage(alice, bob, id, "sent by curl "+id)), 0o600); err != nil {
		t.Fatal(err)
	}
	curl := func(addrKey, url string, args ...string) string {
		t.Helper()
		host, p := splitAddr(t, s.Addr[addrKey])
		base := []string{"-sS", "--max-time", "30", "--cacert", filepath.Join(s.Dir, "tls", "cert.pem"),
			"--resolve", fmt.Sprintf("%s:%s:%s", defaultHostname, p, host)}
		out, err := exec.Command("curl", append(append(base, args...), strings.ReplaceAll(url, "PORT", p))...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", url, err, tail(string(out), 15))
		}
		return string(out)
	}
	curl("submission", "smtp://"+defaultHostname+":PORT", "--ssl-reqd", "--mail-from", alice, "--mail-rcpt", bob,
		"--user", alice+":"+pass, "--upload-file", msgFile)

	imapURL := "imap://" + defaultHostname + ":PORT/"
	user := []string{"--ssl-reqd", "--user", bob + ":" + pass}
	if out := curl("imap", imapURL, user...); !strings.Contains(out, "INBOX") || !strings.Contains(out, `\Sent`) {
		t.Errorf("curl IMAP LIST:\n%s", out)
	}
	out := curl("imap", imapURL+"INBOX?SUBJECT%20"+id, user...)
	if !strings.HasPrefix(out, "* SEARCH ") || len(strings.Fields(out)) != 3 {
		t.Fatalf("curl IMAP SEARCH SUBJECT %s: %q, want one match", id, out)
	}
	seq := strings.Fields(out)[2]
	if out := curl("imap", imapURL+"INBOX;MAILINDEX="+seq+";SECTION=TEXT", user...); !strings.Contains(out, "sent by curl "+id) {
		t.Errorf("curl IMAP FETCH TEXT: %q", out)
	}

	popURL := "pop3s://" + defaultHostname + ":PORT/"
	popUser := []string{"--user", bob + ":" + pass}
	if out := curl("pop3s", popURL, popUser...); !strings.HasPrefix(out, "1 ") {
		t.Errorf("curl POP3 LIST: %q", out)
	}
	if out := curl("pop3s", popURL+"1", popUser...); !strings.Contains(out, "Message-ID: <"+id+"@e2e.test>") || !strings.Contains(out, "Return-Path: <"+alice+">") {
		t.Errorf("curl POP3 RETR:\n%s", tail(out, 20))
	}
}

// TestFetchmail: fetchmail retrieves over POP3S keeping the messages and
// remembers them by UIDL, so a second run fetches only the new one; over
// IMAP with STARTTLS it fetches the unseen messages and leaves them seen.
func TestFetchmail(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	dir := t.TempDir()
	out := filepath.Join(dir, "delivered")
	send := func() string {
		id := uniq()
		mustSend(t, s.Addr["smtp"], "x@remote.test", []string{bob}, testMessage("x@remote.test", bob, id, "for fetchmail "+id))
		return id
	}
	run := func(proto, addrKey, tlsOpt string) (int, string) {
		t.Helper()
		_, p := splitAddr(t, s.Addr[addrKey])
		rc := filepath.Join(dir, "fetchmailrc")
		conf := fmt.Sprintf("set no syslog\npoll %s via 127.0.0.1 proto %s port %s timeout 20 uidl\n"+
			"  user %q password %q is root here\n  %s sslcertck sslcommonname %q sslcertfile %q keep\n  mda \"/bin/sh -c 'cat >> %s'\"\n",
			defaultHostname, proto, p, bob, pass, tlsOpt, defaultHostname, filepath.Join(s.Dir, "tls", "cert.pem"), out)
		if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("fetchmail", "-f", rc, "--idfile", filepath.Join(dir, "ids"),
			"--pidfile", filepath.Join(dir, "pid"), "--nodetach", "-v")
		cmd.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir)
		b, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("fetchmail: %v", err)
		}
		return code, string(b)
	}
	delivered := func() string {
		b, _ := os.ReadFile(out)
		return string(b)
	}

	first := send()
	if code, log := run("pop3", "pop3s", "ssl sslproto 'tls1.2+'"); code != 0 || !strings.Contains(delivered(), first) {
		t.Fatalf("fetchmail POP3S: exit %d, delivered %d bytes\n%s", code, len(delivered()), tail(log, 25))
	}
	second := send()
	if code, log := run("pop3", "pop3s", "ssl sslproto 'tls1.2+'"); code != 0 || !strings.Contains(delivered(), second) {
		t.Fatalf("fetchmail POP3S, second run: exit %d\n%s", code, tail(log, 25))
	}
	if n := strings.Count(delivered(), first+"@e2e.test"); n != 1 {
		t.Errorf("the first message was fetched %d times; UIDL should make it once", n)
	}
	// keep left both on the server (STAT: RETR would mark them seen).
	p := dialPOP3(t, s.Addr["pop3"])
	p.login(bob, pass)
	if l := p.do("STAT"); !strings.HasPrefix(l, "+OK 2 ") {
		t.Errorf("STAT after fetchmail with keep: %q, want 2 messages", l)
	}
	p.do("QUIT")

	// The IMAP runs keep their own list of seen UIDs.
	os.Remove(out)
	os.Remove(filepath.Join(dir, "ids"))
	third := send()
	// Over IMAP, fetchmail takes the unseen messages: all three, none seen yet.
	if code, log := run("imap", "imap", "sslproto 'tls1.2+'"); code != 0 {
		t.Fatalf("fetchmail IMAP STARTTLS: exit %d\n%s", code, tail(log, 25))
	}
	for _, id := range []string{first, second, third} {
		if !strings.Contains(delivered(), id) {
			t.Errorf("fetchmail over IMAP did not fetch %s", id)
		}
	}
	// They are seen now: a second run finds nothing (exit status 1).
	if code, log := run("imap", "imap", "sslproto 'tls1.2+'"); code != 1 {
		t.Errorf("fetchmail IMAP second run: exit %d, want 1 (no new mail)\n%s", code, tail(log, 25))
	}
}
