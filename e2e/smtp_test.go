package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSMTPExtensions checks the MX port's EHLO: the extensions of the
// contract, and no AUTH (RFC 4954 is for submission only).
func TestSMTPExtensions(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	c := dialRaw(t, s.Addr["smtp"])
	if code, _ := c.reply(); code != 220 {
		t.Fatalf("greeting code %d", code)
	}
	text := c.expect("EHLO client.example.net", 250)
	ext := map[string]bool{}
	for _, l := range strings.Split(text, "\n")[1:] {
		ext[strings.ToUpper(strings.Fields(l)[0])] = true
	}
	for _, want := range []string{"PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS"} {
		if !ext[want] {
			t.Errorf("EHLO lacks %s; got %q", want, text)
		}
	}
	if ext["AUTH"] {
		t.Errorf("MX port advertises AUTH: %q", text)
	}
}

// TestSMTPDeliveryPython sends with Python's smtplib and checks, over POP3,
// the body, the added Return-Path and Received headers, and that the
// Received id appears in the server's log line for the transaction.
func TestSMTPDeliveryPython(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	id := uniq()
	msg := testMessage("sender@remote.test", alice, id, "Hello Alice.\r\nSecond line.\r\n")
	var res struct {
		OK       bool
		Features map[string]string
		Refused  map[string][]any
		Error    any
	}
	runPy(t, "smtp_send.py", map[string]any{
		"host": "127.0.0.1", "port": port(t, s.Addr["smtp"]),
		"from": "sender@remote.test", "to": []string{alice}, "msg": msg,
	}, &res)
	if !res.OK || len(res.Refused) != 0 {
		t.Fatalf("smtplib send: ok=%v refused=%v error=%v", res.OK, res.Refused, res.Error)
	}
	got := findByID(fetchAll(t, s, alice, pass), id)
	if len(got) != 1 {
		t.Fatalf("alice has %d copies of %s, want 1", len(got), id)
	}
	text := got[0].Text
	if !strings.HasSuffix(text, msg) {
		t.Errorf("stored message does not end with the message sent:\n%s", text)
	}
	m := parseMsg(t, text)
	if rp := m.Header.Get("Return-Path"); rp != "<sender@remote.test>" {
		t.Errorf("Return-Path = %q, want <sender@remote.test>", rp)
	}
	if !strings.HasPrefix(text, "Return-Path:") {
		t.Errorf("Return-Path is not the first header:\n%s", short(text))
	}
	recv := m.Header.Get("Received")
	rid := regexp.MustCompile(`\bid ([A-Za-z0-9._\-]+)`).FindStringSubmatch(recv)
	if rid == nil {
		t.Fatalf("Received header has no id: %q", recv)
	}
	if !strings.Contains(recv, "mx.example.test") {
		t.Errorf("Received header does not name our host: %q", recv)
	}
	if _, ok := s.WaitLog(5*time.Second, rid[1], "sender@remote.test"); !ok {
		t.Errorf("no log line names both the Received id %q and the sender", rid[1])
	}
	if got[0].Size != len(text) {
		t.Errorf("LIST size %d, RETR gave %d octets", got[0].Size, len(text))
	}
}

// TestSMTPReceivedIDsUnique checks that two transactions get different ids.
func TestSMTPReceivedIDsUnique(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	ids := map[string]bool{}
	re := regexp.MustCompile(`\bid ([A-Za-z0-9._\-]+)`)
	for range 3 {
		mustSend(t, s.Addr["smtp"], "x@remote.test", []string{bob}, testMessage("x@remote.test", bob, uniq(), "hi"))
	}
	for _, m := range fetchAll(t, s, bob, pass) {
		rid := re.FindStringSubmatch(parseMsg(t, m.Text).Header.Get("Received"))
		if rid == nil {
			t.Fatalf("no id in Received")
		}
		ids[rid[1]] = true
	}
	if len(ids) != 3 {
		t.Errorf("3 messages gave %d distinct Received ids", len(ids))
	}
}

// TestSMTPSwaks delivers with swaks, with pipelining.
func TestSMTPSwaks(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	id := uniq()
	host, p := splitAddr(t, s.Addr["smtp"])
	out, err := exec.Command("swaks", "--server", host, "--port", p, "--pipeline",
		"--from", "swaks@remote.test", "--to", carol, "--helo", "swaks.example.net",
		"--header", "Message-ID: <"+id+"@e2e.test>", "--body", "sent by swaks").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	got := findByID(fetchAll(t, s, carol, pass), id)
	if len(got) != 1 || !strings.Contains(got[0].Text, "sent by swaks") {
		t.Fatalf("carol has %d copies of the swaks message", len(got))
	}
}

// TestSMTPAliasFanOut: an alias to three local accounts delivers to each,
// and the body is stored once. The body is large (~200 kB) so that it lives
// in a file under DATA/blobs, not inline in the database.
func TestSMTPAliasFanOut(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	s.CLI("", "alias", "add", "team@example.test", alice+","+bob+","+carol).mustOK(t)
	blobs := filepath.Join(s.Dir, "blobs")
	before := countFiles(t, blobs)
	id := uniq()
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{"team@example.test"}, testMessage("x@remote.test", "team@example.test", id, strings.Repeat("to the team, a line of some length to make the body big enough ......\r\n", 2800)))
	for _, u := range []string{alice, bob, carol} {
		if n := len(findByID(fetchAll(t, s, u, pass), id)); n != 1 {
			t.Errorf("%s has %d copies, want 1", u, n)
		}
	}
	if after := countFiles(t, blobs); after != before+1 {
		t.Errorf("blob files under %s: %d before, %d after one fan-out delivery; want +1", blobs, before, after)
	}
}

// TestSMTPSubaddress: user+tag@ delivers to user.
func TestSMTPSubaddress(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	id := uniq()
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{"alice+news@example.test"}, testMessage("x@remote.test", "alice+news@example.test", id, "tagged"))
	if n := len(findByID(fetchAll(t, s, alice, pass), id)); n != 1 {
		t.Errorf("alice has %d copies of the subaddressed message, want 1", n)
	}
}

// TestSMTPCatchAll: unknown local parts go to the catch-all; clearing it
// restores 550 5.1.1.
func TestSMTPCatchAll(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	s.CLI("", "domain", "catchall", domain, carol).mustOK(t)
	id := uniq()
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{"nobody@example.test"}, testMessage("x@remote.test", "nobody@example.test", id, "catch me"))
	if n := len(findByID(fetchAll(t, s, carol, pass), id)); n != 1 {
		t.Errorf("catch-all carol has %d copies, want 1", n)
	}
	s.CLI("", "domain", "catchall", domain, "").mustOK(t)
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<x@remote.test>", 250)
	if code, text := c.cmd("RCPT TO:<nobody2@example.test>"); code != 550 || !strings.HasPrefix(text, "5.1.1") {
		t.Errorf("RCPT to unknown user after clearing catch-all: %d %s, want 550 5.1.1", code, text)
	}
}

// TestSMTPUnknownUser: 550 5.1.1 and nothing stored.
func TestSMTPUnknownUser(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<x@remote.test>", 250)
	if code, text := c.cmd("RCPT TO:<nosuchuser@example.test>"); code != 550 || !strings.HasPrefix(text, "5.1.1") {
		t.Errorf("RCPT unknown user: %d %s, want 550 5.1.1", code, text)
	}
	if code, _ := c.cmd("DATA"); code < 500 {
		t.Errorf("DATA with no valid recipient: %d, want 5xx", code)
	}
	c.cmd("QUIT")
	if n := countFiles(t, filepath.Join(s.Dir, "blobs")); n != 0 {
		t.Errorf("%d blobs stored after a refused transaction", n)
	}
}

// TestSMTPRecipientLimit: the 101st RCPT gets 452 4.5.3 (RFC 5321 §4.5.3.1.8).
func TestSMTPRecipientLimit(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<x@remote.test>", 250)
	for i := 1; i <= 100; i++ {
		c.expect(fmt.Sprintf("RCPT TO:<alice+r%d@example.test>", i), 250)
	}
	if code, text := c.cmd("RCPT TO:<bob@example.test>"); code != 452 || !strings.HasPrefix(text, "4.5.3") {
		t.Errorf("101st RCPT: %d %s, want 452 4.5.3", code, text)
	}
	c.expect("RSET", 250)
}

// TestSMTPSizeLimit: SIZE is advertised with the configured limit, MAIL
// with a larger SIZE= and an over-size DATA both get 552 5.3.4.
func TestSMTPSizeLimit(t *testing.T) {
	t.Parallel()
	s := mailServer(t, map[string]any{"smtp.max_message_bytes": 10000})
	c := smtpSession(t, s.Addr["smtp"])
	if code, text := c.cmd("EHLO again.example.net"); code != 250 || !strings.Contains(text, "SIZE 10000") {
		t.Errorf("EHLO: %d %q, want SIZE 10000", code, text)
	}
	if code, text := c.cmd("MAIL FROM:<x@remote.test> SIZE=20000"); code != 552 || !strings.HasPrefix(text, "5.3.4") {
		t.Errorf("MAIL SIZE=20000: %d %s, want 552 5.3.4", code, text)
	}
	c.cmd("RSET")
	c.expect("MAIL FROM:<x@remote.test>", 250)
	c.expect("RCPT TO:<"+alice+">", 250)
	c.expect("DATA", 354)
	id := uniq()
	c.write(testMessage("x@remote.test", alice, id, strings.Repeat("0123456789abcdef0123456789abcdef\r\n", 600)) + ".\r\n")
	if code, text := c.reply(); code != 552 || !strings.HasPrefix(text, "5.3.4") {
		t.Errorf("over-size DATA: %d %s, want 552 5.3.4", code, text)
	}
	// BDAT (RFC 3030 §3) is held to the same limit.
	c.cmd("RSET")
	c.expect("MAIL FROM:<x@remote.test>", 250)
	c.expect("RCPT TO:<"+alice+">", 250)
	big := testMessage("x@remote.test", alice, id, strings.Repeat("0123456789abcdef0123456789abcdef\r\n", 600))
	c.write(fmt.Sprintf("BDAT %d LAST\r\n%s", len(big), big))
	if code, text := c.reply(); code != 552 || !strings.HasPrefix(text, "5.3.4") {
		t.Errorf("over-size BDAT: %d %s, want 552 5.3.4", code, text)
	}
	small := uniq()
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, small, strings.Repeat("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\r\n", 50)))
	msgs := fetchAll(t, s, alice, pass)
	if len(findByID(msgs, id)) != 0 {
		t.Errorf("over-size message was delivered")
	}
	if len(findByID(msgs, small)) != 1 {
		t.Errorf("message under the limit was not delivered")
	}
}

// TestSMTPQuota: once the account is full, delivery is refused with
// 452 4.2.2 (RFC 3463), at RCPT or at the end of DATA.
func TestSMTPQuota(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	s.CLI("", "user", "quota", bob, "2000").mustOK(t)
	var refused []string
	for i := range 5 {
		c := smtpSession(t, s.Addr["smtp"])
		c.expect("MAIL FROM:<x@remote.test>", 250)
		code, text := c.cmd("RCPT TO:<" + bob + ">")
		if code == 250 {
			c.expect("DATA", 354)
			c.write(testMessage("x@remote.test", bob, uniq(), strings.Repeat("q", 1200)) + ".\r\n")
			code, text = c.reply()
		}
		c.cmd("QUIT")
		switch {
		case code == 250 && len(refused) == 0:
		case code == 452 && strings.HasPrefix(text, "4.2.2"):
			refused = append(refused, fmt.Sprint(i))
		default:
			t.Fatalf("message %d to a %s account: %d %s; want 250 until full, then 452 4.2.2", i, "2000-byte quota", code, text)
		}
	}
	if len(refused) < 3 {
		t.Errorf("5 messages of ~1.6 kB into a 2000-byte quota: only %d refused", len(refused))
	}
	if n := len(fetchAll(t, s, bob, pass)); n+len(refused) != 5 || n == 0 {
		t.Errorf("bob holds %d messages, %d were refused; want the rest of 5", n, len(refused))
	}
}

func splitAddr(t testing.TB, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("bad addr %q", addr)
	}
	return addr[:i], addr[i+1:]
}

func port(t testing.TB, addr string) int {
	_, p := splitAddr(t, addr)
	return atoi(t, p)
}

// TestSMTPLongLine: a DATA line over the 1000-octet limit (RFC 5321
// §4.5.3.1.6) is a permanent error: retrying cannot help, so the reply must
// be 5xx, not 4xx, and nothing is delivered.
func TestSMTPLongLine(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<x@remote.test>", 250)
	c.expect("RCPT TO:<"+alice+">", 250)
	c.expect("DATA", 354)
	id := uniq()
	c.write(testMessage("x@remote.test", alice, id, strings.Repeat("x", 5000)) + ".\r\n")
	if code, text := c.reply(); code < 500 || code > 599 {
		t.Errorf("DATA with a 5000-octet line: %d %s, want 5xx", code, text)
	}
	if n := len(findByID(fetchAll(t, s, alice, pass), id)); n != 0 {
		t.Errorf("message with an over-long line delivered")
	}
}

// TestSMTPUTF8: an internationalised sender (RFC 6531) and an 8-bit body
// (RFC 6152) are delivered byte for byte.
func TestSMTPUTF8(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	id := uniq()
	msg := testMessage("jörg@bücher.test", alice, id, "Grüße aus Köln, 日本語のテキスト\r\n")
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<jörg@bücher.test> SMTPUTF8 BODY=8BITMIME", 250)
	c.expect("RCPT TO:<"+alice+">", 250)
	c.expect("DATA", 354)
	c.write(msg + ".\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("DATA end: %d %s", code, text)
	}
	got := findByID(fetchAll(t, s, alice, pass), id)
	if len(got) != 1 || !strings.HasSuffix(got[0].Text, msg) {
		t.Fatalf("8-bit message not delivered intact (%d copies)", len(got))
	}
	if rp := parseMsg(t, got[0].Text).Header.Get("Return-Path"); rp != "<jörg@bücher.test>" {
		t.Errorf("Return-Path %q", rp)
	}
}
