package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// relayForms are envelope recipients that try to make the MX relay to
// other.test, or to reach the local "user" through a routing syntax. Each
// must be refused with 5xx (RFC 5321 §3.6 leaves relaying to policy; we
// relay nothing on port 25). A source route whose final mailbox is local is
// not among them: RFC 5321 §3.6.1 and Appendix C say a server SHOULD ignore
// the route, so it is a local delivery (TestSMTPSourceRouteToLocal).
var relayForms = []string{
	"<user@other.test>",
	"<USER@OTHER.TEST>",
	"<user@other.test.>",
	"<user%other.test@example.test>",
	"<other.test!user@example.test>",
	"<@example.test:user@other.test>",
	"<@example.test,@other.test:user@other.test>",
	"<\"user@other.test\"@example.test>",
	"<\"user%other.test\"@example.test>",
	"<\"user\"@other.test>",
	"<user@example.test.>",
	"<user@[127.0.0.1]>",
	"<user@[IPv6:::1]>",
	"<user@other.test@example.test>",
	"<user@example.test@other.test>",
	"<user@sub.example.test>",
	"<user@example.test.other.test>",
	"<user@other.test%example.test>",
	"<other.test!user>",
	"<user>",
	"user@other.test",
	"<user@other.test> NOTIFY=NEVER",
	"<user@other.test\\@example.test>",
}

// TestSMTPSourceRouteToLocal: the route is ignored, the local mailbox gets
// the message, and nothing goes to the hosts the route names.
func TestSMTPSourceRouteToLocal(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	s.AddUser("user@example.test", pass)
	c := smtpSession(t, s.Addr["smtp"])
	id := uniq()
	c.expect("MAIL FROM:<x@remote.test>", 250)
	c.expect("RCPT TO:<@a.test,@b.test:user@example.test>", 250)
	c.expect("DATA", 354)
	c.write(testMessage("x@remote.test", "user@example.test", id, "routed") + ".\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("DATA end: %d %s", code, text)
	}
	c.cmd("QUIT")
	if n := len(findByID(fetchAll(t, s, "user@example.test", pass), id)); n != 1 {
		t.Errorf("user@example.test has %d copies, want 1", n)
	}
}

// TestSMTPNoRelay tries every form, then a transaction that mixes all of
// them with one valid recipient; only that recipient gets the message.
func TestSMTPNoRelay(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	s.AddUser("user@example.test", pass)
	c := smtpSession(t, s.Addr["smtp"])
	for _, form := range relayForms {
		c.expect("MAIL FROM:<x@remote.test>", 250)
		code, text := c.cmd("RCPT TO:" + form)
		if code < 500 || code > 599 {
			t.Errorf("RCPT TO:%s got %d %s, want 5xx", form, code, text)
		}
		c.expect("RSET", 250)
	}
	// Plain relaying gets the contract's exact reply.
	c.expect("MAIL FROM:<x@remote.test>", 250)
	if code, text := c.cmd("RCPT TO:<user@other.test>"); code != 554 || !strings.HasPrefix(text, "5.7.1") {
		t.Errorf("relay to other.test: %d %s, want 554 5.7.1", code, text)
	}
	c.expect("RSET", 250)

	id := uniq()
	c.expect("MAIL FROM:<x@remote.test>", 250)
	for _, form := range relayForms {
		c.cmd("RCPT TO:" + form)
	}
	c.expect("RCPT TO:<"+alice+">", 250)
	c.expect("DATA", 354)
	c.write(testMessage("x@remote.test", alice, id, "mixed") + ".\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("DATA end: %d %s", code, text)
	}
	c.cmd("QUIT")
	if n := len(findByID(fetchAll(t, s, alice, pass), id)); n != 1 {
		t.Errorf("alice has %d copies, want 1", n)
	}
	for _, u := range []string{"user@example.test", bob, carol} {
		if msgs := fetchAll(t, s, u, pass); len(msgs) != 0 {
			t.Errorf("%s received %d messages through a relay form", u, len(msgs))
		}
	}
}

// smuggleBodies end with a fake end of data made of bare LF/CR followed by
// a second transaction; the real end "\r\n.\r\n" comes after. RFC 5321
// §2.3.8 forbids bare CR and LF; accepting them enables SMTP smuggling.
var smuggleBodies = map[string]string{
	"bare LF in line":   "one\ntwo\r\n",
	"bare CR in line":   "one\rtwo\r\n",
	"LF.LF":             "text\n.\nMAIL FROM:<x@remote.test>\nRCPT TO:<bob@example.test>\nDATA\nsmuggled\n.\n",
	"LF.CRLF":           "text\n.\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n",
	"CRLF.LF":           "text\r\n.\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n",
	"CR.CR":             "text\r.\rMAIL FROM:<x@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n",
	"CRLF.CR":           "text\r\n.\rMAIL FROM:<x@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n",
	"bare LF at end":    "last line\n",
	"bare CR in header": "",
}

// TestSMTPSmugglingDATA: every body with a bare CR or LF is refused with
// 5xx at the end of DATA and nothing is delivered, smuggled or not.
func TestSMTPSmugglingDATA(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	for name, body := range smuggleBodies {
		id := uniq()
		msg := testMessage("x@remote.test", alice, id, "") + body
		if name == "bare CR in header" {
			msg = strings.Replace(testMessage("x@remote.test", alice, id, "x"), "Subject: test", "Subject: te\rst", 1)
		}
		c := smtpSession(t, s.Addr["smtp"])
		c.expect("MAIL FROM:<x@remote.test>", 250)
		c.expect("RCPT TO:<"+alice+">", 250)
		c.expect("DATA", 354)
		c.write(msg + "\r\n.\r\n")
		line, ok := c.tryLine()
		if ok && (len(line) < 3 || line[0] != '5') {
			t.Errorf("%s: end of DATA got %q, want 5xx", name, line)
		}
		if !ok {
			t.Errorf("%s: connection closed without a 5xx reply", name)
		}
		c.c.Close()
	}
	assertNothingDelivered(t, s)
}

// TestSMTPSmugglingBDAT: the same bodies sent with BDAT (RFC 3030) are
// refused with 5xx.
func TestSMTPSmugglingBDAT(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	for name, body := range smuggleBodies {
		msg := testMessage("x@remote.test", alice, uniq(), "") + body
		if name == "bare CR in header" {
			msg = strings.Replace(testMessage("x@remote.test", alice, uniq(), "x"), "Subject: test", "Subject: te\rst", 1)
		}
		c := smtpSession(t, s.Addr["smtp"])
		c.expect("MAIL FROM:<x@remote.test>", 250)
		c.expect("RCPT TO:<"+alice+">", 250)
		half := len(msg) / 2
		c.write(fmt.Sprintf("BDAT %d\r\n%s", half, msg[:half]))
		code, text := c.reply()
		if code == 250 {
			c.write(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg)-half, msg[half:]))
			code, text = c.reply()
		}
		if code < 500 || code > 599 {
			t.Errorf("%s: BDAT got %d %s, want 5xx", name, code, text)
		}
		c.c.Close()
	}
	assertNothingDelivered(t, s)
}

// TestSMTPBDATClean: a clean message in two BDAT chunks is delivered whole.
func TestSMTPBDATClean(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	id := uniq()
	msg := testMessage("x@remote.test", alice, id, "chunked\r\n.leading dot\r\n")
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<x@remote.test>", 250)
	c.expect("RCPT TO:<"+alice+">", 250)
	c.write(fmt.Sprintf("BDAT 10\r\n%s", msg[:10]))
	if code, text := c.reply(); code != 250 {
		t.Fatalf("BDAT chunk 1: %d %s", code, text)
	}
	c.write(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg)-10, msg[10:]))
	if code, text := c.reply(); code != 250 {
		t.Fatalf("BDAT LAST: %d %s", code, text)
	}
	got := findByID(fetchAll(t, s, alice, pass), id)
	if len(got) != 1 || !strings.HasSuffix(got[0].Text, msg) {
		t.Fatalf("BDAT message not delivered intact: %d copies", len(got))
	}
}

func assertNothingDelivered(t *testing.T, s *Server) {
	t.Helper()
	for _, u := range []string{alice, bob} {
		if msgs := fetchAll(t, s, u, pass); len(msgs) != 0 {
			t.Errorf("%s received %d messages; first: %q", u, len(msgs), tail(msgs[0].Text, 400))
		}
	}
	if n := countFiles(t, filepath.Join(s.Dir, "blobs")); n != 0 {
		t.Errorf("%d blobs left stored", n)
	}
}

// TestSMTPRecipientHarvesting: a connection that has 20 recipients refused
// gets 421 on the next refusal and is closed (address harvesting, log
// flooding); the refusals before it were answered one by one.
func TestSMTPRecipientHarvesting(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("EHLO harvester.test", 250)
	c.expect("MAIL FROM:<h@harvester.test>", 250)
	for i := 0; i < 20; i++ {
		c.expect(fmt.Sprintf("RCPT TO:<guess%d@example.test>", i), 550)
	}
	c.expect("RCPT TO:<"+alice+">", 250) // a real one still works
	if code, text := c.cmd("RCPT TO:<guess20@example.test>"); code != 421 {
		t.Fatalf("21st refused recipient: %d %s, want 421", code, text)
	}
	c.c.SetDeadline(time.Now().Add(3 * time.Second))
	if l, ok := c.tryLine(); ok {
		t.Errorf("connection still open after 421, read %q", l)
	}
	if _, ok := s.WaitLog(5*time.Second, "too many refused recipients, closing"); !ok {
		t.Error("no log line for the closed connection")
	}
	if n := strings.Count(s.Logs(), "unknown recipient"); n != 20 {
		t.Errorf("%d unknown-recipient lines logged, want 20", n)
	}
}
