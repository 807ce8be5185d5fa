package managesieve

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"postern/internal/auth"
	"postern/internal/store"
)

// dirOne is an auth.Directory with one account.
type dirOne struct{ acct store.Account }

func (d dirOne) Account(_ context.Context, address string) (store.Account, error) {
	if address != d.acct.Address {
		return store.Account{}, store.ErrNotFound
	}
	return d.acct, nil
}

func (dirOne) AppPasswords(context.Context, int64) ([]store.AppPassword, error) { return nil, nil }

func (dirOne) TouchAppPassword(context.Context, int64, time.Time) error { return nil }

func (dirOne) RehashPassword(context.Context, int64, string, string) (bool, error) { return false, nil }

func scramEnv(t *testing.T, tlsOn bool) *testEnv {
	t.Helper()
	cred, err := auth.HashPassword("s3cret pw")
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.New(dirOne{store.Account{ID: 7, Address: "carol@x", Credentials: cred}},
		auth.Options{FailureDelay: -1}, nil)
	mod := func(c *Config) {
		c.Auth = svc
		c.SCRAM = svc
	}
	if tlsOn {
		return startTLSServer(t, true, mod)
	}
	return startServer(t, mod)
}

var saslCode = regexp.MustCompile(`^OK \(SASL "([^"]*)"\)`)

// runSCRAM authenticates with SCRAM-SHA-256[-PLUS]; the initial response
// goes inline or after an empty challenge.
func runSCRAM(t *testing.T, c *client, mech string, conv *scram.ClientConversation, inline bool) string {
	t.Helper()
	c1, err := conv.Step("")
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	if inline {
		c.send(fmt.Sprintf("AUTHENTICATE %q %q\r\n", mech, b64([]byte(c1))))
	} else {
		c.send(fmt.Sprintf("AUTHENTICATE %q\r\n", mech))
		if l := c.line(); l != `""` {
			t.Fatalf("first challenge %q", l)
		}
		// As a literal, the way sieve-connect answers.
		r := b64([]byte(c1))
		c.send(fmt.Sprintf("{%d+}\r\n%s\r\n", len(r), r))
	}
	l := c.line()
	s1, err := base64.StdEncoding.DecodeString(strings.Trim(l, `"`))
	if err != nil {
		return l
	}
	c2, err := conv.Step(string(s1))
	if err != nil {
		t.Fatal(err)
	}
	_, final := c.cmd(`"` + b64([]byte(c2)) + `"`)
	m := saslCode.FindStringSubmatch(final)
	if m == nil {
		return final
	}
	s2, _ := base64.StdEncoding.DecodeString(m[1])
	if _, err := conv.Step(string(s2)); err != nil || !conv.Valid() {
		t.Fatalf("server-final %q not valid: %v", s2, err)
	}
	return "OK"
}

func TestSCRAM(t *testing.T) {
	e := scramEnv(t, false)
	c := e.dial()
	if got, _ := capability(c.greeting, "SASL"); got != "SCRAM-SHA-256 PLAIN" {
		t.Fatalf("SASL = %q", got)
	}
	cl, _ := scram.SHA256.NewClient("carol@x", "s3cret pw", "")
	if got := runSCRAM(t, c, "SCRAM-SHA-256", cl.NewConversation(), true); got != "OK" {
		t.Fatalf("inline SCRAM: %q", got)
	}
	if got, _ := capability(c.ok("CAPABILITY"), "OWNER"); got != "carol@x" {
		t.Fatalf("OWNER %q", got)
	}
	c = e.dial()
	if got := runSCRAM(t, c, "SCRAM-SHA-256", cl.NewConversation(), false); got != "OK" {
		t.Fatalf("SCRAM after empty challenge: %q", got)
	}
	c = e.dial()
	bad, _ := scram.SHA256.NewClient("carol@x", "wrong", "")
	if got := runSCRAM(t, c, "SCRAM-SHA-256", bad.NewConversation(), true); got != `NO "Authentication failed"` {
		t.Fatalf("wrong password: %q", got)
	}
	c.expect(`AUTHENTICATE "SCRAM-SHA-256-PLUS"`, "NO (ENCRYPT-NEEDED)")
	c.expect(`AUTHENTICATE "SCRAM-SHA-256" "!!"`, "NO")
}

func TestSCRAMPlus(t *testing.T) {
	e := scramEnv(t, true)
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn}
	c.startTLS(e.tlsConf)
	data, _ := c.resp()
	if got, _ := capability(data, "SASL"); got != "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN" {
		t.Fatalf("SASL = %q", got)
	}
	cs := c.conn.(*tls.Conn).ConnectionState()
	cb, err := scram.NewTLSExporterBinding(&cs)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := scram.SHA256.NewClient("carol@x", "s3cret pw", "")
	if got := runSCRAM(t, c, "SCRAM-SHA-256-PLUS", cl.NewConversationWithChannelBinding(cb), true); got != "OK" {
		t.Fatalf("SCRAM-PLUS: %q", got)
	}
	if !strings.Contains(e.logs.String(), "mech=SCRAM-SHA-256-PLUS tls=true") {
		t.Errorf("log:\n%s", e.logs)
	}
}
