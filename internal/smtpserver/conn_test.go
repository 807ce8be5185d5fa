package smtpserver

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPipelining: a whole transaction in one write (RFC 2920), the
// replies in order, a refused recipient among them, and the next
// transaction pipelined after the end of data.
func TestPipelining(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.write("EHLO client.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<u@example.org>\r\n" +
		"RCPT TO:<bad@example.org>\r\nRCPT TO:<v@example.org>\r\nDATA\r\n")
	for i, want := range []int{250, 250, 250, 550, 250, 354} {
		if code, text := c.reply(); code != want {
			t.Fatalf("reply %d: %d %q, want %d", i, code, text, want)
		}
	}
	c.write("Subject: one\r\n\r\n..dot-stuffed\r\nend\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<w@example.org>\r\nDATA\r\n")
	for i, want := range []int{250, 250, 250, 354} {
		if code, text := c.reply(); code != want {
			t.Fatalf("second batch, reply %d: %d %q, want %d", i, code, text, want)
		}
	}
	c.write("Subject: two\r\n\r\nx\r\n.\r\nQUIT\r\n")
	if code, _ := c.reply(); code != 250 {
		t.Fatalf("second message: %d", code)
	}
	if code, _ := c.reply(); code != 221 {
		t.Fatalf("QUIT: %d", code)
	}
	msgs, _ := ts.b.snapshot()
	if len(msgs) != 2 || msgs[0] != "Subject: one\r\n\r\n.dot-stuffed\r\nend\r\n" || msgs[1] != "Subject: two\r\n\r\nx\r\n" {
		t.Fatalf("messages %q", msgs)
	}
}

// TestDataPassesBareLineEndings: only CRLF "." CRLF ends the data; bare
// CR and LF reach the Session as sent, even right after a stuffing dot,
// so that it can refuse them (SMTP smuggling).
func TestDataPassesBareLineEndings(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.expect("EHLO client.example.net", 250, "")
	c.expect("MAIL FROM:<a@example.net>", 250, "2.1.0")
	c.expect("RCPT TO:<u@example.org>", 250, "2.1.5")
	c.expect("DATA", 354, "")
	body := "a\n.\nb\r\n.\rMAIL FROM:<x@y>\r\nc\r.\r\nd\r\n"
	c.write(body + ".\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("end of data: %d %s", code, text)
	}
	msgs, _ := ts.b.snapshot()
	if want := "a\n.\nb\r\n\rMAIL FROM:<x@y>\r\nc\r.\r\nd\r\n"; len(msgs) != 1 || msgs[0] != want {
		t.Fatalf("message %q, want %q", msgs, want)
	}
}

// TestOversizeData: a message over the limit is read to its end, then
// refused 552 5.3.4; the session goes on.
func TestOversizeData(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.expect("EHLO client.example.net", 250, "")
	c.expect("MAIL FROM:<a@example.net>", 250, "2.1.0")
	c.expect("RCPT TO:<u@example.org>", 250, "2.1.5")
	c.expect("DATA", 354, "")
	c.write(strings.Repeat("0123456789abcdef\r\n", 200) + ".\r\n")
	if code, text := c.reply(); code != 552 || !strings.HasPrefix(text, "5.3.4") {
		t.Fatalf("over-size DATA: %d %s", code, text)
	}
	c.expect("RCPT TO:<u@example.org>", 503, "5.5.1")
	c.expect("MAIL FROM:<a@example.net>", 250, "2.1.0")
	c.expect("RCPT TO:<u@example.org>", 250, "2.1.5")
	c.expect("DATA", 354, "")
	c.write("Subject: small\r\n\r\nok\r\n.\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("message within the limit: %d %s", code, text)
	}
	if msgs, errs := ts.b.snapshot(); len(msgs) != 1 || len(errs) != 1 || errs[0] != ErrDataTooLarge {
		t.Fatalf("messages %q, errors %v", msgs, errs)
	}
}

// TestDataEarlyRefusal: a Session that refuses after part of the message
// is heard after the end of the data, and the rest is not run as
// commands.
func TestDataEarlyRefusal(t *testing.T) {
	ts := startServer(t, nil)
	ts.b.stopAfter = 4
	ts.b.dataReply = NewReply(550, 5, 6, 0, "refused early")
	c := dial(t, ts.addr)
	c.expect("EHLO client.example.net", 250, "")
	c.expect("MAIL FROM:<a@example.net>", 250, "2.1.0")
	c.expect("RCPT TO:<u@example.org>", 250, "2.1.5")
	c.expect("DATA", 354, "")
	c.write("Subject: x\r\nQUIT\r\n\r\nbody\r\n.\r\n")
	if code, text := c.reply(); code != 550 || text != "5.6.0 refused early" {
		t.Fatalf("refusal: %d %s", code, text)
	}
	c.expect("NOOP", 250, "2.0.0")
}

// TestBDAT: chunks with LAST (RFC 3030), a zero-size last chunk, the size
// limit over several chunks, BDAT after LAST, and RSET in the middle.
func TestBDAT(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.expect("EHLO client.example.net", 250, "")
	begin := func() {
		c.expect("MAIL FROM:<a@example.net>", 250, "2.1.0")
		c.expect("RCPT TO:<u@example.org>", 250, "2.1.5")
	}
	begin()
	// Three chunks in one write, one of them with what looks like a
	// command and a lone dot inside: chunks are not dot-stuffed.
	c.write(chunk("Subject: hi\r\n\r\n", false) + chunk("QUIT\r\n.\r\nbody\r\n\n", false) + chunk("", true))
	for i, want := range []string{"2.0.0 Chunk", "2.0.0 Chunk", "2.0.0 OK"} {
		if code, text := c.reply(); code != 250 || !strings.HasPrefix(text, want) {
			t.Fatalf("chunk %d: %d %q", i, code, text)
		}
	}
	msgs, _ := ts.b.snapshot()
	if len(msgs) != 1 || msgs[0] != "Subject: hi\r\n\r\nQUIT\r\n.\r\nbody\r\n\n" {
		t.Fatalf("message %q", msgs)
	}
	c.write("BDAT 3 LAST\r\nabc")
	if code, text := c.reply(); code != 503 {
		t.Fatalf("BDAT after LAST: %d %s", code, text)
	}

	// 600 + 600 octets against a limit of 1000: the second chunk is
	// refused, the transaction ends, a pipelined third chunk is skipped.
	begin()
	part := strings.Repeat("x", 598) + "\r\n"
	c.write(chunk(part, false) + chunk(part, false) + chunk("hello", true))
	for i, want := range []int{250, 552, 503} {
		if code, text := c.reply(); code != want {
			t.Fatalf("over-size chunks, reply %d: %d %s, want %d", i, code, text, want)
		}
	}
	c.expect("NOOP", 250, "2.0.0")

	// RSET between chunks abandons the message.
	begin()
	c.write("BDAT 4\r\nabcdNOOP\r\nRSET\r\n")
	for i, want := range []int{250, 250, 250} {
		if code, text := c.reply(); code != want {
			t.Fatalf("RSET mid-BDAT, reply %d: %d %s, want %d", i, code, text, want)
		}
	}
	c.expect("RCPT TO:<u@example.org>", 503, "5.5.1")
	if _, errs := ts.b.snapshot(); len(errs) != 2 || errs[1] != ErrDataReset {
		t.Fatalf("Data errors %v, want the size error then the reset", errs)
	}

	// Other commands in the middle of a message are out of sequence.
	begin()
	c.write("BDAT 2\r\nabMAIL FROM:<b@example.net>\r\nBDAT 2 LAST\r\ncd")
	for i, want := range []int{250, 503, 250} {
		if code, text := c.reply(); code != want {
			t.Fatalf("MAIL mid-BDAT, reply %d: %d %s, want %d", i, code, text, want)
		}
	}
	if msgs, _ := ts.b.snapshot(); msgs[len(msgs)-1] != "abcd" {
		t.Fatalf("message %q", msgs[len(msgs)-1])
	}
	// Issue 13: "BDAT 0" pipelined after RCPT crashed go-smtp's server. Here
	// it is an empty chunk; after a refused RCPT, 554 and the next command.
	c.write("MAIL FROM:<a@example.net>\r\nRCPT TO:<u@example.org>\r\nBDAT 0\r\nBDAT 0 LAST\r\n" +
		"MAIL FROM:<a@example.net>\r\nRCPT TO:<bad@example.org>\r\nBDAT 0\r\nNOOP\r\n")
	for i, want := range []int{250, 250, 250, 250, 250, 550, 554, 250} {
		if code, text := c.reply(); code != want {
			t.Fatalf("pipelined BDAT 0, reply %d: %d %s, want %d", i, code, text, want)
		}
	}
	if msgs, _ := ts.b.snapshot(); msgs[len(msgs)-1] != "" {
		t.Fatalf("BDAT 0 then BDAT 0 LAST gave %q", msgs[len(msgs)-1])
	}
	c.expect("RSET", 250, "2.0.0")
	// BDAT and DATA do not mix in one transaction.
	begin()
	c.write("BDAT 2\r\nab")
	if code, _ := c.reply(); code != 250 {
		t.Fatalf("first chunk: %d", code)
	}
	c.expect("DATA", 503, "5.5.1")
	c.write("BDAT 0 LAST\r\n")
	if code, _ := c.reply(); code != 250 {
		t.Fatalf("BDAT LAST after the refused DATA: %d", code)
	}
}

// chunk is a BDAT command with its chunk.
func chunk(s string, last bool) string {
	if last {
		return fmt.Sprintf("BDAT %d LAST\r\n%s", len(s), s)
	}
	return fmt.Sprintf("BDAT %d\r\n%s", len(s), s)
}

// TestSTARTTLSDiscardsPipelined: input after STARTTLS in the same packet
// is dropped (RFC 3207 §4.2), the session starts over (EHLO again, a new
// Session) and STARTTLS is not offered nor accepted twice.
func TestSTARTTLSDiscardsPipelined(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TLS = testTLS(t) })
	c := dial(t, ts.addr)
	c.expect("EHLO client.example.net", 250, "")
	c.write("STARTTLS\r\nMAIL FROM:<a@example.net>\r\n")
	if code, text := c.reply(); code != 220 {
		t.Fatalf("STARTTLS: %d %s", code, text)
	}
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c = &client{t: t, c: tc, r: bufio.NewReader(tc)}
	// The first reply inside TLS is NOOP's: the injected MAIL never ran.
	c.expect("NOOP", 250, "2.0.0")
	c.expect("MAIL FROM:<a@example.net>", 503, "5.5.1")
	text := c.expect("EHLO client.example.net", 250, "")
	if strings.Contains(text, "STARTTLS") || !strings.Contains(text, "REQUIRETLS") {
		t.Errorf("EHLO inside TLS:\n%s", text)
	}
	c.expect("STARTTLS", 503, "5.5.1")
	ts.b.mu.Lock()
	defer ts.b.mu.Unlock()
	if ts.b.sessions != 2 || ts.b.logouts != 1 {
		t.Errorf("%d sessions, %d logouts; want a new session after STARTTLS", ts.b.sessions, ts.b.logouts)
	}
}

// TestImplicitTLS: a listener of *tls.Conn gives TLS sessions.
func TestImplicitTLS(t *testing.T) {
	cfg := testTLS(t)
	ts := startServer(t, nil)
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	go ts.srv.Serve(l)
	tc, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := &client{t: t, c: tc, r: bufio.NewReader(tc)}
	if code, _ := c.reply(); code != 220 {
		t.Fatal("no greeting over TLS")
	}
	if text := c.expect("EHLO client.example.net", 250, ""); !strings.Contains(text, "REQUIRETLS") {
		t.Errorf("EHLO over implicit TLS:\n%s", text)
	}
}

// TestAuth: the continuation dance, "*" to cancel (501), a wrong then a
// right initial response, and AUTH twice (503).
func TestAuth(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.expect("EHLO client.example.net", 250, "")
	if text := c.expect("AUTH PLAIN", 334, ""); text != "" {
		t.Fatalf("PLAIN challenge %q", text)
	}
	c.expect("*", 501, "5.0.0")
	c.expect("AUTH PLAIN", 334, "")
	c.expect("%%%", 501, "5.5.2")
	wrong := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wrong"))
	c.expect("AUTH PLAIN "+wrong, 535, "5.7.8")
	c.expect("AUTH PLAIN", 334, "")
	c.expect(base64.StdEncoding.EncodeToString([]byte("\x00alice\x00secret")), 235, "2.7.0")
	c.expect("AUTH PLAIN "+wrong, 503, "5.5.1")
	c.expect("MAIL FROM:<a@example.net>", 250, "2.1.0")
}

// TestIdleTimeoutPartialLine: a command without its CRLF when the idle
// timeout comes is not run: 421 4.4.2 and the connection closes.
func TestIdleTimeoutPartialLine(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := dial(t, ts.addr)
	c.write("HELP")
	if code, text := c.reply(); code != 421 || !strings.HasPrefix(text, "4.4.2") {
		t.Fatalf("after the timeout: %d %s", code, text)
	}
	if !c.closed() {
		t.Fatal("connection open after the timeout")
	}
}

// TestWholeCommandDeadline: a byte at a time, each well within the idle
// timeout, does not stretch one command past it (issue 13): the 421 comes
// while the bytes still flow.
func TestWholeCommandDeadline(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.IdleTimeout = 400 * time.Millisecond })
	c := dial(t, ts.addr)
	got := make(chan string, 1)
	go func() {
		c.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		l, _ := c.r.ReadString('\n')
		got <- l
	}()
	for i := 0; i < 30; i++ {
		select {
		case l := <-got:
			if !strings.HasPrefix(l, "421 4.4.2") {
				t.Fatalf("slow command: %q, want 421 4.4.2", l)
			}
			return
		case <-time.After(100 * time.Millisecond):
			c.c.Write([]byte("N"))
		}
	}
	t.Fatalf("one byte every 100 ms held a command for 3 s with a 400 ms idle timeout: %q", <-got)
}

// TestDataDripTimeout: mail data trickling in a byte at a time does not
// renew the idle timeout either.
func TestDataDripTimeout(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.IdleTimeout = 400 * time.Millisecond })
	c := dial(t, ts.addr)
	c.expect("EHLO client.example.net", 250, "")
	c.expect("MAIL FROM:<a@example.net>", 250, "2.1.0")
	c.expect("RCPT TO:<u@example.org>", 250, "2.1.5")
	c.expect("DATA", 354, "")
	got := make(chan string, 1)
	go func() {
		c.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		l, _ := c.r.ReadString('\n')
		got <- l
	}()
	for i := 0; i < 30; i++ {
		select {
		case l := <-got:
			if !strings.HasPrefix(l, "421 4.4.2") {
				t.Fatalf("slow data: %q, want 421 4.4.2", l)
			}
			return
		case <-time.After(100 * time.Millisecond):
			c.c.Write([]byte("x"))
		}
	}
	t.Fatalf("one byte of data every 100 ms held the session for 3 s with a 400 ms idle timeout: %q", <-got)
}

// TestPanicRecovered: a panicking Session gets the client 421 and one log
// line, and the server goes on.
func TestPanicRecovered(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.expect("EHLO client.example.net", 250, "")
	c.expect("MAIL FROM:<panic@x>", 421, "4.3.0")
	if !c.closed() {
		t.Fatal("connection open after a panic")
	}
	logs := ts.logs.String()
	if n := strings.Count(logs, "\n"); n != 1 || !strings.Contains(logs, "smtp session panic") || !strings.Contains(logs, "fakeSession).Mail") {
		t.Fatalf("log after a panic:\n%s", logs)
	}
	c = dial(t, ts.addr)
	c.expect("NOOP", 250, "2.0.0")
}

// TestShutdownWaitsAndClose: Shutdown returns once sessions end, Close
// ends them.
func TestShutdownAndClose(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(t.Context()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned with a session open: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	c.expect("QUIT", 221, "2.0.0")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the session ended")
	}
	if err := ts.srv.Serve(nil); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

func TestReplyFormat(t *testing.T) {
	for r, want := range map[*Reply]string{
		NewReply(250, 2, 1, 5, "ok"): "250 2.1.5 ok",
		{Code: 451, Text: "later"}:   "451 4.0.0 later",
		{Code: 354, Text: "go"}:      "354 go",
	} {
		if got := r.Error(); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}
