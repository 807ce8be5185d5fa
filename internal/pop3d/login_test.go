package pop3d

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func plain(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

func TestWrongPasswords(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	c.expectOK(c.cmd("USER alice@x"))
	if got := c.cmd("PASS wrong"); got != "-ERR [AUTH] Authentication failed" {
		t.Fatalf("wrong password = %q", got)
	}
	// An unknown user gets the very same reply, and USER never tells.
	c.expectOK(c.cmd("USER nobody@x"))
	if got := c.cmd("PASS secret"); got != "-ERR [AUTH] Authentication failed" {
		t.Fatalf("unknown user = %q", got)
	}
	// The third failure closes the session.
	if got := c.cmd("AUTH PLAIN %s", plain("", "alice@x", "nope")); got != "-ERR [AUTH] Authentication failed" {
		t.Fatalf("wrong PLAIN password = %q", got)
	}
	c.expectClosed()

	c = e.dial()
	c.expectOK(c.cmd("USER throttled@x"))
	if got := c.cmd("PASS whatever"); !strings.HasPrefix(got, "-ERR [SYS/TEMP]") {
		t.Fatalf("throttled login = %q", got)
	}
	// An authzid naming someone else is a failed login.
	if got := c.cmd("AUTH PLAIN %s", plain("bob@x", "alice@x", "secret")); got != "-ERR [AUTH] Authentication failed" {
		t.Fatalf("foreign authzid = %q", got)
	}
	if !strings.Contains(e.logs.String(), "login failed") || strings.Contains(e.logs.String(), "nope") {
		t.Errorf("logs:\n%s", e.logs.String())
	}
}

func TestAuthPlain(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	c.expectOK(c.cmd("AUTH"))
	if got := c.lines(); !slices.Equal(got, []string{"PLAIN"}) {
		t.Fatalf("AUTH listing = %q", got)
	}
	if got := c.cmd("AUTH CRAM-MD5"); !strings.HasPrefix(got, "-ERR") {
		t.Fatalf("unsupported mechanism = %q", got)
	}
	// Without an initial response: an empty challenge, then "*" cancels.
	if got := c.cmd("AUTH PLAIN"); got != "+ " {
		t.Fatalf("challenge = %q", got)
	}
	if got := c.cmd("*"); !strings.HasPrefix(got, "-ERR") {
		t.Fatalf("cancel = %q", got)
	}
	if got := c.cmd("AUTH PLAIN"); got != "+ " {
		t.Fatalf("challenge = %q", got)
	}
	if got := c.cmd("%s", "not base64!"); !strings.HasPrefix(got, "-ERR") {
		t.Fatalf("bad base64 = %q", got)
	}
	if got := c.cmd("AUTH PLAIN"); got != "+ " {
		t.Fatalf("challenge = %q", got)
	}
	// A password with spaces, the response over the command-line limit's
	// worth of characters is fine on the continuation line.
	c.expectOK(c.cmd("%s", plain("", "bob@x", "pass word")))
	c.expectOK(c.cmd("STAT"))
	c.expectOK(c.cmd("QUIT"))

	c = e.dial()
	c.expectOK(c.cmd("AUTH PLAIN %s", plain("alice@x", "ALICE@x", "secret")))
	if got := c.cmd("STAT"); !strings.HasPrefix(got, "+OK 3 ") {
		t.Fatalf("STAT = %q", got)
	}
	if got := c.cmd("AUTH PLAIN %s", plain("", "alice@x", "secret")); !strings.HasPrefix(got, "-ERR") {
		t.Fatalf("AUTH in TRANSACTION = %q", got)
	}
}

func TestPassWithSpaces(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	c.login("bob@x", "pass word") // RFC 1939 §7: the whole rest of the line
	c.expectOK(c.cmd("STAT"))
}

func TestLockContention(t *testing.T) {
	e := seeded(t)
	a := e.dial()
	a.login("alice@x", "secret")
	b := e.dial()
	b.expectOK(b.cmd("USER alice@x"))
	if got := b.cmd("PASS secret"); !strings.HasPrefix(got, "-ERR [IN-USE]") {
		t.Fatalf("second login = %q", got)
	}
	// Another account is not blocked.
	o := e.dial()
	o.login("bob@x", "pass word")
	// b stays in AUTHORIZATION and may try again once a has quit.
	a.expectOK(a.cmd("QUIT"))
	a.expectClosed()
	e.waitUnlocked(1)
	b.login("alice@x", "secret")
	b.expectOK(b.cmd("STAT"))
}

func TestPlaintextRefused(t *testing.T) {
	e := startServer(t, func(c *Config) { c.AllowPlaintext = nil })
	c := e.dial()
	c.expectOK(c.cmd("CAPA"))
	capa := c.lines()
	for _, no := range []string{"USER", "SASL PLAIN", "STLS"} {
		if slices.Contains(capa, no) {
			t.Errorf("CAPA without TLS lists %q: %q", no, capa)
		}
	}
	if !slices.Contains(capa, "RESP-CODES") || !slices.Contains(capa, "UIDL") {
		t.Errorf("CAPA = %q", capa)
	}
	for _, cmd := range []string{"USER alice@x", "PASS secret", "AUTH PLAIN " + plain("", "alice@x", "secret")} {
		if got := c.cmd("%s", cmd); !strings.HasPrefix(got, "-ERR [SYS/PERM]") {
			t.Errorf("%s without TLS = %q", strings.Fields(cmd)[0], got)
		}
	}
	c.expectOK(c.cmd("AUTH"))
	if got := c.lines(); len(got) != 0 {
		t.Errorf("AUTH listing without TLS = %q", got)
	}
	if got := c.cmd("STLS"); !strings.HasPrefix(got, "-ERR") {
		t.Errorf("STLS without TLS config = %q", got)
	}
}

func TestSTLS(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	e := startServer(t, func(c *Config) { c.AllowPlaintext = nil; c.TLS = srvTLS })
	e.store.add(1, msgA)
	c := e.dial()
	c.expectOK(c.cmd("CAPA"))
	capa := c.lines()
	if !slices.Contains(capa, "STLS") || slices.Contains(capa, "USER") {
		t.Fatalf("CAPA before TLS = %q", capa)
	}
	if got := c.cmd("USER alice@x"); !strings.Contains(got, "STLS") {
		t.Fatalf("USER before TLS = %q", got)
	}
	// A command pipelined with STLS must not run after the handshake
	// (RFC 2595 §4, CVE-2011-0411): if QUIT ran, CAPA would get no reply.
	c.send("STLS\r\nQUIT\r\n")
	c.expectOK(c.line())
	if c.r.Buffered() != 0 {
		t.Fatal("server sent more than the STLS reply")
	}
	tc := tls.Client(c.conn, cliTLS)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	c.expectOK(c.cmd("CAPA"))
	capa = c.lines()
	if slices.Contains(capa, "STLS") || !slices.Contains(capa, "USER") || !slices.Contains(capa, "SASL PLAIN") {
		t.Fatalf("CAPA after TLS = %q", capa)
	}
	if got := c.cmd("STLS"); !strings.HasPrefix(got, "-ERR") {
		t.Fatalf("second STLS = %q", got)
	}
	c.login("alice@x", "secret")
	c.expectOK(c.cmd("CAPA"))
	if capa := c.lines(); !slices.Contains(capa, "USER") || slices.Contains(capa, "STLS") {
		t.Fatalf("CAPA after login = %q", capa)
	}
	c.expectOK(c.cmd("RETR 1"))
	if got := c.rawBody(); got != msgA {
		t.Fatalf("RETR over TLS = %q", got)
	}
	c.expectOK(c.cmd("QUIT"))
}

func TestImplicitTLS(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	fs := newFakeStore()
	fs.add(1, msgA)
	cfg := Config{
		TLS:   srvTLS,
		Auth:  &fakeAuth{users: map[string]fakeUser{"alice@x": {1, "secret"}}},
		Store: fs,
	}
	e := startWith(t, cfg, fs, &syncBuffer{}, true)
	tc, err := tls.Dial("tcp", e.addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := &client{t: t, conn: tc, r: bufio.NewReader(tc)}
	c.expectOK(c.line())
	c.expectOK(c.cmd("CAPA"))
	if capa := c.lines(); slices.Contains(capa, "STLS") || !slices.Contains(capa, "USER") {
		t.Fatalf("CAPA on implicit TLS = %q", capa)
	}
	c.login("alice@x", "secret")
	c.expectOK(c.cmd("STAT"))
}

func TestMaxConnsPerIP(t *testing.T) {
	e := startServer(t, func(c *Config) { c.MaxConnsPerIP = 2 })
	a, b := e.dial(), e.dial()
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	if got := c.line(); !strings.HasPrefix(got, "-ERR [SYS/TEMP]") {
		t.Fatalf("third connection = %q", got)
	}
	c.expectClosed()
	a.expectOK(a.cmd("QUIT"))
	a.expectClosed()
	b.expectOK(b.cmd("CAPA"))
	b.lines()
	// Once a has gone, a new connection is welcome.
	for range 100 {
		n := e.srv.conns.Len()
		if n < 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.dial()
}
