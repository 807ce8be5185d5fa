package smtpd

import (
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/textproto"
	"strings"
	"testing"
)

// rawSession is a plain-text SMTP session on the harness, greeted.
func rawSession(t *testing.T, addr string) (*textproto.Conn, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	return tp, conn
}

// TestOutOfSequence503: issue 13. RCPT after RSET without a new MAIL, and
// every other command out of sequence, answers 503 5.5.1 (RFC 5321
// §4.3.2, "bad sequence of commands"); go-smtp answered 502 5.5.1.
func TestOutOfSequence503(t *testing.T) {
	h := newHarness(t, ModeMX)
	tp, _ := rawSession(t, h.addr)
	for _, step := range []struct {
		cmd      string
		code     int
		enhanced string
	}{
		{"EHLO client.example.net", 250, ""},
		{"MAIL FROM:<bob@remote.test>", 250, "2.1.0"},
		{"RCPT TO:<alice@example.org>", 250, "2.1.5"},
		{"RSET", 250, "2.0.0"},
		{"RCPT TO:<alice@example.org>", 503, "5.5.1"}, // the case
		{"DATA", 503, "5.5.1"},
		{"BDAT 0 LAST", 503, "5.5.1"},
		{"MAIL FROM:<bob@remote.test>", 250, "2.1.0"},
		{"MAIL FROM:<bob@remote.test>", 503, "5.5.1"},
		{"DATA", 503, "5.5.1"},
		{"RCPT TO:<nobody@example.org>", 550, "5.1.1"},
		{"DATA", 554, "5.5.1"},
		{"RSET", 250, "2.0.0"},
		{"HELP", 214, "2.0.0"},
		{"XYZZY", 500, "5.5.2"},
		{"MAIL FROM:<bob@remote.test> FOO=BAR", 555, "5.5.4"},
		{"MAIL FROM bob@remote.test", 501, "5.5.4"},
		{"AUTH PLAIN", 503, "5.5.1"},
		// RFC 5321 §4.5.1: <Postmaster> without a domain, here the host
		// name's parent domain's.
		{"MAIL FROM:<bob@remote.test>", 250, "2.1.0"},
		{"RCPT TO:<Postmaster>", 250, "2.1.5"},
		{"RSET", 250, "2.0.0"},
	} {
		id, err := tp.Cmd("%s", step.cmd)
		if err != nil {
			t.Fatal(err)
		}
		tp.StartResponse(id)
		code, msg, _ := tp.ReadResponse(0)
		tp.EndResponse(id)
		if code != step.code || !strings.HasPrefix(msg, step.enhanced) {
			t.Errorf("%s: %d %s, want %d %s", step.cmd, code, msg, step.code, step.enhanced)
		}
	}
	// Before EHLO, on a new connection.
	tp, _ = rawSession(t, h.addr)
	for _, cmd := range []string{"MAIL FROM:<bob@remote.test>", "RCPT TO:<alice@example.org>", "DATA"} {
		tp.PrintfLine("%s", cmd)
		if code, msg, _ := tp.ReadResponse(0); code != 503 || !strings.HasPrefix(msg, "5.5.1") {
			t.Errorf("%s before EHLO: %d %s, want 503 5.5.1", cmd, code, msg)
		}
	}
}

// TestBareCRAfterDotRefused: "\r\n.\r" followed by anything but LF is a
// bare CR that go-smtp's DATA reader dropped (a listener counted it, on
// clear-text connections only). It is refused now in clear text and after
// STARTTLS alike, and nothing is delivered.
func TestBareCRAfterDotRefused(t *testing.T) {
	h := newHarness(t, ModeMX)
	for _, useTLS := range []bool{false, true} {
		tp, conn := rawSession(t, h.addr)
		tp.PrintfLine("EHLO client.example.net")
		if _, _, err := tp.ReadResponse(250); err != nil {
			t.Fatal(err)
		}
		if useTLS {
			tp.PrintfLine("STARTTLS")
			if _, _, err := tp.ReadResponse(220); err != nil {
				t.Fatal(err)
			}
			tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			tp = textproto.NewConn(tc)
			tp.PrintfLine("EHLO client.example.net")
			if _, _, err := tp.ReadResponse(250); err != nil {
				t.Fatal(err)
			}
		}
		for _, cmd := range []string{"MAIL FROM:<bob@remote.test>", "RCPT TO:<alice@example.org>"} {
			tp.PrintfLine("%s", cmd)
			if _, _, err := tp.ReadResponse(250); err != nil {
				t.Fatal(err)
			}
		}
		tp.PrintfLine("DATA")
		if _, _, err := tp.ReadResponse(354); err != nil {
			t.Fatal(err)
		}
		tp.W.WriteString("Subject: smuggle\r\n\r\nhello\r\n.\rMAIL FROM:<x@remote.test>\r\n.\r\n")
		tp.W.Flush()
		if code, msg, _ := tp.ReadResponse(0); code != 550 || !strings.HasPrefix(msg, "5.6.0") {
			t.Errorf("TLS %v: bare CR after a dot: %d %s, want 550 5.6.0", useTLS, code, msg)
		}
	}
	if n := len(h.inbox(h.alice)); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

// TestSubmissionAuthDance: LOGIN's challenges, "*" to cancel (501, RFC
// 4954 §4), PLAIN with an initial response, and AUTH twice (503).
func TestSubmissionAuthDance(t *testing.T) {
	h := newHarness(t, ModeSubmission)
	tp, _ := rawSession(t, h.addr)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, step := range []struct {
		line     string
		code     int
		enhanced string
	}{
		{"EHLO client.example.net", 250, ""},
		{"AUTH LOGIN", 334, b64("Username:")},
		{"*", 501, "5.0.0"},
		{"AUTH LOGIN " + b64("alice@example.org"), 334, b64("Password:")},
		{b64("wrong"), 535, "5.7.8"},
		{"AUTH PLAIN " + b64("\x00alice@example.org\x00alice password 1"), 235, "2.7.0"},
		{"AUTH PLAIN " + b64("\x00alice@example.org\x00alice password 1"), 503, "5.5.1"},
		{"MAIL FROM:<alice@example.org>", 250, "2.1.0"},
	} {
		tp.PrintfLine("%s", step.line)
		if code, msg, _ := tp.ReadResponse(0); code != step.code || !strings.HasPrefix(msg, step.enhanced) {
			t.Errorf("%q: %d %s, want %d %s", step.line, code, msg, step.code, step.enhanced)
		}
	}
}
