package authcheck

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// testSign signs msg with the test RSA key under the tags given (a tag
// list without bh= and b=), computing bh= and b= as RFC 6376 §5 says: for
// the rules on tags that neither go-msgauth nor dkimpy will write.
func testSign(t *testing.T, msg []byte, tags string) []byte {
	t.Helper()
	k := testKeys(t)
	parsed, err := tagList(tags)
	if err != nil {
		t.Fatal(err)
	}
	header, body, _ := strings.Cut(parsed["c"], "/")
	limit := int64(-1)
	if l, ok := parsed["l"]; ok {
		limit, _ = strconv.ParseInt(l, 10, 64)
	}
	fields, _ := readHeader(bytes.NewReader(msg))
	start := headerEndOf(msg, fields)
	bh, err := bodyHash(bytes.NewReader(msg[start:]), body == "relaxed", limit)
	if err != nil {
		t.Fatal(err)
	}
	f := "DKIM-Signature: " + tags + "; bh=" + base64.StdEncoding.EncodeToString(bh) + "; b="
	sig := &dkimSignature{field: []byte(f + "\r\n"), headers: strings.Split(parsed["h"], ":"), relaxedHeader: header == "relaxed"}
	sum := sha256.Sum256(appendSignedHeader(nil, fields, sig))
	b, err := k.rsa.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(f+base64.StdEncoding.EncodeToString(b)+"\r\n"), msg...)
}

func plainMessage() []byte {
	return []byte("From: News <news@sign.test>\r\nTo: alice@ours.test\r\nSubject: rules\r\n\r\nFirst line\r\nSecond  line \r\n")
}

// dkimOf runs our verifier alone on msg at time now.
func dkimOf(t *testing.T, msg []byte, now time.Time, max int) []dkimResult {
	t.Helper()
	c := New(Options{Resolver: testKeys(t).res, Hostname: "mx.ours.test", Now: func() time.Time { return now }, MaxSignatures: max, VerifyEverySignature: true})
	fields, herr := readHeader(bytes.NewReader(msg))
	return c.checkDKIM(context.Background(), Input{Message: bytes.NewReader(msg), Size: int64(len(msg))}, fields, herr)
}

// TestDKIMRules: the rules of RFC 6376, 8301 and 8463 on tags and keys,
// each with the result Authentication-Results gets.
func TestDKIMRules(t *testing.T) {
	now := time.Now()
	ts := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	base := "v=1; a=rsa-sha256; c=relaxed/relaxed; d=sign.test; s=rsa; h=from:to:subject"
	appendBody := func(m []byte) []byte { return append(bytes.Clone(m), "Appended by a list\r\n"...) }
	for _, c := range []struct {
		name   string
		tags   string
		change func([]byte) []byte
		result string
		reason string
	}{
		{"valid", base, nil, "pass", ""},
		{"l= covering part of the body", base + "; l=12", nil, "pass", "l=12 leaves 13 body bytes unsigned"},
		{"l= and text appended after signing", base + "; l=24", appendBody, "pass", "l=24 leaves 21 body bytes unsigned"},
		{"l= over the body", base + "; l=500", nil, "fail", "body shorter than l="},
		{"l= not a number", base + "; l=-3", nil, "permerror", "malformed l="},
		{"body changed", base, appendBody, "fail", "body hash did not verify"},
		{"t= a little ahead (clock skew)", base + "; t=" + ts(5*time.Minute), nil, "pass", ""},
		{"t= hours ahead", base + "; t=" + ts(3*time.Hour), nil, "permerror", "in the future"},
		{"x= in the future", base + "; t=" + ts(-time.Hour) + "; x=" + ts(time.Hour), nil, "pass", ""},
		{"x= passed", base + "; t=" + ts(-2*time.Hour) + "; x=" + ts(-time.Hour), nil, "fail", "signature expired"},
		{"x= before t=", base + "; t=" + ts(-time.Hour) + "; x=" + ts(-2*time.Hour), nil, "permerror", "x= not after t="},
		{"t= of 13 digits", base + "; t=1234567890123", nil, "permerror", "malformed t="},
		{"i= of a subdomain", base + "; i=news@lists.sign.test", nil, "pass", ""},
		{"i= in capitals", base + "; i=@SIGN.TEST", nil, "pass", ""},
		{"i= outside d=", base + "; i=news@other.test", nil, "permerror", "i= domain not within d="},
		{"i= without @", base + "; i=sign.test", nil, "permerror", "malformed i="},
		{"key t=s, i= of a subdomain", strings.Replace(base, "s=rsa", "s=strict", 1) + "; i=@lists.sign.test", nil, "permerror", "t=s"},
		{"key t=s, i= of d=", strings.Replace(base, "s=rsa", "s=strict", 1) + "; i=news@sign.test", nil, "pass", ""},
		{"From not signed", strings.Replace(base, "h=from:to:subject", "h=to:subject", 1), nil, "permerror", "From field not signed"},
		{"empty name in h=", strings.Replace(base, "h=from:to:subject", "h=from::to", 1), nil, "permerror", "malformed h="},
		{"version 2", strings.Replace(base, "v=1", "v=2", 1), nil, "permerror", "signature version"},
		{"rsa-sha1", strings.Replace(base, "rsa-sha256", "rsa-sha1", 1), nil, "permerror", "RFC 8301"},
		{"unknown canonicalization", strings.Replace(base, "relaxed/relaxed", "relaxed/loose", 1), nil, "permerror", "canonicalization"},
		{"query method dns/txt", base + "; q=dns/txt", nil, "pass", ""},
		{"query method unknown", base + "; q=http/well-known", nil, "permerror", "query method"},
		{"d= not a domain", strings.Replace(base, "d=sign.test", "d=sign..test", 1), nil, "permerror", "malformed d="},
		{"key in testing mode, valid", strings.Replace(base, "s=rsa", "s=testing", 1), nil, "pass", ""},
		{"key in testing mode, body changed", strings.Replace(base, "s=rsa", "s=testing", 1), appendBody, "neutral", "t=y"},
		{"key allows sha1 only", strings.Replace(base, "s=rsa", "s=sha1only", 1), nil, "permerror", "h= tag"},
		{"key revoked", strings.Replace(base, "s=rsa", "s=revoked", 1), nil, "permerror", "key revoked"},
		{"key not for email", strings.Replace(base, "s=rsa", "s=web", 1), nil, "permerror", "not for email"},
		{"two key records", strings.Replace(base, "s=rsa", "s=twice", 1), nil, "permerror", "2 key records"},
		{"no key", strings.Replace(base, "s=rsa", "s=nokey", 1), nil, "permerror", "no key for signature"},
		{"key lookup times out", strings.Replace(base, "s=rsa", "s=down", 1), nil, "temperror", "key unavailable"},
		{"Ed25519 key, RSA signature", strings.Replace(base, "s=rsa", "s=ed", 1), nil, "permerror", "ed25519 key for an rsa-sha256 signature"},
		{"simple/simple", strings.Replace(base, "relaxed/relaxed", "simple/simple", 1), nil, "pass", ""},
		{"c= absent (simple/simple)", strings.Replace(base, "c=relaxed/relaxed; ", "", 1), nil, "pass", ""},
	} {
		msg := testSign(t, plainMessage(), c.tags)
		if c.change != nil {
			msg = c.change(msg)
		}
		got := dkimOf(t, msg, now, 0)
		if len(got) != 1 || got[0].result != c.result || !strings.Contains(got[0].reason, c.reason) || (c.reason == "" && got[0].reason != "") {
			t.Errorf("%s: %+v; want %s with %q", c.name, got, c.result, c.reason)
		}
	}
}

// TestDKIMLimits: signatures past MaxSignatures are not looked at; a
// signature field, a tag list or an h= beyond the limits is refused
// before any DNS lookup; a header over its limit verifies nothing.
func TestDKIMLimits(t *testing.T) {
	now := time.Now()
	msg := plainMessage()
	for range 7 {
		msg = testSign(t, msg, "v=1; a=rsa-sha256; c=relaxed/relaxed; d=sign.test; s=rsa; h=from")
	}
	if got := dkimOf(t, msg, now, 5); len(got) != 5 {
		t.Errorf("7 signatures, MaxSignatures 5: %d results", len(got))
	}
	for name, tags := range map[string]string{
		"field too long": "v=1; a=rsa-sha256; d=sign.test; s=down; h=from; z=" + strings.Repeat("x", maxSignatureFieldLen),
		"too many tags":  "v=1; a=rsa-sha256; d=sign.test; s=down; h=from" + manyTags(maxSignatureTags),
		"h= too long":    "v=1; a=rsa-sha256; d=sign.test; s=down; h=from" + strings.Repeat(":to", maxSignedFieldNames),
	} {
		// s=down would be a temperror: a permerror says no lookup was made.
		if got := dkimOf(t, testSign(t, plainMessage(), tags), now, 0); len(got) != 1 || got[0].result != "permerror" {
			t.Errorf("%s: %+v; want permerror", name, got)
		}
	}
	huge := testSign(t, plainMessage(), "v=1; a=rsa-sha256; d=sign.test; s=rsa; h=from")
	huge = insertAfterHeader(huge, "X-Padding: "+strings.Repeat("y", maxHeaderBytes)+"\r\n")
	if got := dkimOf(t, huge, now, 0); len(got) != 1 || got[0].result != "permerror" {
		t.Errorf("header over the limit: %+v; want permerror", got)
	}
}

// TestDKIMBodyHashedOncePerKind: signatures with the same
// canonicalization and l= share one body hash; others get their own.
func TestDKIMBodyHashedOncePerKind(t *testing.T) {
	var bh bodyHashes
	a, b := bh.want(true, -1), bh.want(true, -1)
	c, d := bh.want(false, -1), bh.want(true, 10)
	if a != b || a == c || a == d || len(bh.relaxed.sinks) != 2 || len(bh.simple.sinks) != 1 {
		t.Errorf("sinks: relaxed %d, simple %d; want 2 and 1, the same one for the same kind", len(bh.relaxed.sinks), len(bh.simple.sinks))
	}
	body := "a  b \r\n\r\nc\r\n\r\n"
	if err := bh.run(strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*bodySink{a, c, d} {
		want, _ := bodyHash(strings.NewReader(body), s == a || s == d, s.limit)
		if !bytes.Equal(s.sum, want) {
			t.Errorf("sink limit %d: shared pass differs from a pass of its own", s.limit)
		}
	}
	if a.total != int64(len("a b\r\n\r\nc\r\n")) || d.written != 10 {
		t.Errorf("relaxed body of %d bytes, %d hashed under l=10", a.total, d.written)
	}
}

// TestRSAKeySizes: RFC 8301 §3.2 refuses keys under 1024 bits; keys over
// 8192 are refused too.
func TestRSAKeySizes(t *testing.T) {
	for bits, ok := range map[int]bool{512: false, 1023: false, 1024: true, 8192: true, 8200: false} {
		// Any odd number of that length: parsing looks at the size only.
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
		n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
		der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
		if err != nil {
			der = x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: n, E: 65537})
		}
		_, err = parseKeyRecord("v=DKIM1; p=" + base64.StdEncoding.EncodeToString(der))
		if (err == nil) != ok {
			t.Errorf("%d bits: %v; want accepted %v", bits, err, ok)
		}
	}
}

func manyTags(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "; z%d=1", i)
	}
	return b.String()
}

// TestLongHeaderLine: a field longer than the reader's buffer is read
// whole, and the fields after it are seen (a From hidden behind a long
// line would escape DMARC).
func TestLongHeaderLine(t *testing.T) {
	msg := []byte("X-Long: " + strings.Repeat("a:b ", 5000) + "\r\nFrom: a@sign.test\r\n\r\nbody\r\n")
	fields, err := readHeader(bytes.NewReader(msg))
	if err != nil || len(fields) != 2 || fields[1].name != "From" || len(fields[0].raw) != 8+20000+2 {
		t.Fatalf("%d fields, %v", len(fields), err)
	}
}

// BenchmarkCheckDKIM: our verifier alone on a 4 KiB message with one
// RSA-2048 signature, the key cached; -cpuprofile shows what is not the
// RSA arithmetic.
func BenchmarkCheckDKIM(b *testing.B) {
	k := testKeys(b)
	var body strings.Builder
	for body.Len() < 4096 {
		body.WriteString("The quick brown fox jumps over the lazy dog, again and again and again.\r\n")
	}
	msg := goSign(b, []byte(string(realMessages()[0][:bytes.Index(realMessages()[0], []byte("\r\n\r\n"))])+"\r\n\r\n"+body.String()),
		dkim.SignOptions{Selector: "rsa", Signer: k.rsa, HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization: dkim.CanonicalizationRelaxed, HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version"}})
	c := New(Options{Resolver: k.res, Hostname: "mx.ours.test", VerifyEverySignature: true})
	in := Input{Message: bytes.NewReader(msg), Size: int64(len(msg))}
	b.ResetTimer()
	for range b.N {
		fields, herr := readHeader(io.NewSectionReader(in.Message, 0, in.Size))
		if r := c.checkDKIM(context.Background(), in, fields, herr); r[0].result != "pass" {
			b.Fatal(r)
		}
	}
}

// TestDKIMResultsInHeader: what the verifier finds reaches the
// Authentication-Results field: a pass under l= with the unsigned bytes
// said, a failure under a testing key as neutral.
func TestDKIMResultsInHeader(t *testing.T) {
	k := testKeys(t)
	c := New(Options{Resolver: k.res, Hostname: "mx.ours.test", Skip: map[string]bool{"spf": true, "arc": true, "iprev": true}})
	check := func(msg []byte) string {
		v := c.Check(context.Background(), Input{IP: netip.MustParseAddr("192.0.2.1"), Helo: "h", MailFrom: "x@sign.test",
			Message: bytes.NewReader(msg), Size: int64(len(msg))})
		return v.Header
	}
	base := "v=1; a=rsa-sha256; c=relaxed/relaxed; d=sign.test; h=from:to:subject"
	limited := append(testSign(t, plainMessage(), base+"; s=rsa; l=12"), "Click here\r\n"...)
	if h := check(limited); !strings.Contains(h, `dkim=pass reason="l=12 leaves 25 body bytes unsigned" header.d=sign.test header.s=rsa`) {
		t.Errorf("l=: %q", h)
	}
	trial := append(testSign(t, plainMessage(), base+"; s=testing"), "Click here\r\n"...)
	if h := check(trial); !strings.Contains(h, `dkim=neutral reason="body hash did not verify (key in testing mode, t=y)"`) {
		t.Errorf("t=y: %q", h)
	}
}

// TestDKIMDomainSettledOnce: a domain signing with Ed25519 beside RSA is
// settled by the RSA signature alone, which the results report; a
// failing signature of the domain does not stop the next one, and
// signatures of two domains are both verified.
func TestDKIMDomainSettledOnce(t *testing.T) {
	k := testKeys(t)
	c := New(Options{Resolver: k.res, Hostname: "mx.ours.test"})
	check := func(msg []byte) []dkimResult {
		fields, herr := readHeader(bytes.NewReader(msg))
		return c.checkDKIM(context.Background(), Input{Message: bytes.NewReader(msg), Size: int64(len(msg))}, fields, herr)
	}
	opts := func(domain, sel string, signer crypto.Signer) dkim.SignOptions {
		return dkim.SignOptions{Domain: domain, Selector: sel, Signer: signer, HeaderKeys: []string{"From", "To", "Subject"}}
	}
	// Ed25519 on top, as it is added last.
	both := goSign(t, goSign(t, plainMessage(), opts("sign.test", "rsa", k.rsa)), opts("sign.test", "ed", k.ed))
	if r := check(both); len(r) != 1 || r[0].result != "pass" || r[0].selector != "rsa" {
		t.Errorf("Ed25519 beside RSA: %+v, want the RSA signature's pass alone", r)
	}
	broken := append(bytes.Clone(both), "appended after signing\r\n"...)
	if r := check(broken); len(r) != 2 || r[0].result != "fail" || r[1].result != "fail" {
		t.Errorf("both failing: %+v, want both checked", r)
	}
	other := goSign(t, goSign(t, plainMessage(), opts("sign.test", "rsa", k.rsa)), opts("other.test", "ed", k.ed))
	if r := check(other); len(r) != 2 {
		t.Errorf("two domains: %+v, want both verified", r)
	}
}
