package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

// scramLogin runs a whole SCRAM-SHA-256 exchange between an xdg-go/scram
// client and a server whose credential lookup is lookup, and reports
// whether the server accepted the client's proof and the client the
// server's signature.
func scramLogin(t *testing.T, lookup scram.CredentialLookup, user, pass string) (serverValid, clientValid bool) {
	t.Helper()
	client, err := scram.SHA256.NewClient(user, pass, "")
	if err != nil {
		t.Fatal(err)
	}
	server, err := scram.SHA256.NewServer(lookup)
	if err != nil {
		t.Fatal(err)
	}
	cc, sc := client.NewConversation(), server.NewConversation()
	msg, err := cc.Step("")
	for err == nil && !sc.Done() {
		if msg, err = sc.Step(msg); err != nil {
			// The server's error message still goes to the client.
			_, _ = cc.Step(msg)
			break
		}
		msg, err = cc.Step(msg)
	}
	return sc.Valid(), cc.Valid()
}

func TestSCRAMKeysWithXdgScram(t *testing.T) {
	for _, pw := range []string{"correct horse battery", "I\u00ADX pässword"} {
		cred, err := HashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := ParseSCRAM(cred.SCRAMSHA256)
		if err != nil {
			t.Fatal(err)
		}
		if keys.Iterations < 4096 {
			t.Fatalf("iterations %d below RFC 7677 minimum", keys.Iterations)
		}
		lookup := func(u string) (scram.StoredCredentials, error) {
			if u != "alice@example.org" {
				return scram.StoredCredentials{}, errors.New("unknown user")
			}
			return keys.Credentials(), nil
		}
		sv, cv := scramLogin(t, lookup, "alice@example.org", pw)
		if !sv || !cv {
			t.Fatalf("right password %q: server valid %v, client valid %v", pw, sv, cv)
		}
		sv, cv = scramLogin(t, lookup, "alice@example.org", pw+"!")
		if sv || cv {
			t.Fatalf("wrong password accepted: server valid %v, client valid %v", sv, cv)
		}
	}
}

func TestSCRAMMatchesXdgDerivation(t *testing.T) {
	keys, err := NewSCRAMKeys("pencil")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := scram.SHA256.NewClient("user", "pencil", "")
	want, err := c.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(keys.Salt), Iters: keys.Iterations})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.StoredKey, keys.StoredKey) || !bytes.Equal(want.ServerKey, keys.ServerKey) {
		t.Fatal("our keys differ from xdg-go/scram's derivation")
	}
}

// RFC 7677 §3 test vector: user "user", password "pencil", salt
// "W22ZaJ0SNY7soEsUEjb6gQ==", 4096 iterations. Replaying its exchange with
// its nonces must give its client proof and server signature, which checks
// our derivation (including SASLprep) against the RFC itself.
func TestSCRAMRFC7677Vector(t *testing.T) {
	salt, err := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	if err != nil {
		t.Fatal(err)
	}
	got, err := deriveSCRAM("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	// The exchange of RFC 7677 §3, replayed with a fixed server nonce.
	lookup := func(string) (scram.StoredCredentials, error) { return got.Credentials(), nil }
	client, _ := scram.SHA256.NewClient("user", "pencil", "")
	client = client.WithNonceGenerator(func() string { return "rOprNGfwEbeRWgbNEkqO" })
	server, _ := scram.SHA256.NewServer(lookup)
	server = server.WithNonceGenerator(func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" })
	cc, sc := client.NewConversation(), server.NewConversation()
	c1, _ := cc.Step("")
	s1, _ := sc.Step(c1)
	c2, _ := cc.Step(s1)
	s2, err := sc.Step(c2)
	if err != nil {
		t.Fatal(err)
	}
	if c2 != "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=" {
		t.Fatalf("client-final %q differs from RFC 7677", c2)
	}
	if s2 != "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Fatalf("server-final %q differs from RFC 7677", s2)
	}
}

func TestParseSCRAMRoundTrip(t *testing.T) {
	keys, _ := NewSCRAMKeys("pw")
	s := keys.String()
	got, err := ParseSCRAM(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != s || got.Iterations != scramIterations || len(got.Salt) != scramSaltLen {
		t.Fatalf("round trip: %q became %q", s, got.String())
	}
}

func TestParseSCRAMRejects(t *testing.T) {
	keys, _ := NewSCRAMKeys("pw")
	good := keys.String()
	parts := strings.SplitN(strings.TrimPrefix(good, scramPrefix), "$", 2)
	factors, secrets := parts[0], parts[1]
	salt := strings.SplitN(factors, ":", 2)[1]
	bad := []string{
		"",
		"SCRAM-SHA-1$" + factors + "$" + secrets,
		scramPrefix + factors,
		scramPrefix + "4095:" + salt + "$" + secrets,
		scramPrefix + "04096:" + salt + "$" + secrets,
		scramPrefix + "99999999999:" + salt + "$" + secrets,
		scramPrefix + "-1:" + salt + "$" + secrets,
		scramPrefix + ":" + salt + "$" + secrets,
		scramPrefix + "4096:" + "AAAA" + "$" + secrets, // 3-byte salt
		scramPrefix + factors + "$" + strings.Replace(secrets, ":", "", 1),
		scramPrefix + factors + "$" + secrets + "AAAA",
		scramPrefix + factors + "$" + "AAAA:" + strings.SplitN(secrets, ":", 2)[1],
		scramPrefix + factors + "$" + secrets + strings.Repeat("A", maxSCRAMLen),
	}
	for _, s := range bad {
		if _, err := ParseSCRAM(s); !errors.Is(err, ErrBadSCRAM) {
			t.Errorf("ParseSCRAM(%q) = %v, want ErrBadSCRAM", s, err)
		}
	}
}
