package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"
)

// TestSMTPSTARTTLS delivers over STARTTLS with Python's smtplib.
func TestSMTPSTARTTLS(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	id := uniq()
	var res struct {
		OK    bool
		Error any
	}
	runPy(t, "smtp_send.py", map[string]any{
		"host": "127.0.0.1", "port": port(t, s.Addr["smtp"]), "starttls": true,
		"from": "tls@remote.test", "to": []string{alice},
		"msg": testMessage("tls@remote.test", alice, id, "over TLS"),
	}, &res)
	if !res.OK {
		t.Fatalf("smtplib STARTTLS send: %v", res.Error)
	}
	got := findByID(fetchAll(t, s, alice, pass), id)
	if len(got) != 1 {
		t.Fatalf("alice has %d copies", len(got))
	}
	if recv := parseMsg(t, got[0].Text).Header.Get("Received"); !strings.Contains(strings.ToUpper(recv), "TLS") && !strings.Contains(recv, "ESMTPS") {
		t.Logf("Received header does not record TLS: %q", recv)
	}
}

// upgrade runs a TLS client handshake on the raw connection and returns a
// rawConn reading from it.
func upgrade(t *testing.T, c *rawConn) *rawConn {
	t.Helper()
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.example.test"})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	return &rawConn{t: t, c: tc, r: bufio.NewReader(tc)}
}

// TestSTARTTLSInjection: a command sent in the same packet as STARTTLS/STLS
// must be discarded, not run inside the TLS session (CVE-2011-0411;
// RFC 3207 §4.2, RFC 2595 §3.1).
func TestSTARTTLSInjection(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)

	c := smtpSession(t, s.Addr["smtp"])
	c.write("STARTTLS\r\nRCPT TO:<" + alice + ">\r\n")
	if code, text := c.reply(); code != 220 {
		t.Fatalf("STARTTLS: %d %s", code, text)
	}
	tc := upgrade(t, c)
	tc.write("EHLO client.example.net\r\n")
	if code, text := tc.reply(); code != 250 || !strings.Contains(text, "PIPELINING") {
		t.Errorf("SMTP: first reply inside TLS is %d %q, want the EHLO reply (injected command was run?)", code, text)
	}

	p := dialPOP3(t, s.Addr["pop3"])
	p.write("STLS\r\nNOOP\r\n")
	if l := p.line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("STLS: %q", l)
	}
	tp := upgrade(t, p.rawConn)
	tp.write("CAPA\r\n")
	if l := tp.line(); !strings.HasPrefix(l, "+OK") {
		t.Errorf("POP3: first reply inside TLS is %q, want CAPA's +OK (injected NOOP was run?)", l)
	}
}

// TestPlaintextRefused: with allow_plaintext_loopback = false, passwords
// are refused on unencrypted IMAP and submission, and accepted over
// implicit TLS (POP3 is covered by TestPOP3TLS).
func TestPlaintextRefused(t *testing.T) {
	t.Parallel()
	s := mailServer(t, map[string]any{"auth.allow_plaintext_loopback": false})
	imapLogin := func(c *rawConn) string {
		c.line() // greeting
		c.write("a1 LOGIN " + alice + " \"" + pass + "\"\r\n")
		for range 20 {
			if l := c.line(); strings.HasPrefix(l, "a1 ") {
				return l
			}
		}
		return ""
	}
	if l := imapLogin(dialRaw(t, s.Addr["imap"])); strings.HasPrefix(l, "a1 OK") {
		t.Errorf("IMAP LOGIN without TLS accepted: %q", l)
	}
	if l := imapLogin(dialRawTLS(t, s.Addr["imaps"])); !strings.HasPrefix(l, "a1 OK") {
		t.Errorf("IMAPS LOGIN refused: %q", l)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + alice + "\x00" + pass))
	c := smtpSession(t, s.Addr["submission"])
	if code, text := c.cmd("AUTH PLAIN " + plain); code == 235 {
		t.Errorf("submission AUTH without TLS accepted: %d %s", code, text)
	}
	c = dialRawTLS(t, s.Addr["submissions"])
	if code, text := c.reply(); code != 220 {
		t.Fatalf("submissions greeting %d %s", code, text)
	}
	c.expect("EHLO client.example.net", 250)
	if code, text := c.cmd("AUTH PLAIN " + plain); code != 235 {
		t.Errorf("submissions AUTH PLAIN: %d %s, want 235", code, text)
	}
}
