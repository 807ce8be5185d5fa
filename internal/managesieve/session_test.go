package managesieve

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGreetingCapabilities(t *testing.T) {
	e := startServer(t, func(c *Config) { c.Extensions = "fileinto enotify" })
	c := e.dial()
	for name, want := range map[string]string{
		"IMPLEMENTATION": "Postern",
		"SASL":           "PLAIN",
		"SIEVE":          "fileinto enotify",
		"NOTIFY":         "mailto",
		"MAXREDIRECTS":   "4",
		"VERSION":        "1.0",
		"UNAUTHENTICATE": "",
	} {
		if got, ok := capability(c.greeting, name); !ok || got != want {
			t.Errorf("capability %s = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, absent := range []string{"STARTTLS", "OWNER"} {
		if _, ok := capability(c.greeting, absent); ok {
			t.Errorf("%s advertised: %q", absent, c.greeting)
		}
	}
	// CAPABILITY repeats it, and after login names the owner.
	if data := c.ok("CAPABILITY"); !slices.Equal(data, c.greeting) {
		t.Errorf("CAPABILITY = %q, greeting %q", data, c.greeting)
	}
	c.login("alice@x", "secret")
	if got, _ := capability(c.ok("capability"), "OWNER"); got != "alice@x" {
		t.Errorf("OWNER = %q", got)
	}
	c.expect("CAPABILITY extra", "NO")
	c.ok("LOGOUT")
	c.expectClosed()
}

func TestExtensionsNormalised(t *testing.T) {
	e := startServer(t, nil)
	c := e.dial()
	if got, _ := capability(c.greeting, "SIEVE"); got != "fileinto reject envelope" {
		t.Errorf("SIEVE = %q", got)
	}
	if _, ok := capability(c.greeting, "NOTIFY"); ok {
		t.Error("NOTIFY without enotify")
	}
}

func TestNoop(t *testing.T) {
	e := startServer(t, nil)
	c := e.dial()
	if got := c.expect("NOOP", "OK"); got != `OK "Done"` {
		t.Errorf("NOOP = %q", got)
	}
	if got := c.expect(`NOOP "STARTTLS-RESYNC-CAPA"`, "OK"); got != `OK (TAG "STARTTLS-RESYNC-CAPA") "Done"` {
		t.Errorf("NOOP tag = %q", got)
	}
	if got := c.expect("NOOP {3+}\r\na\"b", "OK"); got != `OK (TAG "a\"b") "Done"` {
		t.Errorf("NOOP literal tag = %q", got)
	}
	c.expect("NOOP atom", "NO")
	c.expect(`NOOP "a" "b"`, "NO")
}

func TestAuthenticatePlain(t *testing.T) {
	e := startServer(t, nil)
	for _, tc := range []struct {
		name string
		send func(c *client) string
	}{
		{"quoted initial response", func(c *client) string {
			_, f := c.cmd(`AUTHENTICATE "PLAIN" "` + plainB64("alice@x", "secret") + `"`)
			return f
		}},
		{"literal initial response", func(c *client) string {
			b := plainB64("alice@x", "secret")
			_, f := c.cmd(fmt.Sprintf("AUTHENTICATE \"PLAIN\" {%d+}\r\n%s", len(b), b))
			return f
		}},
		{"atom mechanism, lower case", func(c *client) string {
			_, f := c.cmd(`AUTHENTICATE plain "` + plainB64("ALICE@x", "secret") + `"`)
			return f
		}},
		{"continuation, quoted", func(c *client) string {
			c.send("AUTHENTICATE \"PLAIN\"\r\n")
			if ch := c.line(); ch != `""` {
				t.Fatalf("challenge %q", ch)
			}
			_, f := c.cmd(`"` + plainB64("alice@x", "secret") + `"`)
			return f
		}},
		{"continuation, literal", func(c *client) string {
			c.send("AUTHENTICATE \"PLAIN\"\r\n")
			c.line()
			b := plainB64("alice@x", "secret")
			_, f := c.cmd(fmt.Sprintf("{%d+}\r\n%s", len(b), b))
			return f
		}},
		{"password with spaces", func(c *client) string {
			_, f := c.cmd(`AUTHENTICATE "PLAIN" "` + plainB64("bob@x", "pass word") + `"`)
			return f
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial()
			if f := tc.send(c); f != `OK "Logged in"` {
				t.Fatalf("got %q", f)
			}
			c.ok("LISTSCRIPTS")
			c.expect(`AUTHENTICATE "PLAIN" "`+plainB64("alice@x", "secret")+`"`, "NO")
		})
	}
	if !strings.Contains(e.logs.String(), "user=alice@x mech=PLAIN") {
		t.Errorf("no login line in the log:\n%s", e.logs)
	}
	if strings.Contains(e.logs.String(), "secret") || strings.Contains(e.logs.String(), plainB64("alice@x", "secret")) {
		t.Errorf("password in the log:\n%s", e.logs)
	}
}

func TestAuthenticateFailures(t *testing.T) {
	e := startServer(t, nil)
	c := e.dial()
	// Script commands need a login first.
	c.expect("LISTSCRIPTS", `NO "Authenticate first"`)
	c.expect(`AUTHENTICATE "PLAIN" "`+plainB64("broken@x", "x")+`"`, "NO (TRYLATER)")
	c.expect(`AUTHENTICATE "PLAIN" "!!!"`, `NO "Invalid SASL PLAIN response"`)
	c.expect(`AUTHENTICATE "PLAIN" ""`, `NO "Invalid SASL PLAIN response"`)
	c.expect(`AUTHENTICATE "CRAM-MD5"`, `NO "Unsupported authentication mechanism"`)
	c.expect(`AUTHENTICATE`, "NO")
	// The client cancels with "*".
	c.send("AUTHENTICATE \"PLAIN\"\r\n")
	c.line()
	c.expect(`"*"`, `NO "Authentication aborted"`)
	// A continuation that is not a string.
	c.send("AUTHENTICATE \"PLAIN\"\r\n")
	c.line()
	c.expect(`atom`, `NO "Invalid SASL response`)
	// Acting as someone else is a failed login.
	authz := "Ym9iQHgAYWxpY2VAeABzZWNyZXQ=" // bob@x \0 alice@x \0 secret
	c.expect(`AUTHENTICATE "PLAIN" "`+authz+`"`, `NO "Authentication failed"`)
	c.expect(`AUTHENTICATE "PLAIN" "`+plainB64("throttled@x", "x")+`"`, "NO (TRYLATER)")
	// The third failure ends the session.
	c.expect(`AUTHENTICATE "PLAIN" "`+plainB64("alice@x", "wrong")+`"`, `BYE "Too many failed authentications"`)
	c.expectClosed()
	if !strings.Contains(e.logs.String(), "login failed") {
		t.Errorf("no failure in the log:\n%s", e.logs)
	}
}

func TestUnauthenticate(t *testing.T) {
	e := startServer(t, nil)
	c := e.dial()
	c.expect("UNAUTHENTICATE", "NO")
	c.login("alice@x", "secret")
	c.ok(`PUTSCRIPT "a" "keep;"`)
	c.ok("UNAUTHENTICATE")
	c.expect("LISTSCRIPTS", "NO")
	if _, ok := capability(c.ok("CAPABILITY"), "OWNER"); ok {
		t.Error("OWNER after UNAUTHENTICATE")
	}
	c.login("bob@x", "pass word")
	if data := c.ok("LISTSCRIPTS"); len(data) != 0 {
		t.Errorf("bob sees alice's scripts: %q", data)
	}
}

func TestPlaintextRefused(t *testing.T) {
	e := startTLSServer(t, false, nil)
	c := e.dial()
	if got, ok := capability(c.greeting, "SASL"); !ok || got != "" {
		t.Errorf("SASL before TLS = %q, %v; want empty", got, ok)
	}
	if _, ok := capability(c.greeting, "STARTTLS"); !ok {
		t.Error("STARTTLS not advertised")
	}
	c.expect(`AUTHENTICATE "PLAIN" "`+plainB64("alice@x", "secret")+`"`, "NO (ENCRYPT-NEEDED)")
	c.send("AUTHENTICATE \"PLAIN\"\r\n")
	if _, f := c.resp(); !strings.HasPrefix(f, "NO (ENCRYPT-NEEDED)") {
		t.Errorf("AUTHENTICATE without TLS: %q", f)
	}
}

func TestSTARTTLS(t *testing.T) {
	e := startTLSServer(t, false, nil)
	c := e.dial()
	// Bytes pipelined after STARTTLS must not run as commands inside TLS
	// (RFC 5804 §2.2; CVE-2011-0411 class).
	c.send("STARTTLS\r\nNOOP \"injected\"\r\n")
	if l := c.line(); !strings.HasPrefix(l, "OK") {
		t.Fatalf("STARTTLS: %q", l)
	}
	c.startTLS(e.tlsConf)
	// The server speaks first with the capabilities (RFC 5804 §2.2).
	data, final := c.resp()
	if !strings.HasPrefix(final, "OK") || strings.Contains(final, "injected") {
		t.Fatalf("after TLS: %q, %q", data, final)
	}
	if got, _ := capability(data, "SASL"); got != "PLAIN" {
		t.Errorf("SASL under TLS = %q", got)
	}
	if _, ok := capability(data, "STARTTLS"); ok {
		t.Error("STARTTLS advertised under TLS")
	}
	if got := c.expect(`NOOP "after"`, "OK"); !strings.Contains(got, "after") {
		t.Fatalf("NOOP after TLS = %q (was the injected one run?)", got)
	}
	c.expect("STARTTLS", "NO")
	c.login("alice@x", "secret")
	if !strings.Contains(e.logs.String(), "pipelined after STARTTLS discarded") {
		t.Errorf("dropped bytes not logged:\n%s", e.logs)
	}
	if !strings.Contains(e.logs.String(), "tls=true") {
		t.Errorf("login not logged as TLS:\n%s", e.logs)
	}
}

func TestSTARTTLSNotConfigured(t *testing.T) {
	e := startServer(t, nil)
	c := e.dial()
	c.expect("STARTTLS", "NO")
	c.login("alice@x", "secret")
	c.expect("STARTTLS", "NO")
}

func TestImplicitTLS(t *testing.T) {
	e := startTLSServer(t, true, nil)
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn}
	c.startTLS(e.tlsConf)
	data, final := c.resp()
	if !strings.HasPrefix(final, "OK") {
		t.Fatalf("greeting %q", final)
	}
	if _, ok := capability(data, "STARTTLS"); ok {
		t.Error("STARTTLS on implicit TLS")
	}
	c.login("alice@x", "secret")
}

func TestUnknownAndBadCommands(t *testing.T) {
	e := startServer(t, nil)
	c := e.dial()
	c.expect("FROB", `NO "Unknown command"`)
	c.expect("", `NO "Empty command"`)
	c.expect(`"QUOTED"`, "NO")
	c.expect("NOOP \"unterminated", `NO "Unterminated quoted string"`)
	c.expect(`NOOP "bad \n escape"`, `NO "Invalid escape in quoted string"`)
	c.expect("NOOP (x)", "NO")
	c.expect("NOOP {x}", `NO "Invalid literal size"`)
	c.expect(`NOOP "a""b"`, "NO")
	c.expect("NOOP "+strings.Repeat("x", maxLine), `NO "Line too long"`)
	// Nine mistakes so far; the session still works.
	c.expect("NOOP", "OK")
	c.expect("FROB", "BYE")
	c.expectClosed()
	if !strings.Contains(e.logs.String(), "too many bad commands") {
		t.Errorf("not logged:\n%s", e.logs)
	}
}

func TestLiteralLimits(t *testing.T) {
	e := startServer(t, func(c *Config) { c.MaxScriptSize = 1000 })
	c := e.dial()
	c.login("alice@x", "secret")
	// Too large but within what the server discards: read and thrown
	// away, the session stays in step.
	big := strings.Repeat("k", 10000)
	c.expect(fmt.Sprintf("PUTSCRIPT \"big\" {%d+}\r\n%s", len(big), big), "NO (QUOTA/MAXSIZE)")
	c.expect("NOOP", "OK")
	if _, ok := e.scripts.get(1, "big"); ok {
		t.Fatal("oversized script stored")
	}
	// The limit is on the whole command.
	half := strings.Repeat("k", 5000)
	c.expect(fmt.Sprintf("PUTSCRIPT {5000+}\r\n%s {5000+}\r\n%s", half, half), "NO (QUOTA/MAXSIZE)")
	c.expect("NOOP", "OK")
	// Within the command limit but over MaxScriptSize, PUTSCRIPT refuses.
	over := strings.Repeat("k", 1001)
	c.expect(fmt.Sprintf("PUTSCRIPT \"o\" {1001+}\r\n%s", over), "NO (QUOTA/MAXSIZE)")
	exact := strings.Repeat("#", 1000)
	c.ok(fmt.Sprintf("PUTSCRIPT {5+}\r\nexact {1000+}\r\n%s", exact))
	// HAVESPACE says the same without the upload.
	c.expect(`HAVESPACE "big" 1001`, "NO (QUOTA/MAXSIZE)")
	c.ok(`HAVESPACE "big" 1000`)
	// Beyond the discard limit the session ends at once.
	c.expect("PUTSCRIPT \"huge\" {999999999999+}", "BYE (QUOTA/MAXSIZE)")
	c.expectClosed()
}

func TestSynchronizingLiteralNeverSent(t *testing.T) {
	e := startServer(t, func(c *Config) { c.IdleTimeout = 200 * time.Millisecond })
	c := e.dial()
	c.login("alice@x", "secret")
	// A client waiting for a continuation that never comes: the server
	// waits for the octets, then times out; nothing was buffered.
	c.send("PUTSCRIPT \"s\" {100}\r\n")
	_, final := c.resp()
	if !strings.HasPrefix(final, "BYE") {
		t.Fatalf("got %q", final)
	}
	c.expectClosed()
	if !strings.Contains(e.logs.String(), "idle timeout") {
		t.Errorf("no idle timeout logged:\n%s", e.logs)
	}
}

func TestPerIPLimit(t *testing.T) {
	e := startServer(t, func(c *Config) { c.MaxConnsPerIP = 2 })
	a, b := e.dial(), e.dial()
	third := e.dialRaw()
	if l := third.line(); !strings.HasPrefix(l, "BYE (TRYLATER)") {
		t.Fatalf("third connection got %q", l)
	}
	third.expectClosed()
	a.ok("LOGOUT")
	a.expectClosed()
	// The slot is freed once the session ends.
	for i := 0; ; i++ {
		c := e.dialRaw()
		if l := c.line(); strings.HasPrefix(l, `"IMPLEMENTATION"`) {
			break
		}
		if i > 50 {
			t.Fatal("slot never freed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ok("NOOP")
}

func TestPipelining(t *testing.T) {
	e := startServer(t, nil)
	c := e.dial()
	c.send(`AUTHENTICATE "PLAIN" "` + plainB64("alice@x", "secret") + "\"\r\n" +
		"PUTSCRIPT \"p\" {5+}\r\nkeep;\r\nSETACTIVE \"p\"\r\nLISTSCRIPTS\r\n")
	for _, want := range []string{"OK", "OK", "OK"} {
		if _, f := c.resp(); !strings.HasPrefix(f, want) {
			t.Fatalf("got %q", f)
		}
	}
	if data, _ := c.resp(); !slices.Equal(data, []string{`"p" ACTIVE`}) {
		t.Fatalf("LISTSCRIPTS = %q", data)
	}
}
