package authcheck

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// arcVerifyPy verifies a chain with dkimpy, the key records given as
// arguments (name=record), and prints the chain status.
const arcVerifyPy = `
import sys, dkim
recs = dict(a.split("=", 1) for a in sys.argv[1:])
def dns(name, timeout=5):
    return recs.get(name.decode().rstrip("."), "").encode() or None
cv, results, comment = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=dns)
print(cv.decode(), comment)
`

func TestSealVerifiesHereAndInDkimpy(t *testing.T) {
	e := newEnv(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	rsaRec := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edRec := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edPub)
	e.dns.Add(t, `r._domainkey.fwd1.test. 300 TXT "`+rsaRec[:200]+`" "`+rsaRec[200:]+`"`,
		`e._domainkey.fwd2.test. 300 TXT "`+edRec+`"`, `r._domainkey.fwd2.test. 300 TXT "`+rsaRec[:200]+`" "`+rsaRec[200:]+`"`)

	seal := func(msg []byte, domain, sel string, key crypto.Signer, chain string) []byte {
		t.Helper()
		set, err := Seal(msg, SealOptions{Domain: domain, Selector: sel, Key: key, Chain: chain,
			AuthServID: "mx." + domain, Results: "spf=pass smtp.mailfrom=a@origin.test;\r\n\tdkim=none", Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return append(set, msg...)
	}
	orig := message("<a@origin.test>")
	hop1 := seal(orig, "fwd1.test", "r", rsaKey, "none")
	hop2 := seal(hop1, "fwd2.test", "r", rsaKey, "pass")
	for name, msg := range map[string][]byte{"one seal": hop1, "two seals": hop2} {
		if v := e.check("127.0.0.1", "x@origin.test", msg); !strings.Contains(v.Header, "arc=pass") {
			t.Errorf("%s: %q; want arc=pass", name, v.Header)
		}
	}
	edHop := seal(hop1, "fwd2.test", "e", edKey, "pass")
	if v := e.check("127.0.0.1", "x@origin.test", edHop); !strings.Contains(v.Header, "arc=pass") {
		t.Errorf("Ed25519 seal: %q; want arc=pass", v.Header)
	}
	if _, err := Seal(hop1, SealOptions{Domain: "x.test", Selector: "r", Key: rsaKey, Chain: "fail"}); err == nil {
		t.Errorf("a failed chain was sealed")
	}

	// dkimpy, an independent implementation, agrees on the RSA chain.
	cmd := exec.Command("/usr/bin/python3", "-c", arcVerifyPy,
		"r._domainkey.fwd1.test="+rsaRec, "r._domainkey.fwd2.test="+rsaRec)
	cmd.Stdin = bytes.NewReader(hop2)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "pass") {
		t.Errorf("dkimpy arc_verify: %v\n%s", err, out)
	}
}
