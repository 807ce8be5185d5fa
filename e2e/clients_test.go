package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// rawConn is a line-oriented client for protocol edge cases that a library
// client would refuse to produce.
type rawConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	rc := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	return rc
}

func dialRawTLS(t testing.TB, addr string) *rawConn {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("dial tls %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

// write sends s as is.
func (c *rawConn) write(s string) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(s)); err != nil {
		c.t.Fatalf("write %q: %v", short(s), err)
	}
}

// line reads one line without its CRLF.
func (c *rawConn) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (partial %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// tryLine reads one line; ok is false on error (closed connection).
func (c *rawConn) tryLine() (string, bool) {
	l, err := c.r.ReadString('\n')
	return strings.TrimRight(l, "\r\n"), err == nil
}

// reply reads a (multi-line) SMTP reply: its code and its lines' text.
func (c *rawConn) reply() (int, string) {
	c.t.Helper()
	var text []string
	for {
		l := c.line()
		if len(l) < 3 {
			c.t.Fatalf("short SMTP reply line %q", l)
		}
		code, err := strconv.Atoi(l[:3])
		if err != nil {
			c.t.Fatalf("bad SMTP reply line %q", l)
		}
		text = append(text, strings.TrimSpace(l[min(4, len(l)):]))
		if len(l) == 3 || l[3] == ' ' {
			return code, strings.Join(text, "\n")
		}
	}
}

// cmd sends one SMTP command line and reads the reply.
func (c *rawConn) cmd(line string) (int, string) {
	c.t.Helper()
	c.write(line + "\r\n")
	return c.reply()
}

// expect sends a command and fails the test unless the reply code is want.
func (c *rawConn) expect(line string, want int) string {
	c.t.Helper()
	code, text := c.cmd(line)
	if code != want {
		c.t.Fatalf("%s: got %d %s, want %d", short(line), code, text, want)
	}
	return text
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// smtpSession dials the MX port, reads the greeting and says EHLO.
func smtpSession(t testing.TB, addr string) *rawConn {
	t.Helper()
	c := dialRaw(t, addr)
	if code, text := c.reply(); code != 220 {
		t.Fatalf("greeting: %d %s", code, text)
	}
	c.expect("EHLO client.example.net", 250)
	return c
}

// uniq returns a random token for Message-IDs and subjects.
func uniq() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testMessage builds an RFC 5322 message with CRLF line endings whose last
// line is a trailer naming the id, so a truncated copy can be detected.
func testMessage(from, to, id, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: test %s\r\n", from, to, id)
	fmt.Fprintf(&b, "Message-ID: <%s@e2e.test>\r\nDate: %s\r\n", id, time.Now().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(body)
	if body != "" && !strings.HasSuffix(body, "\r\n") {
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "END-OF-MESSAGE %s\r\n", id)
	return b.String()
}

// sendSMTP delivers msg with the go-smtp client (DATA); the error is an
// *smtp.SMTPError when the server refused.
func sendSMTP(addr, from string, to []string, msg string) error {
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
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func mustSend(t testing.TB, addr, from string, to []string, msg string) {
	t.Helper()
	if err := sendSMTP(addr, from, to, msg); err != nil {
		t.Fatalf("send to %v: %v", to, err)
	}
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// pop3 is a raw POP3 client (RFC 1939).
type pop3 struct{ *rawConn }

func dialPOP3(t testing.TB, addr string) *pop3 {
	t.Helper()
	p := &pop3{dialRaw(t, addr)}
	if l := p.line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("POP3 greeting: %q", l)
	}
	return p
}

func dialPOP3S(t testing.TB, addr string) *pop3 {
	t.Helper()
	p := &pop3{dialRawTLS(t, addr)}
	if l := p.line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("POP3S greeting: %q", l)
	}
	return p
}

// do sends a command and returns the status line.
func (p *pop3) do(cmd string) string {
	p.t.Helper()
	p.write(cmd + "\r\n")
	return p.line()
}

// ok sends a command, requires +OK and returns the status line.
func (p *pop3) ok(cmd string) string {
	p.t.Helper()
	l := p.do(cmd)
	if !strings.HasPrefix(l, "+OK") {
		p.t.Fatalf("POP3 %s: %q", strings.Fields(cmd + " x")[0], l)
	}
	return l
}

// multi reads a multi-line response body after a +OK line, undoing dot
// stuffing (RFC 1939 §3), with the CRLFs kept.
func (p *pop3) multi() string {
	p.t.Helper()
	var b strings.Builder
	for range 1 << 20 {
		l, err := p.r.ReadString('\n')
		if err != nil {
			p.t.Fatalf("POP3 multi-line read: %v", err)
		}
		if l == ".\r\n" {
			return b.String()
		}
		if strings.HasPrefix(l, ".") {
			l = l[1:]
		}
		b.WriteString(l)
	}
	p.t.Fatalf("POP3 multi-line response too long")
	return ""
}

func (p *pop3) login(user, pass string) {
	p.t.Helper()
	p.ok("USER " + user)
	p.ok("PASS " + pass)
}

// pyResult runs e2e/py/NAME with req as JSON on stdin and decodes its JSON
// output into out.
func runPy(t testing.TB, name string, req any, out any) {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "py/"+name)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3 %s: %v\nstderr: %s\nstdout: %s", name, err, stderr.String(), stdout.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("python3 %s: bad JSON %q: %v", name, short(stdout.String()), err)
	}
}
