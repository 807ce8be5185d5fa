package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"testing"

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
