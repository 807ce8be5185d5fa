package e2e

import (
	"strings"
	"testing"
	"time"

	"postern/internal/queue/queuetest"
)

// TestAliasForwardsToRemote: an alias on port 25 with a local and a remote
// destination. The local account gets its copy at once; the remote one
// travels through the queue (MX lookup in the test DNS) into a second
// postern, from an SRS address of the alias's domain (so SPF there checks
// the forwarder, not the original sender's domain).
func TestAliasForwardsToRemote(t *testing.T) {
	dns := queuetest.StartDNS(t)
	b := startServer(t, Options{Hostname: "mx.remote.test", Domains: []string{"remote.test"},
		Users: map[string]string{"bob@remote.test": "bob-pass-1"}})
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1")
	a := senderServer(t, dns.Addr, port(t, b.Addr["smtp"]), nil)
	a.CLI("", "alias", "add", "team@example.test", "bob@remote.test, alice@example.test").mustOK(t)

	id := uniq()
	c := smtpSession(t, a.Addr["smtp"])
	c.expect("EHLO client.ext.test", 250)
	c.expect("MAIL FROM:<sender@ext.test>", 250)
	c.expect("RCPT TO:<team@example.test>", 250)
	c.expect("DATA", 354)
	c.write(testMessage("sender@ext.test", "team@example.test", id, "forwarded") + ".\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("DATA end: %d %s", code, text)
	}
	c.cmd("QUIT")

	if n := len(findByID(fetchAll(t, a, "alice@example.test", "alice-pass-1"), id)); n != 1 {
		t.Fatalf("alice has %d copies, want 1", n)
	}
	if _, ok := b.WaitLog(20*time.Second, "message accepted", "SRS0=", "=ext.test=sender@example.test"); !ok {
		t.Fatal("the remote postern never accepted the forward from an SRS address of example.test")
	}
	got := findByID(fetchAll(t, b, "bob@remote.test", "bob-pass-1"), id)
	if len(got) != 1 {
		t.Fatalf("bob has %d copies, want 1", len(got))
	}
	text := got[0].Text
	// The forwarding hop added its Received line; only the final delivery
	// adds a Return-Path, so there is exactly one.
	if !strings.Contains(text, "by mx.example.test (Postern)") || strings.Count(text, "Return-Path:") != 1 {
		t.Fatalf("forwarded copy lacks the hop's Received or has extra Return-Paths:\n%s", text)
	}
	if line, ok := a.WaitLog(5*time.Second, "msg=relayed", "rcpt=bob@remote.test"); !ok || !strings.Contains(line, "queue_id=") {
		t.Fatalf("no relayed line for the forward: %q", line)
	}
}

// TestForwardLoopRefusedInSession: a message to a forwarding alias that
// has passed 55 relays is refused at the end of DATA with 554 5.4.6, so no
// bounce ever goes to its (possibly forged) sender: nothing is queued.
func TestForwardLoopRefusedInSession(t *testing.T) {
	s := mailServer(t, nil)
	s.CLI("", "alias", "add", "fwd@example.test", "someone@remote.test").mustOK(t)
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("EHLO client.ext.test", 250)
	c.expect("MAIL FROM:<victim@ext.test>", 250)
	c.expect("RCPT TO:<fwd@example.test>", 250)
	c.expect("DATA", 354)
	hops := strings.Repeat("Received: from a.test by b.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n", 55)
	c.write(hops + testMessage("victim@ext.test", "fwd@example.test", uniq(), "loop") + ".\r\n")
	code, text := c.reply()
	if code != 554 || !strings.Contains(text, "5.4.6") {
		t.Fatalf("DATA end: %d %s, want 554 5.4.6", code, text)
	}
	c.cmd("QUIT")
	if q := s.CLI("", "queue", "list").mustOK(t); strings.Contains(q.Stdout, "remote.test") || strings.Contains(q.Stdout, "ext.test") {
		t.Errorf("something was queued:\n%s", q.Stdout)
	}
}
