package dane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"postern/internal/queue/queuetest"
)

func TestVerify(t *testing.T) {
	cert, _, err := queuetest.SelfSigned("mx.example.test")
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	chain := []*x509.Certificate{leaf}
	spki256 := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	full512 := sha512.Sum512(leaf.Raw)
	names := []string{"mx.example.test"}
	for _, tc := range []struct {
		name  string
		recs  []TLSA
		names []string
		ok    bool
	}{
		{"EE spki sha256", []TLSA{{3, 1, 1, spki256[:]}}, names, true},
		{"EE cert sha512", []TLSA{{3, 0, 2, full512[:]}}, names, true},
		{"EE cert full", []TLSA{{3, 0, 0, leaf.Raw}}, names, true},
		{"EE ignores the name", []TLSA{{3, 1, 1, spki256[:]}}, []string{"other.test"}, true},
		{"EE mismatch", []TLSA{{3, 1, 1, make([]byte, 32)}}, names, false},
		{"TA self-signed, name matches", []TLSA{{2, 1, 1, spki256[:]}}, names, true},
		{"TA, wrong name", []TLSA{{2, 1, 1, spki256[:]}}, []string{"other.test"}, false},
		{"second record matches", []TLSA{{3, 1, 1, make([]byte, 32)}, {3, 1, 1, spki256[:]}}, names, true},
	} {
		err := Verify(tc.recs, chain, tc.names)
		if (err == nil) != tc.ok {
			t.Errorf("%s: Verify = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if err := Verify([]TLSA{{3, 1, 1, make([]byte, 32)}}, chain, names); !errors.Is(err, ErrNoMatch) {
		t.Errorf("mismatch error %v, want ErrNoMatch", err)
	}
}

func TestUsable(t *testing.T) {
	got := Usable([]TLSA{{0, 0, 1, nil}, {1, 1, 1, nil}, {2, 0, 1, nil}, {3, 1, 2, nil}, {3, 2, 1, nil}, {3, 1, 3, nil}})
	if len(got) != 2 || got[0].Usage != 2 || got[1].Usage != 3 {
		t.Fatalf("Usable = %v", got)
	}
}

// TestVerifyTrustAnchorChain: DANE-TA names a CA of the presented chain;
// the leaf it issued must carry the MX name.
func TestVerifyTrustAnchorChain(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mx.example.test"},
		DNSNames: []string{"mx.example.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, _ := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	leaf, _ := x509.ParseCertificate(leafDER)
	chain := []*x509.Certificate{leaf, ca}
	caSum := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	ta := []TLSA{{2, 1, 1, caSum[:]}}
	if err := Verify(ta, chain, []string{"mx.example.test"}); err != nil {
		t.Fatalf("TA chain: %v", err)
	}
	if err := Verify(ta, chain, []string{"other.example.test"}); err == nil {
		t.Fatal("TA chain accepted for another name")
	}
	if err := Verify(ta, []*x509.Certificate{leaf}, []string{"mx.example.test"}); err == nil {
		t.Fatal("TA accepted without the CA in the chain")
	}
	// A DANE-EE record of the CA's key does not vouch for the leaf.
	if err := Verify([]TLSA{{3, 1, 1, caSum[:]}}, chain, []string{"mx.example.test"}); err == nil {
		t.Fatal("EE record of the CA accepted")
	}
}
