package imapd

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

func testTLSConfig(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		DNSNames:     []string{"mail.example.org"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestStartTLSDiscardsPipelinedInput(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.TLS = testTLSConfig(t)
		c.AllowPlaintext = nil
	})
	rc := env.dial()
	rc.send("t0 CAPABILITY")
	if lines := rc.expectTagged("t0", "OK"); !contains(lines, "STARTTLS") || !contains(lines, "LOGINDISABLED") {
		t.Fatalf("capabilities: %q", lines)
	}
	// An attacker's injected command rides in the same packet as STARTTLS.
	rc.send("t1 STARTTLS\r\nt2 LOGIN " + testUser + " " + testPass)
	rc.expectTagged("t1", "OK")
	tc := tls.Client(rc.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	sec := &rawConn{t: t, c: tc, br: bufio.NewReader(tc)}
	sec.send("t3 CAPABILITY")
	lines := sec.expectTagged("t3", "OK")
	if contains(lines, "t2 ") || contains(lines, "STARTTLS") || !contains(lines, "AUTH=PLAIN") {
		t.Fatalf("after STARTTLS: %q", lines)
	}
	sec.send("t4 LOGIN " + testUser + " " + testPass)
	sec.expectTagged("t4", "OK")
}

func TestImplicitTLSWithClient(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.TLS = testTLSConfig(t) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go env.srv.Serve(l, true)
	c, err := imapclient.DialTLS(l.Addr().String(), &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownSaysBye(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	idler := env.login()
	idler.send("i1 SELECT INBOX")
	idler.expectTagged("i1", "OK")
	idler.send("i2 IDLE")
	idler.expectPrefix("+ ")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := env.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rc.expectPrefix("* BYE")
	idler.expectPrefix("* BYE")
	if _, err := net.Dial("tcp", env.addr); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}
