package e2e

import (
	"strings"
	"testing"
	"time"

	"postern/internal/queue/queuetest"
)

// The three delivery bugs of issue 7, seen from outside: a client on port
// 25 that retries after a 4xx, as remote MTAs do, and the peer that gets
// the forwarded copies. Each of them failed before the one pipeline (the
// first two sent the remote copy twice, the loop answered 451).

// pipelineServer is a postern whose alias fwd@example.test forwards to
// carol@remote.test (a peer that accepts everything) and to local, and
// that peer.
func pipelineServer(t *testing.T, local string) (*Server, *queuetest.Peer) {
	t.Helper()
	peer := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(t)
	dns := queuetest.StartDNS(t)
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1")
	a := senderServer(t, dns.Addr, peer.Port, nil)
	a.CLI("", "alias", "add", "fwd@example.test", "carol@remote.test, "+local).mustOK(t)
	return a, peer
}

// mxSend runs one transaction to fwd@example.test on port 25; between
// RCPT and DATA it calls between (may be nil). It returns DATA's final
// code, or RCPT's when RCPT failed.
func mxSend(t *testing.T, s *Server, id string, between func()) int {
	t.Helper()
	c := smtpSession(t, s.Addr["smtp"])
	defer c.cmd("QUIT")
	c.expect("EHLO client.ext.test", 250)
	c.expect("MAIL FROM:<sender@ext.test>", 250)
	if code, _ := c.cmd("RCPT TO:<fwd@example.test>"); code != 250 {
		return code
	}
	if between != nil {
		between()
	}
	c.expect("DATA", 354)
	c.write(testMessage("sender@ext.test", "fwd@example.test", id, strings.Repeat("forwarded ", 40)) + ".\r\n")
	code, _ := c.reply()
	return code
}

// copiesAtPeer waits until the queue is empty and returns how many copies
// of message id the peer got for carol.
func copiesAtPeer(t *testing.T, s *Server, peer *queuetest.Peer, id string) int {
	t.Helper()
	waitFor(t, 30*time.Second, "an empty queue", func() bool {
		return strings.Contains(s.CLI("", "queue", "list").mustOK(t).Stdout, "queue is empty")
	})
	n := 0
	for _, m := range peer.Mails() {
		if strings.Contains(string(m.Body), id) && len(m.To) == 1 && m.To[0] == "carol@remote.test" {
			n++
		}
	}
	return n
}

// TestRetryAfterLocalOverQuotaSendsOnce: alice, behind the forwarding
// alias, has a quota smaller than the message (RCPT carries no SIZE, so it
// passes). Before issue 7 the remote copy was queued, DATA answered 452,
// and the client's retry queued it again: carol got two copies.
func TestRetryAfterLocalOverQuotaSendsOnce(t *testing.T) {
	a, peer := pipelineServer(t, "alice@example.test")
	a.CLI("", "user", "quota", "alice@example.test", "100").mustOK(t)
	id := uniq()
	codes := []int{mxSend(t, a, id, nil)}
	if codes[0]/100 == 4 {
		codes = append(codes, mxSend(t, a, id, nil)) // the client retries
	}
	if n := copiesAtPeer(t, a, peer, id); n != 1 {
		t.Fatalf("replies %v; carol got %d copies, want 1", codes, n)
	}
	t.Logf("replies %v; carol got one copy", codes)
}

// TestRetryAfterLocalFailureSendsOnce: bob, behind the forwarding alias,
// is deleted between RCPT and DATA, so the local part of the transaction
// fails. Before issue 7 the remote copy was already queued when DATA
// answered 451; the retry (the alias now leads to carol alone) queued a
// second one.
func TestRetryAfterLocalFailureSendsOnce(t *testing.T) {
	a, peer := pipelineServer(t, "bob@example.test")
	a.AddUser("bob@example.test", "bob-pass-1")
	id := uniq()
	codes := []int{mxSend(t, a, id, func() {
		// --yes since the CLI asks before deleting mail; older CLIs lack it.
		if r := a.CLI("", "user", "del", "bob@example.test", "--yes"); r.Code != 0 {
			a.CLI("", "user", "del", "bob@example.test").mustOK(t)
		}
	})}
	if codes[0]/100 == 4 {
		codes = append(codes, mxSend(t, a, id, nil))
	}
	if n := copiesAtPeer(t, a, peer, id); n != 1 {
		t.Fatalf("replies %v; carol got %d copies, want 1", codes, n)
	}
	t.Logf("replies %v; carol got one copy", codes)
}

// TestAliasLoopIsPermanent: a → b → a is refused at RCPT with 550 5.4.6,
// not 451 (remote MTAs retried a 451 for days), and logged once.
func TestAliasLoopIsPermanent(t *testing.T) {
	s := mailServer(t, nil)
	s.CLI("", "alias", "add", "loop-a@example.test", "loop-b@example.test").mustOK(t)
	s.CLI("", "alias", "add", "loop-b@example.test", "loop-a@example.test").mustOK(t)
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("EHLO client.ext.test", 250)
	c.expect("MAIL FROM:<sender@ext.test>", 250)
	code, text := c.cmd("RCPT TO:<loop-a@example.test>")
	c.cmd("QUIT")
	if code != 550 || !strings.Contains(text, "5.4.6") {
		t.Fatalf("RCPT to an alias loop: %d %s, want 550 5.4.6", code, text)
	}
	if _, ok := s.WaitLog(5*time.Second, `msg="alias loop"`, "loop-a@example.test"); !ok {
		t.Fatal("the loop was not logged")
	}
	if n := strings.Count(s.Logs(), `msg="alias loop"`); n != 1 {
		t.Errorf("the loop was logged %d times, want once", n)
	}
}
