package smtpserver

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"postern/internal/queue/queuetest"
)

// fakeBackend records what its sessions were asked. Recipients starting
// with "bad" are refused 550, "close" 421; MAIL FROM <panic@x> panics;
// AUTH PLAIN takes the password "secret".
type fakeBackend struct {
	mu       sync.Mutex
	sessions int
	logouts  int
	messages []string
	dataErrs []error
	mails    []*MailOptions
	rcpts    []*RcptOptions
	// dataReply, if set, is what Data returns after reading everything.
	dataReply error
	// stopAfter, if > 0, makes Data return after that many octets.
	stopAfter int
}

func (b *fakeBackend) NewSession(c *Conn) (Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions++
	return &fakeSession{b: b}, nil
}

type fakeSession struct {
	b      *fakeBackend
	authed bool
}

func (s *fakeSession) Mail(from string, opts *MailOptions) error {
	if from == "panic@x" {
		panic("test panic")
	}
	if from == "refuse@x" {
		return NewReply(550, 5, 7, 1, "sender refused")
	}
	s.b.mu.Lock()
	s.b.mails = append(s.b.mails, opts)
	s.b.mu.Unlock()
	return nil
}

func (s *fakeSession) Rcpt(to string, opts *RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "bad"):
		return NewReply(550, 5, 1, 1, "No such user here")
	case strings.HasPrefix(to, "close"):
		return NewReply(421, 4, 7, 0, "Too many refused recipients, closing connection")
	case strings.HasPrefix(to, "plain-error"):
		return errors.New("database on fire")
	}
	s.b.mu.Lock()
	s.b.rcpts = append(s.b.rcpts, opts)
	s.b.mu.Unlock()
	return nil
}

func (s *fakeSession) Data(r io.Reader) error {
	var b []byte
	var err error
	if s.b.stopAfter > 0 {
		b = make([]byte, s.b.stopAfter)
		_, err = io.ReadFull(r, b)
	} else {
		b, err = io.ReadAll(r)
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err != nil {
		s.b.dataErrs = append(s.b.dataErrs, err)
		return err
	}
	s.b.messages = append(s.b.messages, string(b))
	if s.b.dataReply != nil {
		return s.b.dataReply
	}
	return NewReply(250, 2, 0, 0, "OK queued")
}

func (s *fakeSession) Reset() {}

func (s *fakeSession) Logout() error {
	s.b.mu.Lock()
	s.b.logouts++
	s.b.mu.Unlock()
	return nil
}

func (s *fakeSession) AuthMechanisms() []string { return []string{"PLAIN"} }

func (s *fakeSession) Auth(mech string) (sasl.Server, error) {
	if mech != "PLAIN" {
		return nil, NewReply(504, 5, 5, 4, "Unsupported authentication mechanism")
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if password != "secret" {
			return NewReply(535, 5, 7, 8, "Authentication credentials invalid")
		}
		s.authed = true
		return nil
	}), nil
}

func (b *fakeBackend) snapshot() (messages []string, errs []error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.messages...), append([]error(nil), b.dataErrs...)
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testServer runs a Server on loopback with a fakeBackend.
type testServer struct {
	addr string
	b    *fakeBackend
	logs *logBuf
	srv  *Server
}

func startServer(t *testing.T, edit func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{b: &fakeBackend{}, logs: &logBuf{}}
	cfg := Config{Hostname: "mx.example.org", MaxMessageBytes: 1000, MaxRecipients: 3,
		IdleTimeout: 10 * time.Second, SMTPUTF8: true, DSN: true, REQUIRETLS: true,
		Logger: slog.New(slog.NewTextHandler(ts.logs, nil))}
	if edit != nil {
		edit(&cfg)
	}
	ts.srv = New(ts.b, cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.srv.Serve(l)
	t.Cleanup(func() { ts.srv.Close() })
	ts.addr = l.Addr().String()
	return ts
}

func testTLS(t *testing.T) *tls.Config {
	cert, _, err := queuetest.SelfSigned("mx.example.org")
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// client is a raw SMTP client that reads whole replies.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	if code, text := cl.reply(); code != 220 || text != "mx.example.org ESMTP Service Ready" {
		t.Fatalf("greeting %d %q", code, text)
	}
	return cl
}

func (c *client) write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// reply reads one reply: its code and its text, lines joined by "\n".
func (c *client) reply() (int, string) {
	c.t.Helper()
	var lines []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply: %v (after %q)", err, lines)
		}
		if len(l) < 5 || !strings.HasSuffix(l, "\r\n") {
			c.t.Fatalf("malformed reply line %q", l)
		}
		lines = append(lines, l[4:len(l)-2])
		if l[3] == ' ' {
			code := int(l[0]-'0')*100 + int(l[1]-'0')*10 + int(l[2]-'0')
			return code, strings.Join(lines, "\n")
		}
	}
}

// cmd sends one command and returns the code and text of its reply.
func (c *client) cmd(line string) (int, string) {
	c.t.Helper()
	c.write(line + "\r\n")
	return c.reply()
}

// expect sends a command and fails unless the reply has the code and
// starts with the enhanced code (if any).
func (c *client) expect(line string, code int, enhanced string) string {
	c.t.Helper()
	got, text := c.cmd(line)
	if got != code || !strings.HasPrefix(text, enhanced) {
		c.t.Fatalf("%q: %d %q, want %d %s", line, got, text, code, enhanced)
	}
	return text
}

// closed tells whether the server has closed the connection.
func (c *client) closed() bool {
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.r.ReadByte()
	return err == io.EOF
}
