package authcheck

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// arcSealPy seals a message read from stdin the way a forwarder does,
// with dkimpy (Debian's python3-dkim, an implementation independent of
// ours): one ARC set per call, from the Authentication-Results of srv_id.
const arcSealPy = `
import sys, dkim
sel, dom, keyfile, srv = [a.encode() for a in sys.argv[1:5]]
msg = sys.stdin.buffer.read()
sig = dkim.arc_sign(msg, sel, dom, open(keyfile, "rb").read(), srv,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
sys.stdout.buffer.write(b"".join(sig) + msg)
`

// dkimpySeal runs arcSealPy.
func dkimpySeal(t *testing.T, keyFile, srv string, msg []byte) []byte {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import dkim").Run(); err != nil {
		t.Fatalf("dkimpy is missing (scripts/deps.sh installs python3-dkim): %v", err)
	}
	cmd := exec.Command(py, "-c", arcSealPy, "arc", "forwarder.test", keyFile, srv)
	cmd.Stdin = bytes.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dkimpy arc_sign: %v\n%s", err, stderr.String())
	}
	return out
}

func TestARCChainFromDkimpy(t *testing.T) {
	e := newEnv(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "arc.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	rec := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	e.dns.Add(t, `arc._domainkey.forwarder.test. 300 TXT "`+rec[:200]+`" "`+rec[200:]+`"`)

	// Two forwarders in turn: the first seals with cv=none, the second
	// with cv=pass over the first.
	orig := bytes.TrimPrefix(message("<a@origin.test>"), []byte("Received: from x by mx.ours.test; Sat, 5 Dec 2026 20:00:00 +0000\r\n"))
	hop1 := dkimpySeal(t, keyFile, "forwarder.test",
		append([]byte("Authentication-Results: forwarder.test; spf=pass smtp.mailfrom=origin.test\r\n"), orig...))
	hop2 := dkimpySeal(t, keyFile, "forwarder.test",
		append([]byte("Authentication-Results: forwarder.test; arc=pass\r\n"), hop1...))
	if !bytes.Contains(hop2, []byte("i=2")) {
		t.Fatalf("dkimpy made no second instance:\n%s", hop2)
	}
	for name, c := range map[string]struct {
		msg  []byte
		want string
	}{
		"one hop":        {hop1, "arc=pass"},
		"two hops":       {hop2, "arc=pass"},
		"body changed":   {bytes.Replace(hop2, []byte("Hello there."), []byte("Hello thera."), 1), "arc=fail (message signature 2"},
		"subject edited": {bytes.Replace(hop2, []byte("Subject: hello"), []byte("Subject: hullo"), 1), "arc=fail (message signature 2"},
		"seal removed":   {dropField(hop2, "ARC-Seal: i=1"), "arc=fail (instance 1 missing or incomplete"},
		"no chain":       {orig, "arc=none"},
	} {
		v := e.check("127.0.0.1", "x@origin.test", c.msg)
		if !strings.Contains(v.Header, c.want) {
			t.Errorf("%s: header %q; want %q", name, v.Header, c.want)
		}
	}
}

// dropField removes the field starting with prefix (and its folded lines).
func dropField(msg []byte, prefix string) []byte {
	lines := strings.SplitAfter(string(msg), "\r\n")
	var out strings.Builder
	skipping := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, prefix):
			skipping = true
			continue
		case skipping && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")):
			continue
		}
		skipping = false
		out.WriteString(l)
	}
	return []byte(out.String())
}

func TestBodyHashCanonicalization(t *testing.T) {
	for _, c := range []struct {
		body    string
		relaxed bool
		want    string
	}{
		{"", false, "\r\n"},
		{"", true, ""},
		{"a  b \t\r\n\r\n\r\n", true, "a b\r\n"},
		{"a  b \r\n\r\n", false, "a  b \r\n"},
		{"x\r\n\r\ny\r\n\r\n", false, "x\r\n\r\ny\r\n"},
		{" lead\r\n", true, " lead\r\n"},
	} {
		h, _ := bodyHash(strings.NewReader(c.body), c.relaxed, -1)
		want, _ := bodyHash(strings.NewReader(c.want), false, -1)
		if c.want == "" {
			want = sha256Empty()
		}
		if !bytes.Equal(h, want) {
			t.Errorf("body %q relaxed=%v: hash differs from that of %q", c.body, c.relaxed, c.want)
		}
	}
}

func sha256Empty() []byte {
	h, _ := bodyHash(strings.NewReader(""), true, -1)
	return h
}

func TestWithoutSignature(t *testing.T) {
	for in, want := range map[string]string{
		"ARC-Seal: i=1; a=rsa-sha256; b=abc\r\n def; cv=none\r\n": "ARC-Seal: i=1; a=rsa-sha256; b=; cv=none\r\n",
		"X: bh=xyz; b=abc\r\n":          "X: bh=xyz; b=",
		"X: d=x.test; b = abc ;s=1\r\n": "X: d=x.test; b =;s=1\r\n",
	} {
		if got := string(withoutSignature([]byte(in))); got != want {
			t.Errorf("withoutSignature(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestKeyCache: a key record is parsed once, a bad one refused every
// time, and a record that changes (a key rotated) gives its new key.
func TestKeyCache(t *testing.T) {
	record := func() string {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
	var kc keyCache
	old, rotated := record(), record()
	k1, err1 := kc.parse(old)
	k2, err2 := kc.parse(old)
	if err1 != nil || err2 != nil || k1 != k2 {
		t.Errorf("same record: %v, %v; want one key, parsed once", err1, err2)
	}
	k3, err := kc.parse(rotated)
	if err != nil || k3.rsa.Equal(k1.rsa) {
		t.Errorf("rotated record: %v; want the new key", err)
	}
	for range 2 {
		if _, err := kc.parse("v=DKIM1; k=rsa; p="); err == nil {
			t.Error("revoked key (empty p=) accepted")
		}
	}
	for i := range maxParsedKeys + 1 {
		kc.parse("v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 16)))
	}
	if len(kc.keys) > maxParsedKeys {
		t.Errorf("%d keys cached; the bound is %d", len(kc.keys), maxParsedKeys)
	}
}
