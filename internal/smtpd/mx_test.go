package smtpd

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// send runs one MX transaction and returns the error of each step's
// reply: RCPT errors by recipient, then DATA's.
func send(t *testing.T, addr, from string, rcpts []string, body string) (map[string]error, error) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.net"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from, nil); err != nil {
		t.Fatal(err)
	}
	rerr := map[string]error{}
	ok := 0
	for _, r := range rcpts {
		if rerr[r] = c.Rcpt(r, nil); rerr[r] == nil {
			ok++
		}
	}
	if ok == 0 {
		return rerr, nil
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, body)
	return rerr, w.Close()
}

const mxBody = "From: bob@remote.test\r\nTo: alice@example.org\r\nSubject: hello\r\nMessage-ID: <m1@remote.test>\r\n\r\nHello Alice.\r\n"

func TestMXDeliversLocally(t *testing.T) {
	h := newHarness(t, ModeMX)
	bob := h.account("bob@example.org")
	rerr, err := send(t, h.addr, "bob@remote.test", []string{"alice@example.org", "Bob+tag@Example.ORG", "nobody@example.org", "x@remote.test", "a%b@example.org"}, mxBody)
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	for rcpt, code := range map[string]int{"nobody@example.org": 550, "x@remote.test": 554, "a%b@example.org": 554} {
		if got := smtpCodeOf(rerr[rcpt]); got != code {
			t.Errorf("RCPT %s: %v, want %d", rcpt, rerr[rcpt], code)
		}
	}
	for _, a := range []string{"alice@example.org", "Bob+tag@Example.ORG"} {
		if rerr[a] != nil {
			t.Errorf("RCPT %s: %v", a, rerr[a])
		}
	}
	ma, mb := h.inbox(h.alice), h.inbox(bob)
	if len(ma) != 1 || len(mb) != 1 || ma[0].BlobID != mb[0].BlobID {
		t.Fatalf("inboxes %+v / %+v: want one shared body", ma, mb)
	}
	body := h.blob(ma[0].BlobID)
	if !strings.HasPrefix(body, "Return-Path: <bob@remote.test>\r\nReceived: from client.example.net") || !strings.HasSuffix(body, mxBody) {
		t.Errorf("stored body:\n%s", body)
	}
	if len(h.queue()) != 0 {
		t.Error("local mail queued")
	}
	if !strings.Contains(h.logs.String(), `msg="message accepted"`) {
		t.Errorf("no accepted log line:\n%s", h.logs)
	}
}

// Bug fixed by the one pipeline: an alias forwarding to a remote address
// and to an account that filled up after RCPT. The remote copy used to be
// queued, then DATA answered 452, and the client's retry queued it again.
// Now the whole transaction commits once.
func TestMXForwardWithLocalOverQuota(t *testing.T) {
	h := newHarness(t, ModeMX)
	h.alias("fwd@example.org", "carol@remote.test", "alice@example.org")
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Hello("client.example.net")
	if err := c.Mail("bob@remote.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("fwd@example.org", nil); err != nil {
		t.Fatal(err)
	}
	// Alice's quota is full now, after her RCPT was accepted.
	if err := h.st.SetQuota(context.Background(), "alice@example.org", 10, 0); err != nil {
		t.Fatal(err)
	}
	w, _ := c.Data()
	io.WriteString(w, mxBody)
	if err := w.Close(); err != nil {
		t.Fatalf("DATA: %v (the message was accepted for both at RCPT)", err)
	}
	if q := h.queue(); len(q) != 1 || rcptList(q[0]) != "carol@remote.test" {
		t.Fatalf("queue %+v, want one entry for carol", q)
	}
	if len(h.inbox(h.alice)) != 1 {
		t.Error("alice lost the message")
	}
	// A second transaction now meets the full quota at RCPT, before
	// anything is queued.
	rerr, err := send(t, h.addr, "bob@remote.test", []string{"fwd@example.org"}, mxBody)
	if smtpCodeOf(rerr["fwd@example.org"]) != 452 || err != nil {
		t.Fatalf("RCPT over quota: %v / %v", rerr, err)
	}
	if q := h.queue(); len(q) != 1 {
		t.Fatalf("%d queue entries after the refused transaction, want 1", len(q))
	}
}

// Bug: an alias loop answered 451, so remote MTAs retried for days. It is
// a permanent 5.4.6, logged once; a loop that also reaches an account
// delivers to it.
func TestMXAliasLoop(t *testing.T) {
	h := newHarness(t, ModeMX)
	h.alias("a@example.org", "b@example.org")
	h.alias("b@example.org", "a@example.org")
	h.alias("c@example.org", "d@example.org", "alice@example.org")
	h.alias("d@example.org", "c@example.org")
	rerr, err := send(t, h.addr, "bob@remote.test", []string{"a@example.org", "c@example.org"}, mxBody)
	var se *smtp.SMTPError
	if e := rerr["a@example.org"]; !asSMTP(e, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 4, 6}) {
		t.Errorf("RCPT to a loop: %v, want 550 5.4.6", e)
	}
	if rerr["c@example.org"] != nil || err != nil {
		t.Errorf("loop reaching alice: RCPT %v, DATA %v", rerr["c@example.org"], err)
	}
	if len(h.inbox(h.alice)) != 1 {
		t.Error("alice did not get the message")
	}
	if n := strings.Count(h.logs.String(), `msg="alias loop"`); n != 2 {
		t.Errorf("%d alias loop log lines, want one per recipient:\n%s", n, h.logs)
	}
}

// Bug: with local and remote recipients, a local failure after queueing
// answered 451 and the retry queued the message a second time. The local
// and queued copies now commit together or not at all.
func TestMXLocalFailureQueuesNothing(t *testing.T) {
	h := newHarness(t, ModeMX)
	h.account("bob@example.org")
	h.alias("fwd@example.org", "carol@remote.test", "bob@example.org")
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Hello("client.example.net")
	c.Mail("x@remote.test", nil)
	if err := c.Rcpt("fwd@example.org", nil); err != nil {
		t.Fatal(err)
	}
	// Bob's account goes away between RCPT and the end of DATA.
	if err := h.st.DeleteAccount(context.Background(), "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	w, _ := c.Data()
	io.WriteString(w, mxBody)
	if err := w.Close(); smtpCodeOf(err) != 451 {
		t.Fatalf("DATA: %v, want 451", err)
	}
	if q := h.queue(); len(q) != 0 {
		t.Fatalf("a failed transaction queued %d entries", len(q))
	}
	// The client retries: the alias now leads to carol alone.
	if _, err := send(t, h.addr, "x@remote.test", []string{"fwd@example.org"}, mxBody); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if q := h.queue(); len(q) != 1 {
		t.Fatalf("%d queue entries after the retry, want 1", len(q))
	}
}

func asSMTP(err error, se **smtp.SMTPError) bool {
	e, ok := err.(*smtp.SMTPError)
	*se = e
	return ok
}
