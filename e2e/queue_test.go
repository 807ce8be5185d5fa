package e2e

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"postern/internal/queue/queuetest"
)

// submit sends msg through the submission port with AUTH PLAIN (the
// harness's dev config allows it in clear text on loopback).
func submit(addr, user, pass, from string, to []string, msg string) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("client.example.net"); err != nil {
		return err
	}
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		return err
	}
	if err := c.SendMail(from, to, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

func mustSubmit(t testing.TB, s *Server, user, pass string, to []string, msg string) {
	t.Helper()
	if err := submit(s.Addr["submission"], user, pass, user, to, msg); err != nil {
		t.Fatalf("submit to %v: %v", to, err)
	}
}

// senderServer starts a postern whose outbound mail goes to port mxPort of
// whatever the test DNS server names, with alice@example.test to send.
func senderServer(t *testing.T, dnsAddr string, mxPort int, set map[string]any) *Server {
	t.Helper()
	cfg := map[string]any{
		"auth.allow_plaintext_loopback": true,
		"outbound.port":                 mxPort,
		"outbound.connect_timeout":      "5s",
		"outbound.command_timeout":      "10s",
		"dns.servers":                   []string{dnsAddr},
	}
	for k, v := range set {
		cfg[k] = v
	}
	return startServer(t, Options{Hostname: "mx.example.test", Domains: []string{"example.test"},
		Users: map[string]string{"alice@example.test": "alice-pass-1"}, Set: cfg})
}

// firstMessage returns the number of messages in the maildrop and the text
// of the first, read with Python's poplib.
func firstMessage(t *testing.T, s *Server, user, pass string) (int, string) {
	t.Helper()
	out := runPOP3(t, s, "plain", user, pass, step("stat"), step("retr", 1))
	if out.Error != nil || len(out.Results) != 2 {
		t.Fatalf("pop3: %+v", out)
	}
	return out.Results[0].Count, out.Results[1].Text
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestQueueRelayToPostern: submission on one postern, MX lookup through the
// test DNS server, delivery over STARTTLS into a second postern's mailbox.
func TestQueueRelayToPostern(t *testing.T) {
	dns := queuetest.StartDNS(t)
	b := startServer(t, Options{Hostname: "mx.remote.test", Domains: []string{"remote.test"},
		Users: map[string]string{"bob@remote.test": "bob-pass-1"}})
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1")
	a := senderServer(t, dns.Addr, port(t, b.Addr["smtp"]), nil)
	id := uniq()
	mustSubmit(t, a, "alice@example.test", "alice-pass-1", []string{"bob@remote.test"}, testMessage("alice@example.test", "bob@remote.test", id, "across"))
	if _, ok := b.WaitLog(20*time.Second, "message accepted"); !ok {
		t.Fatal("the second postern never accepted the message")
	}
	line, ok := a.WaitLog(10*time.Second, "msg=relayed", "rcpt=bob@remote.test")
	if !ok {
		t.Fatal("no relayed line")
	}
	if !strings.Contains(line, "tls=true") || !strings.Contains(line, "tls_verified=false") || !strings.Contains(line, "queue_id=") {
		t.Fatalf("relayed line lacks TLS facts or queue id: %s", line)
	}
	n, text := firstMessage(t, b, "bob@remote.test", "bob-pass-1")
	if n != 1 || !strings.Contains(text, "END-OF-MESSAGE "+id) || !strings.Contains(text, "DKIM-Signature") {
		t.Fatalf("bob has %d message(s), the first:\n%s", n, text)
	}
	if out := a.CLI("", "queue", "list").mustOK(t).Stdout; !strings.Contains(out, "queue is empty") {
		t.Fatalf("queue list after delivery: %s", out)
	}
}

// TestQueueCLIAndRetries: a peer that defers, the queue CLI while the
// server runs, then delivery after `queue retry`.
func TestQueueCLIAndRetries(t *testing.T) {
	var accept atomic.Bool
	peer := (&queuetest.Peer{Hostname: "mx.remote.test", Rcpt: func(string) error {
		if accept.Load() {
			return nil
		}
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "greylisted, try later"}
	}}).Start(t)
	dns := queuetest.StartDNS(t)
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1")
	a := senderServer(t, dns.Addr, peer.Port, nil)
	for _, rcpt := range []string{"bob@remote.test", "carol@remote.test", "dave@remote.test"} {
		mustSubmit(t, a, "alice@example.test", "alice-pass-1", []string{rcpt}, testMessage("alice@example.test", rcpt, uniq(), "one"))
	}
	waitFor(t, 20*time.Second, "three deferrals", func() bool { return strings.Count(a.Logs(), "msg=deferred") >= 3 })
	list := a.CLI("", "queue", "list").mustOK(t).Stdout
	ids := regexp.MustCompile(`(?m)^(\d+)\t`).FindAllStringSubmatch(list, -1)
	if len(ids) != 3 || !strings.Contains(list, "451 4.3.0 greylisted") || !strings.Contains(list, "attempts=1") {
		t.Fatalf("queue list:\n%s", list)
	}
	held, dropped := ids[0][1], ids[1][1]
	show := a.CLI("", "queue", "show", held).mustOK(t).Stdout
	if !strings.Contains(show, "DKIM-Signature") || !strings.Contains(show, "bob@remote.test") {
		t.Fatalf("queue show:\n%s", show)
	}
	a.CLI("", "queue", "hold", held).mustOK(t)
	a.CLI("", "queue", "drop", dropped).mustOK(t)
	if r := a.CLI("", "queue", "drop", dropped); r.Code == 0 || !strings.Contains(r.Stderr, "does not exist") {
		t.Fatalf("second drop: %+v", r)
	}
	// The peer accepts now; retry all: dave goes, the held bob stays.
	accept.Store(true)
	a.CLI("", "queue", "retry", "all").mustOK(t)
	waitFor(t, 15*time.Second, "delivery after retry", func() bool { return len(peer.Mails()) == 1 })
	if m := peer.Mails(); m[0].To[0] != "dave@remote.test" {
		t.Fatalf("peer got %+v", m)
	}
	if out := a.CLI("", "queue", "list").mustOK(t).Stdout; !strings.Contains(out, "\theld") || !strings.Contains(out, "bob@remote.test") {
		t.Fatalf("list does not show bob held:\n%s", out)
	}
	a.CLI("", "queue", "release", held).mustOK(t)
	a.CLI("", "queue", "retry", held).mustOK(t)
	waitFor(t, 15*time.Second, "delivery after release", func() bool { return len(peer.Mails()) == 2 })
	if m := peer.Mails()[1]; m.To[0] != "bob@remote.test" || !m.TLS {
		t.Fatalf("peer got %+v", m)
	}
	waitFor(t, 5*time.Second, "empty queue", func() bool {
		return strings.Contains(a.CLI("", "queue", "list").mustOK(t).Stdout, "queue is empty")
	})
	for _, m := range peer.Mails() {
		if m.To[0] == "carol@remote.test" {
			t.Fatal("the dropped message was sent")
		}
	}
}

// TestQueueBounceToLocalSender: a 550 comes back to alice as an RFC 3464
// report in her INBOX.
func TestQueueBounceToLocalSender(t *testing.T) {
	peer := (&queuetest.Peer{NoSTARTTLS: true, Rcpt: func(to string) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}}).Start(t)
	dns := queuetest.StartDNS(t)
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1", "nullmx.test. MX 0 .")
	a := senderServer(t, dns.Addr, peer.Port, nil)
	id := uniq()
	mustSubmit(t, a, "alice@example.test", "alice-pass-1", []string{"ghost@remote.test", "x@nullmx.test"}, testMessage("alice@example.test", "ghost@remote.test", id, "bounce me"))
	if _, ok := a.WaitLog(20*time.Second, "msg=\"dsn sent\""); !ok {
		t.Fatal("no DSN delivered")
	}
	n, dsn := firstMessage(t, a, "alice@example.test", "alice-pass-1")
	if n != 1 {
		t.Fatalf("alice has %d messages", n)
	}
	for _, want := range []string{"Return-Path: <>", "multipart/report", "message/delivery-status", "text/rfc822-headers",
		"Final-Recipient: rfc822; ghost@remote.test", "Status: 5.1.1", "550 5.1.1 no such user here",
		"Final-Recipient: rfc822; x@nullmx.test", "Status: 5.1.10", "Subject: test " + id} {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN lacks %q", want)
		}
	}
	if strings.Contains(dsn, "END-OF-MESSAGE") {
		t.Error("the DSN carries the body; it should carry the headers only")
	}
}

// TestQueueSmarthost: relay_host takes every remote message, whatever the
// domain, without an MX lookup.
func TestQueueSmarthost(t *testing.T) {
	relay := (&queuetest.Peer{NoSTARTTLS: true}).Start(t)
	a := senderServer(t, "127.0.0.1:9", 25, map[string]any{
		"outbound.relay_host": relay.Addr, "outbound.relay_tls": "none",
	})
	mustSubmit(t, a, "alice@example.test", "alice-pass-1", []string{"x@anywhere.test", "y@elsewhere.test"}, testMessage("alice@example.test", "x@anywhere.test", uniq(), "relayed"))
	waitFor(t, 20*time.Second, "relay delivery", func() bool { return len(relay.Mails()) >= 1 })
	n := 0
	for _, m := range relay.Mails() {
		n += len(m.To)
	}
	if n != 2 {
		t.Fatalf("relay got %+v", relay.Mails())
	}
}

// TestQueueCrashRedelivery: kill -9 while the queue is delivering; after
// the restart every queued message reaches the peer at least once.
func TestQueueCrashRedelivery(t *testing.T) {
	peer := (&queuetest.Peer{Stall: 100 * time.Millisecond}).Start(t)
	dns := queuetest.StartDNS(t)
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1")
	a := senderServer(t, dns.Addr, peer.Port, map[string]any{"outbound.max_per_domain": 2})
	const n = 40
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uniq()
		mustSubmit(t, a, "alice@example.test", "alice-pass-1", []string{fmt.Sprintf("r%d@remote.test", i)}, testMessage("alice@example.test", "r@remote.test", ids[i], "crash"))
	}
	waitFor(t, 20*time.Second, "some deliveries", func() bool { return len(peer.Mails()) >= 5 })
	a.Kill()
	before := len(peer.Mails())
	if before >= n {
		t.Fatalf("all %d delivered before the kill; the test proves nothing", n)
	}
	a.Restart()
	got := func() map[string]int {
		seen := map[string]int{}
		for _, m := range peer.Mails() {
			for _, id := range ids {
				if strings.Contains(string(m.Body), "END-OF-MESSAGE "+id) {
					seen[id]++
				}
			}
		}
		return seen
	}
	waitFor(t, 60*time.Second, "every message after restart", func() bool { return len(got()) == n })
	dups := 0
	for _, c := range got() {
		dups += c - 1
	}
	t.Logf("killed after %d of %d deliveries; %d duplicate(s) after restart", before, n, dups)
	// Only the transactions in flight at the kill can repeat.
	if dups > 2 {
		t.Errorf("%d duplicates, more than the %d connections in flight", dups, 2)
	}
}

// TestQueueFaultyPeers: one MX per domain, all on one port number of
// different loopback addresses: a peer that drops the connection in DATA
// and one that stalls past the timeout are retried later; one without
// SMTPUTF8 gets no UTF-8 message, and the sender a clear DSN.
func TestQueueFaultyPeers(t *testing.T) {
	drop := (&queuetest.Peer{DropInData: true, Listen: "127.0.0.2:0"}).Start(t)
	p := fmt.Sprint(drop.Port)
	stall := (&queuetest.Peer{Stall: 5 * time.Second, Listen: "127.0.0.3:" + p}).Start(t)
	ascii := (&queuetest.Peer{NoUTF8: true, Listen: "127.0.0.4:" + p}).Start(t)
	dns := queuetest.StartDNS(t)
	dns.Add(t, "drop.test. MX 10 mx.drop.test.", "mx.drop.test. A 127.0.0.2",
		"stall.test. MX 10 mx.stall.test.", "mx.stall.test. A 127.0.0.3",
		"ascii.test. MX 10 mx.ascii.test.", "mx.ascii.test. A 127.0.0.4")
	a := senderServer(t, dns.Addr, drop.Port, map[string]any{"outbound.command_timeout": "1s"})
	mustSubmit(t, a, "alice@example.test", "alice-pass-1", []string{"x@drop.test", "y@stall.test"}, testMessage("alice@example.test", "x@drop.test", uniq(), "faulty"))
	msg := strings.Replace(testMessage("alice@example.test", "z@ascii.test", uniq(), "Grüße"), "Subject: test", "Subject: Grüße", 1)
	mustSubmit(t, a, "alice@example.test", "alice-pass-1", []string{"z@ascii.test"}, msg)
	for _, rcpt := range []string{"x@drop.test", "y@stall.test"} {
		line, ok := a.WaitLog(20*time.Second, "msg=deferred", "rcpt="+rcpt)
		if !ok {
			t.Fatalf("%s not deferred", rcpt)
		}
		if rcpt == "y@stall.test" && !strings.Contains(line, "timeout") {
			t.Errorf("stall deferral does not say timeout: %s", line)
		}
	}
	if _, ok := a.WaitLog(20*time.Second, "msg=bounced", "rcpt=z@ascii.test", "status=5.6.7"); !ok {
		t.Fatal("the UTF-8 message to a peer without SMTPUTF8 did not bounce")
	}
	if len(ascii.Mails()) != 0 || len(drop.Mails()) != 0 || stall.Sessions() == 0 {
		t.Fatal("a faulty peer got a message")
	}
	waitFor(t, 10*time.Second, "the DSN", func() bool { n, _ := firstMessage(t, a, "alice@example.test", "alice-pass-1"); return n == 1 })
	_, dsn := firstMessage(t, a, "alice@example.test", "alice-pass-1")
	if !strings.Contains(dsn, "does not support SMTPUTF8") || !strings.Contains(dsn, "Status: 5.6.7") {
		t.Fatalf("DSN:\n%s", dsn)
	}
	list := a.CLI("", "queue", "list").mustOK(t).Stdout
	if !strings.Contains(list, "x@drop.test\tpending") || !strings.Contains(list, "y@stall.test\tpending") {
		t.Fatalf("queue list:\n%s", list)
	}
}
