package authcheck

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// The differential test: our verifier and go-msgauth's (which Postern
// used before, and still signs with) on the same messages must agree on
// which signatures pass. Where they may differ, ours follows the RFC and
// the difference is one of these, each checked by explained below:
//
//   - l= (RFC 6376 §3.5): go-msgauth fails every signature that has it;
//     ours verifies the signed part and says how much is unsigned.
//   - i= whose domain is d= in other letter case: domain names compare
//     case-insensitively; go-msgauth compares bytes.
//   - Tags that break RFC 6376 §3.5's syntax (d=, s= not domain names,
//     i= without "@", an empty name in h=, t= or x= not 1 to 12 digits,
//     x= not after t=, a tag without a name) and t= more than futureSkew
//     ahead: §6.1.1 asks for meticulous validation, ours gives
//     permerror; go-msgauth uses them as they are.
//   - Our limits: a header over 1 MiB or 1,000 fields, a signature field
//     over 16 KiB, 64 tags or 256 names in h= (permerror).
//   - A key record's t=s with i= in a subdomain (RFC 6376 §3.6.1):
//     go-msgauth ignores the flags.
//   - A line without a colon that reads "DKIM-Signature": go-msgauth
//     takes it for a signature field (and fails it); it is no field (RFC
//     5322 §2.2), ours leaves it out.
//   - go-msgauth refuses a message whose header has no empty line after
//     it; RFC 5322 §3.5 makes the body optional, ours verifies.
//
// Input with a bare CR or LF is made CRLF first: smtpd refuses such
// mail (SMTP smuggling), so the spool never holds it.

// diffResolver serves the test keys.
type diffResolver struct {
	txt  map[string][]string
	temp map[string]bool
}

func (r *diffResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if r.temp[name] {
		return nil, &net.DNSError{Err: "timeout", Name: name, IsTimeout: true}
	}
	if txt, ok := r.txt[name]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such record", Name: name, IsNotFound: true}
}

func (r *diffResolver) LookupMX(_ context.Context, n string) ([]*net.MX, error) { return nil, nx(n) }
func (r *diffResolver) LookupIPAddr(_ context.Context, n string) ([]net.IPAddr, error) {
	return nil, nx(n)
}
func (r *diffResolver) LookupAddr(_ context.Context, n string) ([]string, error) { return nil, nx(n) }

// diffKeys are the signers' keys and the records that publish them.
type diffKeys struct {
	rsa, rsa1024 *rsa.PrivateKey
	ed           ed25519.PrivateKey
	res          *diffResolver
}

var (
	diffKeysOnce sync.Once
	diffKeysVal  *diffKeys
)

// testKeys makes the keys once per test binary: RSA key generation is
// slow.
func testKeys(t testing.TB) *diffKeys {
	diffKeysOnce.Do(func() {
		k := &diffKeys{res: &diffResolver{txt: map[string][]string{}, temp: map[string]bool{"down._domainkey.sign.test": true}}}
		var err error
		if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if k.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
		_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
		rsaP := rsaRecordKey(&k.rsa.PublicKey)
		edP := base64.StdEncoding.EncodeToString(k.ed.Public().(ed25519.PublicKey))
		for name, rec := range map[string]string{
			"rsa":      "v=DKIM1; k=rsa; p=" + rsaP,
			"rsa1k":    "v=DKIM1; k=rsa; p=" + rsaRecordKey(&k.rsa1024.PublicKey),
			"ed":       "v=DKIM1; k=ed25519; p=" + edP,
			"testing":  "v=DKIM1; k=rsa; t=y; p=" + rsaP,
			"strict":   "v=DKIM1; k=rsa; t=s; p=" + rsaP,
			"sha1only": "v=DKIM1; k=rsa; h=sha1; p=" + rsaP,
			"revoked":  "v=DKIM1; k=rsa; p=",
			"web":      "v=DKIM1; k=rsa; s=web; p=" + rsaP,
			"down":     "v=DKIM1; k=rsa; p=" + rsaP,
		} {
			k.res.txt[name+"._domainkey.sign.test"] = []string{rec}
		}
		k.res.txt["twice._domainkey.sign.test"] = []string{"v=DKIM1; k=rsa; p=" + rsaP, "v=DKIM1; k=ed25519; p=" + edP}
		diffKeysVal = k
	})
	return diffKeysVal
}

func rsaRecordKey(pub *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return base64.StdEncoding.EncodeToString(der)
}

// realMessages are shaped as mail is: folded fields, several Received,
// MIME alternatives, quoted-printable, white space at line ends, tabs,
// trailing empty lines, an empty body, a body without a final CRLF.
func realMessages() [][]byte {
	head := "Received: from mail-a.sign.test (mail-a.sign.test [192.0.2.10])\r\n\tby mx.ours.test with ESMTPS id 4Qx1\r\n\tfor <alice@ours.test>; Sat, 5 Dec 2026 20:00:00 +0000\r\n" +
		"Received: from app7.internal ([10.0.0.7]) by mail-a.sign.test with ESMTP; Sat, 5 Dec 2026 19:59:58 +0000\r\n" +
		"From: \"Sign News\" <news@sign.test>\r\nTo: Alice <alice@ours.test>,\r\n  bob@ours.test\r\n" +
		"Subject: =?UTF-8?Q?Caf=C3=A9_weekly?=  digest\r\nDate: Sat, 5 Dec 2026 19:59:58 +0000\r\n" +
		"Message-ID: <20261205195958.4711@sign.test>\r\nMIME-Version: 1.0\r\n" +
		"List-Unsubscribe: <https://sign.test/u/abcdef0123456789>,\r\n <mailto:unsub-abcdef@sign.test>\r\n" +
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
	var out [][]byte
	out = append(out, []byte(head+"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+
		"Hello Alice,\r\n\r\nThis week:  two spaces,\ta tab, trailing space \r\n  indented line\r\n\r\n\r\n-- \r\nSign News\r\n\r\n\r\n"))
	var mp strings.Builder
	mp.WriteString(head + "Content-Type: multipart/alternative; boundary=\"b1_XyZ\"\r\n\r\n--b1_XyZ\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	for i := range 40 {
		fmt.Fprintf(&mp, "Line %d of the digest: caf=C3=A9 and cr=C3=A8me, a long line that soft-breaks=\r\n here.\r\n", i)
	}
	mp.WriteString("\r\n--b1_XyZ\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>\r\n")
	for i := range 30 {
		fmt.Fprintf(&mp, "  <p style=\"margin:0\">Item %d\t<a href=\"https://sign.test/i/%d\">read</a></p>   \r\n", i, i)
	}
	mp.WriteString("</body></html>\r\n--b1_XyZ--\r\n")
	out = append(out, []byte(mp.String()))
	out = append(out, []byte(head+"\r\n"))                                      // empty body
	out = append(out, []byte(head+"\r\n\r\n\r\n\r\n"))                          // only empty lines
	out = append(out, []byte(head+"\r\nNo final line end"))                     // body without CRLF
	out = append(out, []byte(head+"\r\n \t \r\nword\r\n\t\r\n \r\nend \t\r\n")) // white-space-only lines
	out = append(out, []byte("From: news@sign.test\r\nSubject: short\r\nSubject: second subject\r\nTo: a@ours.test\r\n\r\nHi\r\n"))
	// A line longer than the verifier's read buffer, white space at its end.
	out = append(out, []byte(head+"Content-Type: application/octet-stream\r\n\r\n"+strings.Repeat("QUJD  REVG\t", 4000)+"  \r\nend\r\n"))
	return out
}

// goSign signs msg with go-msgauth.
func goSign(t testing.TB, msg []byte, o dkim.SignOptions) []byte {
	t.Helper()
	if o.Domain == "" {
		o.Domain = "sign.test"
	}
	var out bytes.Buffer
	if err := dkim.Sign(&out, bytes.NewReader(msg), &o); err != nil {
		t.Fatalf("go-msgauth sign: %v", err)
	}
	return out.Bytes()
}

// dkimpySignPy signs with dkimpy (Debian's python3-dkim, a third
// implementation): a JSON list of requests on stdin, the signed messages
// out.
const dkimpySignPy = `
import sys, json, base64, dkim
out = []
for j in json.load(sys.stdin):
    msg = base64.b64decode(j["msg"])
    sig = dkim.sign(msg, j["sel"].encode(), b"sign.test", j["key"].encode(),
                    canonicalize=tuple(c.encode() for c in j["c"].split("/")),
                    signature_algorithm=j["alg"].encode(),
                    include_headers=[h.encode() for h in j["headers"]], length=j["length"])
    out.append(base64.b64encode(sig + msg).decode())
json.dump(out, sys.stdout)
`

type dkimpyRequest struct {
	Msg     []byte   `json:"msg"`
	Sel     string   `json:"sel"`
	Key     string   `json:"key"`
	C       string   `json:"c"`
	Alg     string   `json:"alg"`
	Headers []string `json:"headers"`
	Length  bool     `json:"length"`
}

// dkimpySign signs every request in one Python process.
func dkimpySign(t testing.TB, reqs []dkimpyRequest) [][]byte {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import dkim, nacl").Run(); err != nil {
		t.Fatalf("dkimpy is missing (scripts/deps.sh installs python3-dkim): %v", err)
	}
	in, _ := json.Marshal(reqs)
	cmd := exec.Command(py, "-c", dkimpySignPy)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dkimpy sign: %v\n%s", err, stderr.String())
	}
	var signed [][]byte
	if err := json.Unmarshal(out, &signed); err != nil {
		t.Fatal(err)
	}
	return signed
}

// signedCorpus signs the real-world messages every way the two
// signers can: go-msgauth with each canonicalization, both key types,
// i=, oversigned From, fields named that are absent, two signatures;
// dkimpy with l=, simple and relaxed, both key types.
func signedCorpus(t testing.TB) [][]byte {
	k := testKeys(t)
	std := []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "List-Unsubscribe"}
	var out [][]byte
	var reqs []dkimpyRequest
	rsaPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.rsa)}))
	edSeed := base64.StdEncoding.EncodeToString(k.ed.Seed())
	for i, msg := range realMessages() {
		for _, c := range []dkim.Canonicalization{dkim.CanonicalizationSimple, dkim.CanonicalizationRelaxed} {
			for _, bc := range []dkim.Canonicalization{dkim.CanonicalizationSimple, dkim.CanonicalizationRelaxed} {
				out = append(out, goSign(t, msg, dkim.SignOptions{Selector: "rsa", Signer: k.rsa, HeaderCanonicalization: c, BodyCanonicalization: bc, HeaderKeys: std}))
			}
		}
		switch i % 3 {
		case 0:
			out = append(out, goSign(t, msg, dkim.SignOptions{Selector: "ed", Signer: k.ed, HeaderCanonicalization: dkim.CanonicalizationRelaxed,
				BodyCanonicalization: dkim.CanonicalizationRelaxed, Identifier: "news@lists.sign.test"}))
		case 1:
			oversigned := append([]string{"From", "From", "Subject", "Subject", "Reply-To", "Received"}, std...)
			out = append(out, goSign(t, msg, dkim.SignOptions{Selector: "rsa1k", Signer: k.rsa1024, HeaderKeys: oversigned}))
		case 2:
			twice := goSign(t, msg, dkim.SignOptions{Selector: "ed", Signer: k.ed, HeaderCanonicalization: dkim.CanonicalizationRelaxed})
			out = append(out, goSign(t, twice, dkim.SignOptions{Selector: "rsa", Signer: k.rsa, HeaderKeys: append(std, "DKIM-Signature")}))
		}
		hdrs := []string{"from", "to", "subject", "date", "message-id"}
		reqs = append(reqs,
			dkimpyRequest{Msg: msg, Sel: "rsa", Key: rsaPEM, C: "relaxed/simple", Alg: "rsa-sha256", Headers: hdrs, Length: true},
			dkimpyRequest{Msg: msg, Sel: "rsa", Key: rsaPEM, C: "simple/relaxed", Alg: "rsa-sha256", Headers: hdrs},
			dkimpyRequest{Msg: msg, Sel: "ed", Key: edSeed, C: "relaxed/relaxed", Alg: "ed25519-sha256", Headers: hdrs, Length: i%2 == 0},
		)
	}
	return append(out, dkimpySign(t, reqs)...)
}

// verifyBoth runs our verifier and go-msgauth's on msg; theirs is nil
// when go-msgauth refuses the message as a whole.
func verifyBoth(c *Checker, res Resolver, msg []byte) (ours []dkimResult, theirs []*dkim.Verification, theirErr error) {
	fields, herr := readHeader(bytes.NewReader(msg))
	ours = c.checkDKIM(context.Background(), Input{Message: bytes.NewReader(msg), Size: int64(len(msg))}, fields, herr)
	lookup := func(name string) ([]string, error) { return res.LookupTXT(context.Background(), name) }
	theirs, theirErr = dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: c.o.MaxSignatures})
	if theirErr == dkim.ErrTooManySignatures {
		theirErr = nil
	}
	return ours, theirs, theirErr
}

// ourStricter are the reasons of ours for refusing what go-msgauth may
// pass, each a rule of RFC 6376 go-msgauth does not apply (see the top
// of this file).
var ourStricter = []string{"malformed d=", "malformed s=", "malformed i=", "malformed h=", "malformed t=", "malformed x=",
	"signature syntax error", "x= not after t=", "signature timestamp in the future",
	"which the key's t=s forbids", "RSA key of",
	// Limits (the top of dkimsig.go, header.go).
	"signature field over", "signature with over", "h= names over", "header over"}

// disagreement returns what is wrong when the two verifiers disagree on
// signature i of msg beyond the documented differences, or "".
func disagreement(msg []byte, i int, ours dkimResult, theirs *dkim.Verification) string {
	oursPass, theirsPass := ours.result == "pass", theirs.Err == nil
	if oursPass == theirsPass {
		return ""
	}
	sigField := signatureFields(msg)[i]
	tags, _ := tagList(field{raw: sigField}.value())
	switch {
	case oursPass && tags["l"] != "":
		return "" // go-msgauth refuses l=
	case oursPass && tags["i"] != "" && !strings.HasSuffix(tags["i"], "@"+tags["d"]) && !strings.HasSuffix(tags["i"], "."+tags["d"]):
		return "" // i= of d= in other letter case: go-msgauth compares bytes
	case !oursPass:
		for _, r := range ourStricter {
			if strings.Contains(ours.reason, r) {
				return ""
			}
		}
	}
	return fmt.Sprintf("signature %d (d=%s): ours %s (%s), go-msgauth %v", i, ours.domain, ours.result, ours.reason, theirs.Err)
}

// pairSignatures lines up the two verifiers' results: go-msgauth also
// takes a line without a colon that reads "DKIM-Signature" for a
// signature field (its name is the whole line), which is no field (RFC
// 5322 §2.2) and which ours leaves out. wrong says when go-msgauth
// passed such a line.
func pairSignatures(msg []byte, ours []dkimResult, theirs []*dkim.Verification) (pairs [][2]int, wrong string) {
	fields, _ := readHeader(bytes.NewReader(msg))
	o, th := 0, 0
	for _, f := range fields {
		key, _, _ := strings.Cut(string(f.raw), ":")
		if !strings.EqualFold(strings.TrimSpace(key), "DKIM-Signature") {
			continue
		}
		ourSig := strings.EqualFold(f.name, "DKIM-Signature")
		switch {
		case th >= len(theirs):
		case ourSig && o < len(ours):
			pairs = append(pairs, [2]int{o, th})
		case !ourSig && theirs[th].Err == nil:
			wrong = fmt.Sprintf("go-msgauth passed %q, which is not a field", f.raw)
		}
		if ourSig {
			o++
		}
		th++
	}
	return pairs, wrong
}

// signatureFields returns the raw DKIM-Signature fields of msg in order.
func signatureFields(msg []byte) [][]byte {
	fields, _ := readHeader(bytes.NewReader(msg))
	var out [][]byte
	for _, f := range fields {
		if strings.EqualFold(f.name, "DKIM-Signature") {
			out = append(out, f.raw)
		}
	}
	return out
}

var fieldLine = regexp.MustCompile(`^[!-9;-~]+:`)

// headerWellFormed tells whether every line up to the empty line is a
// field or a continuation of one, and there is an empty line.
func headerWellFormed(msg []byte) bool {
	for i, line := range strings.Split(string(msg), "\r\n") {
		switch {
		case line == "":
			return true
		case line[0] == ' ' || line[0] == '\t':
			if i == 0 {
				return false
			}
		case !fieldLine.MatchString(line):
			return false
		}
	}
	return false
}

// crlfOnly makes every line end CRLF, as the spool's are.
func crlfOnly(msg []byte) []byte {
	s := strings.ReplaceAll(string(msg), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

// mutations change a signed message the ways mail is changed in
// transit, and the ways a forger would.
var mutations = []struct {
	name string
	fn   func([]byte) []byte
}{
	{"as signed", func(m []byte) []byte { return m }},
	{"body word changed", func(m []byte) []byte { return replaceInBody(m, "Hello", "Hullo") }},
	{"body line appended", func(m []byte) []byte { return append(bytes.Clone(m), "\r\nP.S. click here\r\n"...) }},
	{"empty lines appended", func(m []byte) []byte { return append(bytes.Clone(m), "\r\n\r\n"...) }},
	{"trailing space in body", func(m []byte) []byte { return replaceInBody(m, "\r\n", " \r\n") }},
	{"tab in body", func(m []byte) []byte { return replaceInBody(m, " ", "\t") }},
	{"body emptied", func(m []byte) []byte {
		h, _, _ := bytes.Cut(m, []byte("\r\n\r\n"))
		return append(bytes.Clone(h), "\r\n\r\n"...)
	}},
	{"subject refolded", func(m []byte) []byte {
		return bytes.Replace(m, []byte("Subject: =?UTF-8?Q?Caf=C3=A9_weekly?=  digest"), []byte("Subject: =?UTF-8?Q?Caf=C3=A9_weekly?=\r\n\tdigest"), 1)
	}},
	{"subject name case", func(m []byte) []byte { return bytes.Replace(m, []byte("\r\nSubject:"), []byte("\r\nSUBJECT:"), 1) }},
	{"space before colon", func(m []byte) []byte { return bytes.Replace(m, []byte("\r\nTo:"), []byte("\r\nTo :"), 1) }},
	{"From added on top", func(m []byte) []byte { return append([]byte("From: ceo@sign.test\r\n"), m...) }},
	{"From added below", func(m []byte) []byte { return insertAfterHeader(m, "From: ceo@sign.test\r\n") }},
	{"Subject added below", func(m []byte) []byte { return insertAfterHeader(m, "Subject: urgent\r\n") }},
	{"unsigned field added", func(m []byte) []byte { return append([]byte("X-Spam-Score: 0.1\r\n"), m...) }},
	{"From removed", func(m []byte) []byte { return removeField(m, "From:") }},
	{"signature white space", func(m []byte) []byte {
		return bytes.Replace(m, []byte("; d=sign.test;"), []byte(" ;\r\n\t d = sign.test ;"), 1)
	}},
	{"b= refolded", func(m []byte) []byte { return refoldB(m) }},
	{"d= changed", func(m []byte) []byte { return bytes.Replace(m, []byte("d=sign.test"), []byte("d=sign.tesT"), 1) }},
	{"selector changed", func(m []byte) []byte { return bytes.Replace(m, []byte("s=rsa;"), []byte("s=down;"), 1) }},
	{"signatures swapped", func(m []byte) []byte { return swapSignatures(m) }},
	{"line in header without colon", func(m []byte) []byte { return insertAfterHeader(m, "garbage line\r\n") }},
}

func replaceInBody(m []byte, old, new string) []byte {
	h, b, ok := bytes.Cut(m, []byte("\r\n\r\n"))
	if !ok {
		return m
	}
	return append(append(bytes.Clone(h), "\r\n\r\n"...), bytes.ReplaceAll(b, []byte(old), []byte(new))...)
}

func insertAfterHeader(m []byte, f string) []byte {
	h, b, ok := bytes.Cut(m, []byte("\r\n\r\n"))
	if !ok {
		return m
	}
	return []byte(string(h) + "\r\n" + f + "\r\n" + string(b))
}

func removeField(m []byte, prefix string) []byte {
	return dropField(m, prefix)
}

// refoldB folds the first b= value anew: white space in it is no part
// of the signature (RFC 6376 §3.5).
func refoldB(m []byte) []byte {
	i := bytes.Index(m, []byte(" b="))
	if i < 0 || i+20 > len(m) {
		return m
	}
	return append(append(bytes.Clone(m[:i+10]), "\r\n\t "...), m[i+10:]...)
}

// swapSignatures exchanges the first two DKIM-Signature fields.
func swapSignatures(m []byte) []byte {
	sigs := signatureFields(m)
	if len(sigs) < 2 {
		return m
	}
	a := bytes.Index(m, sigs[0])
	b := bytes.Index(m, sigs[1])
	if a < 0 || b < 0 || b < a+len(sigs[0]) {
		return m
	}
	var out []byte
	out = append(out, m[:a]...)
	out = append(out, sigs[1]...)
	out = append(out, m[a+len(sigs[0]):b]...)
	out = append(out, sigs[0]...)
	return append(out, m[b+len(sigs[1]):]...)
}

// TestDKIMAgreesWithGoMsgauth runs both verifiers on every signed
// message, mutated every way: they agree on each signature, but for the
// documented differences; every message as signed passes in both.
func TestDKIMAgreesWithGoMsgauth(t *testing.T) {
	k := testKeys(t)
	c := New(Options{Resolver: k.res, Hostname: "mx.ours.test", VerifyEverySignature: true})
	corpus := signedCorpus(t)
	compared, passed, explained := 0, 0, 0
	for n, signed := range corpus {
		for _, m := range mutations {
			msg := m.fn(signed)
			ours, theirs, err := verifyBoth(c, k.res, msg)
			if err != nil {
				if headerWellFormed(msg) {
					t.Errorf("message %d, %s: go-msgauth refused the message: %v", n, m.name, err)
				}
				continue
			}
			pairs, wrong := pairSignatures(msg, ours, theirs)
			if wrong != "" || len(pairs) != len(ours) {
				t.Fatalf("message %d, %s: %d results, go-msgauth %d, %d paired %s", n, m.name, len(ours), len(theirs), len(pairs), wrong)
			}
			for _, p := range pairs {
				i := p[0]
				theirs := theirs[p[1]]
				compared++
				if ours[i].result == "pass" {
					passed++
				}
				if (ours[i].result == "pass") != (theirs.Err == nil) {
					explained++
				}
				if d := disagreement(msg, i, ours[i], theirs); d != "" {
					t.Errorf("message %d, %s: %s\n%s", n, m.name, d, msg)
				}
				if m.name == "as signed" && ours[i].result != "pass" {
					t.Errorf("message %d as signed: %s %s", n, ours[i].result, ours[i].reason)
				}
			}
		}
	}
	t.Logf("%d messages, %d signatures compared, %d passed, %d differences explained", len(corpus), compared, passed, explained)
	if passed == 0 || passed == compared {
		t.Errorf("%d of %d signatures passed: the corpus tests nothing", passed, compared)
	}
}

// FuzzDKIMDifferential: on any message (made CRLF, as the spool's are)
// the two verifiers agree, but for the documented differences; ours
// never panics.
func FuzzDKIMDifferential(f *testing.F) {
	k := testKeys(f)
	for i, msg := range signedCorpus(f) {
		if i%3 == 0 { // the corpus is large; a third seeds well
			f.Add(msg)
		}
	}
	c := New(Options{Resolver: k.res, Hostname: "mx.ours.test", Now: time.Now, VerifyEverySignature: true})
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) > 64<<10 {
			return
		}
		msg = crlfOnly(msg)
		ours, theirs, err := verifyBoth(c, k.res, msg)
		if err != nil {
			return
		}
		pairs, wrong := pairSignatures(msg, ours, theirs)
		if wrong != "" {
			t.Fatalf("%s\n%q", wrong, msg)
		}
		for _, p := range pairs {
			if d := disagreement(msg, p[0], ours[p[0]], theirs[p[1]]); d != "" {
				t.Fatalf("%s\n%q", d, msg)
			}
		}
	})
}
