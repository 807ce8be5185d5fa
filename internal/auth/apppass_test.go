package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"postern/internal/store"
)

// addApp gives the fixture account address an app password and returns it.
func addApp(t *testing.T, f *fixture, address, name string) string {
	t.Helper()
	acct := f.dir.accounts[address]
	secret, p, err := NewAppPassword(acct, name)
	if err != nil {
		t.Fatal(err)
	}
	p.ID = int64(len(f.dir.apps[acct.ID]) + 100*int(acct.ID))
	f.dir.mu.Lock()
	if f.dir.apps == nil {
		f.dir.apps = map[int64][]store.AppPassword{}
	}
	f.dir.apps[acct.ID] = append(f.dir.apps[acct.ID], p)
	f.dir.mu.Unlock()
	return secret
}

func TestAppPasswordLogin(t *testing.T) {
	f := newFixture(t, Options{})
	f.svc.verify = CheckPassword
	ctx := context.Background()
	phone := addApp(t, f, "alice@example.org", "phone")
	laptop := addApp(t, f, "alice@example.org", "laptop")
	carolApp := addApp(t, f, "carol@example.org", "old")
	if len(phone) != appPasswordSize || strings.Count(phone, "-") != 3 {
		t.Fatalf("generated %q", phone)
	}
	for _, pw := range []string{alicePW, phone, laptop} {
		if _, err := f.svc.Login(ctx, ipA, "alice@example.org", pw); err != nil {
			t.Fatalf("login with %q: %v", pw, err)
		}
	}
	if len(f.dir.touched) != 2 {
		t.Fatalf("last_used recorded %d times, want 2", len(f.dir.touched))
	}
	bad := []struct{ user, pw string }{
		{"bob@example.org", phone},      // another account's app password
		{"carol@example.org", carolApp}, // disabled account
		{"alice@example.org", phone[:len(phone)-1] + "x"},
		{"alice@example.org", strings.ToUpper(phone)},
	}
	for _, b := range bad {
		if _, err := f.svc.Login(ctx, ipB, b.user, b.pw); !errors.Is(err, ErrFailed) {
			t.Fatalf("login %s with %q: %v, want ErrFailed", b.user, b.pw, err)
		}
	}
	if !strings.Contains(f.logs.String(), "app_password=phone") {
		t.Fatal("log does not name the app password used")
	}
	if strings.Contains(f.logs.String(), phone) {
		t.Fatal("log holds an app password")
	}
}

// tlsPair returns the two ends of a finished TLS 1.3 handshake and the
// server certificate.
func tlsPair(t *testing.T) (srv, cli tls.ConnectionState, der []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.example.org"},
		DNSNames: []string{"mx.example.org"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	s := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	c := tls.Client(b, &tls.Config{InsecureSkipVerify: true})
	errc := make(chan error, 1)
	go func() { errc <- s.Handshake() }()
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return s.ConnectionState(), c.ConnectionState(), der
}

// runSCRAM drives a SCRAMServer with an xdg-go/scram client.
func runSCRAM(f *fixture, mech string, cb ChannelBinding, clientCB *scram.ChannelBinding, user, pw string) (store.Account, error) {
	client, err := scram.SHA256.NewClient(user, pw, "")
	if err != nil {
		return store.Account{}, err
	}
	conv := client.NewConversation()
	if clientCB != nil {
		conv = client.NewConversationWithChannelBinding(*clientCB)
	}
	srv := f.svc.NewSCRAMServer(context.Background(), ipA, mech, cb)
	msg, err := conv.Step("")
	for err == nil && !conv.Done() {
		ch, _, serr := srv.Next([]byte(msg))
		if serr != nil {
			return store.Account{}, serr
		}
		msg, err = conv.Step(string(ch))
	}
	if err == nil {
		if _, done, serr := srv.Next(nil); serr != nil || !done {
			return store.Account{}, fmt.Errorf("end of exchange: %v %v", done, serr)
		}
	}
	if err != nil {
		return store.Account{}, err
	}
	if !conv.Valid() {
		return store.Account{}, errors.New("server signature not valid")
	}
	return srv.Account, nil
}

func TestSCRAMServer(t *testing.T) {
	f := newFixture(t, Options{})
	keys, err := NewSCRAMKeys(alicePW)
	if err != nil {
		t.Fatal(err)
	}
	a := f.dir.accounts["alice@example.org"]
	a.SCRAMSHA256 = keys.String()
	f.dir.accounts["alice@example.org"] = a
	phone := addApp(t, f, "alice@example.org", "phone")
	srvState, cliState, der := tlsPair(t)
	cb := ChannelBinding{State: &srvState, ServerCert: der}
	exporter, err := scram.NewTLSExporterBinding(&cliState)
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := scram.NewTLSServerEndpointBinding(&cliState)
	if err != nil {
		t.Fatal(err)
	}
	wrong := scram.ChannelBinding{Type: scram.ChannelBindingTLSExporter, Data: make([]byte, 32)}
	cases := []struct {
		name, mech string
		cb         ChannelBinding
		client     *scram.ChannelBinding
		pw         string
		ok         bool
	}{
		{"plain SCRAM, no TLS", MechSCRAM, ChannelBinding{}, nil, alicePW, true},
		{"app password", MechSCRAM, ChannelBinding{}, nil, phone, true},
		{"wrong password", MechSCRAM, ChannelBinding{}, nil, "nope", false},
		{"PLUS tls-exporter", MechSCRAMPlus, cb, &exporter, alicePW, true},
		{"PLUS tls-server-end-point", MechSCRAMPlus, cb, &endpoint, alicePW, true},
		{"PLUS app password", MechSCRAMPlus, cb, &endpoint, phone, true},
		{"PLUS wrong binding", MechSCRAMPlus, cb, &wrong, alicePW, false},
		{"PLUS without binding", MechSCRAMPlus, cb, nil, alicePW, false},
		{"binding on non-PLUS", MechSCRAM, cb, &exporter, alicePW, false},
		{"PLUS without TLS", MechSCRAMPlus, ChannelBinding{}, &exporter, alicePW, false},
	}
	// An authorization identity other than the user is refused.
	client, _ := scram.SHA256.NewClient("alice@example.org", alicePW, "bob@example.org")
	conv := client.NewConversation()
	srv := f.svc.NewSCRAMServer(context.Background(), ipA, MechSCRAM, ChannelBinding{})
	c1, _ := conv.Step("")
	s1, _, err := srv.Next([]byte(c1))
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := conv.Step(string(s1))
	if _, _, err := srv.Next([]byte(c2)); err == nil {
		t.Error("SCRAM with authzid bob as alice succeeded")
	}
	for _, c := range cases {
		acct, err := runSCRAM(f, c.mech, c.cb, c.client, "alice@example.org", c.pw)
		if c.ok && (err != nil || acct.ID != a.ID) {
			t.Errorf("%s: %v (account %d)", c.name, err, acct.ID)
		}
		if !c.ok && err == nil {
			t.Errorf("%s: succeeded", c.name)
		}
	}
}
