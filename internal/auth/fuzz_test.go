package auth

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzParsePHC checks that no stored string makes the PHC parser panic or
// accept parameters outside our limits, and that what it accepts encodes
// back to the same string.
func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePHC(s)
		if err != nil {
			return
		}
		if p.memory > maxArgonMemory || p.time > maxArgonTime || p.threads > maxArgonThreads ||
			p.time == 0 || p.threads == 0 || p.memory < 8*uint32(p.threads) ||
			len(p.salt) < minArgonSaltLen || len(p.key) < minArgonKeyLen {
			t.Fatalf("accepted out-of-range parameters from %q", s)
		}
		if p.String() != s {
			t.Fatalf("%q parsed but encodes as %q", s, p.String())
		}
	})
}

// FuzzParseSCRAM is the same for stored SCRAM keys.
func FuzzParseSCRAM(f *testing.F) {
	f.Add("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" +
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("SCRAM-SHA-256$16384:c2FsdA==$a2V5:a2V5")
	f.Add("SCRAM-SHA-256$:$:")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseSCRAM(s)
		if err != nil {
			return
		}
		if k.Iterations < minSCRAMIterations || k.Iterations > maxSCRAMIterations ||
			len(k.StoredKey) != 32 || len(k.ServerKey) != 32 || len(k.Salt) < minSCRAMSaltLen {
			t.Fatalf("accepted out-of-range keys from %q", s)
		}
		if k.String() != s {
			t.Fatalf("%q parsed but encodes as %q", s, k.String())
		}
	})
}

// FuzzDecodePlain checks the SASL PLAIN decoder against its contract:
// accepted responses have a non-empty user and password, no NUL anywhere,
// and an authzid that is empty or the user.
func FuzzDecodePlain(f *testing.F) {
	for _, s := range []string{"\x00alice@example.org\x00pw", "a\x00a\x00b", "\x00\x00", "x\x00y\x00z\x00", "\x00u\x00p\xff"} {
		f.Add(base64.StdEncoding.EncodeToString([]byte(s)))
	}
	f.Add("=")
	f.Add("AGFsaWNlAHB3")
	f.Fuzz(func(t *testing.T, in string) {
		authz, user, pass, err := DecodePlain(in)
		if err != nil {
			if user != "" || pass != "" || authz != "" {
				t.Fatal("values returned with an error")
			}
			return
		}
		if user == "" || pass == "" || strings.ContainsRune(authz+user+pass, 0) {
			t.Fatalf("accepted %q as %q %q %q", in, authz, user, pass)
		}
		if authz != "" && !strings.EqualFold(authz, user) {
			t.Fatalf("accepted authzid %q for user %q", authz, user)
		}
	})
}
