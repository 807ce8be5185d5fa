package dkim

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"postern/internal/store"
)

type fakeKeys []store.DKIMKey

func (f fakeKeys) RotateDKIMKeys(context.Context, string, []store.DKIMKey) error { return nil }
func (f fakeKeys) DKIMKeys(_ context.Context, domain string, _ bool) ([]store.DKIMKey, error) {
	if domain != "example.org" {
		return nil, nil
	}
	return f, nil
}

const testMsg = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: hi\r\n" +
	"Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHello  \r\nthere\r\n"

func verify(t *testing.T, keys []store.DKIMKey, msg string) []*dkim.Verification {
	t.Helper()
	txt := map[string]string{}
	for _, k := range keys {
		v, err := TXTRecord(k)
		if err != nil {
			t.Fatal(err)
		}
		txt[RecordName(k, "example.org")] = v
	}
	vs, err := dkim.VerifyWithOptions(strings.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return []string{txt[name]}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestSignVerify(t *testing.T) {
	keys, err := GenerateKeys(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		keys[i].ID = int64(i + 1)
	}
	if len(keys) != 2 || !strings.HasPrefix(keys[0].Selector, "20261127") {
		t.Fatalf("keys %+v", keys)
	}
	s := NewSigner(fakeKeys(keys))
	sig, err := s.Sign(context.Background(), "example.org", []byte(testMsg))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(sig, []byte("DKIM-Signature:")); n != 2 {
		t.Fatalf("%d signatures:\n%s", n, sig)
	}
	for _, want := range []string{"a=ed25519-sha256", "a=rsa-sha256", "c=relaxed/relaxed"} {
		if !bytes.Contains(sig, []byte(want)) {
			t.Fatalf("no %s in\n%s", want, sig)
		}
	}
	signed := string(sig) + testMsg
	vs := verify(t, keys, signed)
	if len(vs) != 2 {
		t.Fatalf("%d verifications", len(vs))
	}
	for _, v := range vs {
		if v.Err != nil {
			t.Fatalf("verification: %v", v.Err)
		}
		if n := strings.Count(strings.ToLower(strings.Join(v.HeaderKeys, ":")), "from"); n != 2 {
			t.Fatalf("From signed %d times: %v", n, v.HeaderKeys)
		}
	}
	// A second From added in transit breaks both (oversigning).
	for _, v := range verify(t, keys, string(sig)+"From: mallory@example.org\r\n"+testMsg) {
		if v.Err == nil {
			t.Fatal("added From still verifies")
		}
	}
	// Trailing spaces changed: relaxed body canonicalisation keeps it valid.
	for _, v := range verify(t, keys, strings.Replace(signed, "Hello  ", "Hello", 1)) {
		if v.Err != nil {
			t.Fatalf("relaxed body: %v", v.Err)
		}
	}
	if sig, _ := s.Sign(context.Background(), "other.org", []byte(testMsg)); len(sig) != 0 {
		t.Fatal("signed for a domain without keys")
	}
}

func TestTXTAndZone(t *testing.T) {
	keys, err := GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ed, err := TXTRecord(keys[0])
	if err != nil || !strings.HasPrefix(ed, "v=DKIM1; k=ed25519; p=") || len(ed) > 100 {
		t.Fatalf("%q %v", ed, err)
	}
	r, err := TXTRecord(keys[1])
	if err != nil || !strings.HasPrefix(r, "v=DKIM1; k=rsa; p=") {
		t.Fatalf("%q %v", r, err)
	}
	z := ZoneTXT(r)
	if strings.Count(z, `"`) != 4 || strings.ReplaceAll(strings.ReplaceAll(z, `" "`, ""), `"`, "") != r {
		t.Fatalf("zone %s", z)
	}
	bad := keys[0]
	bad.Algorithm = store.DKIMRSA
	if _, err := ParseKey(bad); err == nil {
		t.Fatal("Ed25519 key accepted as RSA")
	}
}
