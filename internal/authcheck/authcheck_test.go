package authcheck

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"postern/internal/queue/queuetest"
	"postern/internal/resolve"
)

// env is a Checker over a loopback DNS server.
type env struct {
	t    *testing.T
	dns  *queuetest.DNS
	res  *flakyResolver
	opts Options
}

// flakyResolver fails the names in temp temporarily.
type flakyResolver struct {
	*resolve.Resolver
	temp map[string]bool
}

func (f *flakyResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if f.temp[strings.ToLower(strings.TrimSuffix(name, "."))] {
		return nil, &net.DNSError{Err: "timeout", Name: name, IsTimeout: true}
	}
	return f.Resolver.LookupTXT(ctx, name)
}

func newEnv(t *testing.T, records ...string) *env {
	d := queuetest.StartDNS(t)
	d.Add(t, records...)
	e := &env{t: t, dns: d, res: &flakyResolver{Resolver: resolve.New(resolve.Options{Servers: []string{d.Addr}}), temp: map[string]bool{}}}
	e.opts = Options{Resolver: e.res, Hostname: "mx.ours.test", Percent: func() int { return 50 },
		IsLocal: func(_ context.Context, d string) (bool, error) { return d == "ours.test", nil }}
	return e
}

func (e *env) check(ip, mailFrom string, msg []byte) Verdict {
	e.t.Helper()
	c := New(e.opts)
	return c.Check(context.Background(), Input{IP: netip.MustParseAddr(ip), Helo: "client.example.net", MailFrom: mailFrom,
		Message: bytes.NewReader(msg), Size: int64(len(msg))})
}

func message(from string) []byte {
	return []byte("Received: from x by mx.ours.test; Sat, 5 Dec 2026 20:00:00 +0000\r\n" +
		"From: " + from + "\r\nTo: <alice@ours.test>\r\nSubject: hello\r\nDate: Sat, 5 Dec 2026 20:00:00 +0000\r\n" +
		"Message-ID: <1@example.com>\r\n\r\nHello there.\r\n")
}

// signer makes a key, publishes it as sel._domainkey.domain and signs.
func (e *env) signer(domain, sel, alg string) func([]byte) []byte {
	var key crypto.Signer
	var pub, k string
	switch alg {
	case "ed25519":
		p, priv, _ := ed25519.GenerateKey(rand.Reader)
		key, pub, k = priv, base64.StdEncoding.EncodeToString(p), "ed25519"
	default:
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			e.t.Fatal(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		key, pub, k = priv, base64.StdEncoding.EncodeToString(der), "rsa"
	}
	rec := "v=DKIM1; k=" + k + "; p=" + pub
	var parts []string
	for len(rec) > 200 {
		parts, rec = append(parts, `"`+rec[:200]+`"`), rec[200:]
	}
	parts = append(parts, `"`+rec+`"`)
	e.dns.Add(e.t, fmt.Sprintf("%s._domainkey.%s. 300 TXT %s", sel, domain, strings.Join(parts, " ")))
	return func(msg []byte) []byte {
		var out bytes.Buffer
		if err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: sel, Signer: key,
			HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"}}); err != nil {
			e.t.Fatal(err)
		}
		return out.Bytes()
	}
}

func TestSPFResults(t *testing.T) {
	e := newEnv(t,
		`pass.test. 300 TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`fail.test. 300 TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`soft.test. 300 TXT "v=spf1 ~all"`,
		`neutral.test. 300 TXT "v=spf1 ?all"`,
		`broken.test. 300 TXT "v=spf1 foo:bar -all"`,
	)
	e.res.temp["flaky.test"] = true
	for domain, want := range map[string]string{
		"pass.test": "pass", "fail.test": "fail", "soft.test": "softfail", "neutral.test": "neutral",
		"none.test": "none", "flaky.test": "temperror", "broken.test": "permerror",
	} {
		v := e.check("127.0.0.1", "x@"+domain, message("<x@other.test>"))
		if !strings.Contains(v.Header, "spf="+want+" ") || !strings.Contains(v.Header, "smtp.mailfrom=x@"+domain) {
			t.Errorf("%s: header %q; want spf=%s", domain, v.Header, want)
		}
		if v.Action != Accept {
			t.Errorf("%s: action %v; no DMARC, so accept", domain, v.Action)
		}
	}
	// The null sender: the HELO name is checked.
	e.dns.Add(t, `client.example.net. 300 TXT "v=spf1 ip4:127.0.0.1 -all"`)
	v := e.check("127.0.0.1", "", message("<x@other.test>"))
	if !strings.Contains(v.Header, "spf=pass smtp.helo=client.example.net") {
		t.Errorf("null sender: header %q; want the HELO checked", v.Header)
	}
}

func TestDMARCPolicies(t *testing.T) {
	e := newEnv(t,
		`reject.test. 300 TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`_dmarc.reject.test. 300 TXT "v=DMARC1; p=reject"`,
		`_dmarc.quarantine.test. 300 TXT "v=DMARC1; p=quarantine"`,
		`_dmarc.none.test. 300 TXT "v=DMARC1; p=none; rua=mailto:r@none.test"`,
		`_dmarc.sample.test. 300 TXT "v=DMARC1; p=reject; pct=40"`,
		`_dmarc.sample2.test. 300 TXT "v=DMARC1; p=reject; pct=60"`,
		`_dmarc.parent.test. 300 TXT "v=DMARC1; p=reject; sp=quarantine"`,
		`parent.test. 300 TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.strict.test. 300 TXT "v=DMARC1; p=reject; aspf=s"`,
		`bounce.strict.test. 300 TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.relaxed.test. 300 TXT "v=DMARC1; p=reject"`,
		`bounce.relaxed.test. 300 TXT "v=spf1 ip4:127.0.0.1 -all"`,
	)
	e.res.temp["_dmarc.flaky.test"] = true
	for _, c := range []struct {
		name, mailFrom, from string
		want                 Action
		header               string
	}{
		{"p=reject, SPF fails", "x@reject.test", "<a@reject.test>", Reject, "dmarc=fail (p=reject dis=reject) header.from=reject.test"},
		{"p=quarantine, nothing authenticated", "x@elsewhere.test", "<a@quarantine.test>", Junk, "dmarc=fail (p=quarantine dis=quarantine)"},
		{"p=none", "x@elsewhere.test", "<a@none.test>", Accept, "dmarc=fail (p=none dis=none)"},
		{"no record", "x@elsewhere.test", "<a@norecord.test>", Accept, "dmarc=none header.from=norecord.test"},
		{"pct=40, out of the sample (50)", "x@elsewhere.test", "<a@sample.test>", Junk, "dis=quarantine"},
		{"pct=60, in the sample (50)", "x@elsewhere.test", "<a@sample2.test>", Reject, "dis=reject"},
		{"sp for a subdomain", "x@elsewhere.test", "<a@sub.parent.test>", Junk, "(p=quarantine dis=quarantine) header.from=sub.parent.test"},
		{"relaxed SPF alignment: a subdomain's SPF passes", "x@parent.test", "<a@sub.parent.test>", Accept, "dmarc=pass"},
		{"aspf=s: a subdomain's SPF does not align", "x@bounce.strict.test", "<a@strict.test>", Reject, "dmarc=fail"},
		{"aspf=r: a subdomain's SPF aligns", "x@bounce.relaxed.test", "<a@relaxed.test>", Accept, "dmarc=pass"},
		{"policy lookup fails", "x@elsewhere.test", "<a@flaky.test>", Defer, "dmarc=temperror"},
	} {
		v := e.check("127.0.0.1", c.mailFrom, message(c.from))
		if v.Action != c.want || !strings.Contains(v.Header, c.header) {
			t.Errorf("%s: %v %q, header %q; want %v with %q", c.name, v.Action, v.Reason, v.Header, c.want, c.header)
		}
	}
	e.opts.AcceptTempErrors = true
	if v := e.check("127.0.0.1", "x@elsewhere.test", message("<a@flaky.test>")); v.Action != Accept {
		t.Errorf("AcceptTempErrors: %v; want accept", v.Action)
	}
}

func TestDKIMVerifyAndAlign(t *testing.T) {
	e := newEnv(t,
		`_dmarc.signed.test. 300 TXT "v=DMARC1; p=reject; adkim=s"`,
		`_dmarc.example.com. 300 TXT "v=DMARC1; p=reject"`,
	)
	for _, alg := range []string{"rsa", "ed25519"} {
		sign := e.signer("signed.test", "s"+alg, alg)
		signed := sign(message("<a@signed.test>"))
		v := e.check("127.0.0.1", "bounces@elsewhere.test", signed)
		if v.Action != Accept || !strings.Contains(v.Header, "dkim=pass header.d=signed.test header.s=s"+alg) ||
			!strings.Contains(v.Header, "dmarc=pass") {
			t.Errorf("%s signature: %v, header %q; want dkim=pass and dmarc=pass", alg, v.Action, v.Header)
		}
		if len(v.Counts) != 1 || v.Counts[0].DKIM != "pass" || v.Counts[0].SPF != "fail" || v.Counts[0].Disposition != "none" {
			t.Errorf("%s: counts %+v", alg, v.Counts)
		}
		// The report's auth_results: the SPF identity and every signature.
		if c := v.Counts[0]; c.SPFDomain != "elsewhere.test" || c.SPFScope != "mfrom" || c.SPFResult == "" ||
			c.DKIMResults != "signed.test/s"+alg+"=pass" {
			t.Errorf("%s: auth results of the count %+v", alg, c)
		}
		tampered := bytes.Replace(signed, []byte("Hello there."), []byte("Send money."), 1)
		v = e.check("127.0.0.1", "bounces@elsewhere.test", tampered)
		if v.Action != Reject || !strings.Contains(v.Header, "dkim=fail") {
			t.Errorf("%s, body changed: %v, header %q; want dkim=fail and a reject", alg, v.Action, v.Header)
		}
	}
	// adkim=s: a signature of the organisational domain does not align
	// with a subdomain; relaxed it does.
	orgSign := e.signer("example.com", "org", "ed25519")
	if v := e.check("127.0.0.1", "b@elsewhere.test", orgSign(message("<a@news.example.com>"))); v.Action != Accept {
		t.Errorf("relaxed DKIM alignment: %v %q", v.Action, v.Header)
	}
	e.dns.Add(t, `_dmarc.strict.example.com. 300 TXT "v=DMARC1; p=reject; adkim=s"`)
	if v := e.check("127.0.0.1", "b@elsewhere.test", orgSign(message("<a@strict.example.com>"))); v.Action != Reject {
		t.Errorf("strict DKIM alignment: %v %q; want reject", v.Action, v.Header)
	}
	// A key that cannot be fetched now: the verdict waits.
	e.res.temp["down._domainkey.signed.test"] = true
	down := e.signer("signed.test", "down", "ed25519")
	if v := e.check("127.0.0.1", "b@elsewhere.test", down(message("<a@signed.test>"))); v.Action != Defer || !strings.Contains(v.Header, "dkim=temperror") {
		t.Errorf("key lookup fails: %v %q; want defer", v.Action, v.Header)
	}
}

func TestOwnDomainsNeedAuthentication(t *testing.T) {
	// Whatever DNS says of ours.test (here: nothing), mail from it on
	// port 25 must be authenticated.
	e := newEnv(t)
	v := e.check("127.0.0.1", "x@elsewhere.test", message("Alice <alice@ours.test>"))
	if v.Action != Reject || !strings.Contains(v.Reason, "ours.test") {
		t.Errorf("forged From: %v %q; want reject", v.Action, v.Reason)
	}
	v = e.check("127.0.0.1", "", message("<alice@ours.test>, <bob@other.test>"))
	if v.Action != Reject {
		t.Errorf("ours among several authors: %v; want reject", v.Action)
	}
	v = e.check("127.0.0.1", "x@elsewhere.test", message("alice@ours.test (broken <"))
	if v.Action != Reject {
		t.Errorf("unparsable From naming ours: %v; want reject", v.Action)
	}
	sign := e.signer("ours.test", "k", "ed25519")
	if v := e.check("127.0.0.1", "x@elsewhere.test", sign(message("<alice@ours.test>"))); v.Action != Accept {
		t.Errorf("signed by us: %v %q; want accept", v.Action, v.Reason)
	}
	e.dns.Add(t, `ours.test. 300 TXT "v=spf1 ip4:127.0.0.1 -all"`)
	if v := e.check("127.0.0.1", "alice@ours.test", message("<alice@ours.test>")); v.Action != Accept {
		t.Errorf("SPF of ours passes: %v %q; want accept", v.Action, v.Reason)
	}
	e.res.temp["ours.test"] = true
	if v := e.check("127.0.0.1", "alice@ours.test", message("<alice@ours.test>")); v.Action != Defer {
		t.Errorf("SPF of ours fails temporarily: %v %q; want defer", v.Action, v.Reason)
	}
	e.res.temp["elsewhere.test"] = true
	if v := e.check("127.0.0.1", "x@elsewhere.test", message("<alice@ours.test>")); v.Action != Reject {
		t.Errorf("SPF of an unrelated domain fails temporarily: %v %q; want reject (it could not align)", v.Action, v.Reason)
	}
	e.opts.AcceptTempErrors = true
	if v := e.check("127.0.0.1", "x@elsewhere.test", message("<alice@ours.test>")); v.Action != Reject {
		t.Errorf("AcceptTempErrors, unrelated temperror: %v; want reject", v.Action)
	}
	if v := e.check("127.0.0.1", "alice@ours.test", message("<alice@ours.test>")); v.Action != Accept {
		t.Errorf("AcceptTempErrors: %v; want accept", v.Action)
	}
}

// TestOwnDomainAskedOnlyWhenUnaligned: whether a From domain is ours is
// a database read, asked only of mail not authenticated for that domain;
// when it cannot be answered, such mail is deferred, never let through.
func TestOwnDomainAskedOnlyWhenUnaligned(t *testing.T) {
	e := newEnv(t, `ours.test. 300 TXT "v=spf1 ip4:127.0.0.1 -all"`, `other.test. 300 TXT "v=spf1 ip4:127.0.0.1 -all"`)
	var asked []string
	var dirErr error
	e.opts.IsLocal = func(_ context.Context, d string) (bool, error) {
		asked = append(asked, d)
		return d == "ours.test", dirErr
	}
	sign := e.signer("signed.test", "k", "rsa")
	for _, tc := range []struct{ mailFrom, from string }{
		{"alice@ours.test", "<alice@ours.test>"},   // SPF aligned
		{"x@other.test", "<x@other.test>"},         // SPF aligned
		{"x@elsewhere.test", "<news@signed.test>"}, // DKIM aligned
	} {
		msg := message(tc.from)
		if strings.Contains(tc.from, "signed.test") {
			msg = sign(msg)
		}
		asked = nil
		if v := e.check("127.0.0.1", tc.mailFrom, msg); v.Action != Accept || len(asked) != 0 {
			t.Errorf("%s: %v, directory asked about %v; want accept without asking", tc.from, v.Action, asked)
		}
	}
	asked = nil
	if v := e.check("127.0.0.1", "x@elsewhere.test", message("<alice@ours.test>")); v.Action != Reject || len(asked) != 1 {
		t.Errorf("unaligned From of ours: %v, asked %v; want reject after one question", v.Action, asked)
	}
	if v := e.check("127.0.0.1", "x@elsewhere.test", message("<bob@stranger.test>")); v.Action != Accept {
		t.Errorf("unaligned From of a stranger: %v; want accept (no DMARC record)", v.Action)
	}
	dirErr = errors.New("database is locked")
	if v := e.check("127.0.0.1", "x@elsewhere.test", message("<bob@stranger.test>")); v.Action != Defer {
		t.Errorf("unaligned From, directory failing: %v; want defer", v.Action)
	}
	if v := e.check("127.0.0.1", "alice@ours.test", message("<alice@ours.test>")); v.Action != Accept {
		t.Errorf("aligned From, directory failing: %v; want accept (the directory decides nothing)", v.Action)
	}
}

// TestFromAfterMalformedLine: a header line that is not a field does not
// end the header: the From after it is the one a mail reader shows, and
// the checks judge it (a forged From of ours is refused).
func TestFromAfterMalformedLine(t *testing.T) {
	e := newEnv(t)
	for _, junk := range []string{"X-Junk without a colon\r\n", "Bad Name: x\r\n", " leading continuation\r\n"} {
		msg := append([]byte(junk), message("<alice@ours.test>")...)
		if v := e.check("127.0.0.1", "x@elsewhere.test", msg); v.Action != Reject {
			t.Errorf("%q before a forged From of ours: %v; want reject", junk, v.Action)
		}
	}
	// RFC 5322 §4.5's obsolete white space before the colon names the field.
	msg := bytes.Replace(message("<alice@ours.test>"), []byte("From:"), []byte("From :"), 1)
	if v := e.check("127.0.0.1", "x@elsewhere.test", msg); v.Action != Reject {
		t.Errorf("\"From :\" of ours: %v; want reject", v.Action)
	}
}

func TestMultipleFromRefused(t *testing.T) {
	e := newEnv(t)
	msg := append([]byte("From: <a@one.test>\r\n"), message("<b@two.test>")...)
	if v := e.check("127.0.0.1", "x@one.test", msg); v.Action != Reject {
		t.Errorf("two From fields: %v; want reject", v.Action)
	}
}

func TestIPRev(t *testing.T) {
	e := newEnv(t,
		`1.0.0.127.in-addr.arpa. 300 PTR mail.example.net.`,
		`mail.example.net. 300 A 127.0.0.1`,
		`2.0.0.127.in-addr.arpa. 300 PTR liar.example.net.`,
		`liar.example.net. 300 A 192.0.2.9`,
	)
	for ip, want := range map[string]string{"127.0.0.1": "iprev=pass policy.iprev=127.0.0.1 (mail.example.net)", "127.0.0.2": "iprev=fail", "127.0.0.3": "iprev=fail"} {
		if v := e.check(ip, "x@a.test", message("<x@a.test>")); !strings.Contains(v.Header, want) {
			t.Errorf("%s: header %q; want %q", ip, v.Header, want)
		}
	}
}

func TestHeaderShape(t *testing.T) {
	e := newEnv(t)
	e.opts.Skip = map[string]bool{"iprev": true}
	v := e.check("127.0.0.1", "x@a.test", message(`"Evil; dmarc=pass" <x@a.test>`))
	if !strings.HasPrefix(v.Header, "Authentication-Results: mx.ours.test;\r\n\t") || !strings.HasSuffix(v.Header, "\r\n") {
		t.Errorf("header %q", v.Header)
	}
	if strings.Contains(v.Header, "iprev") {
		t.Errorf("iprev skipped but present: %q", v.Header)
	}
	for _, line := range strings.Split(strings.TrimSuffix(v.Header, "\r\n"), "\r\n")[1:] {
		if !strings.HasPrefix(line, "\t") {
			t.Errorf("unfolded line %q", line)
		}
	}
	if v.Summary == "" || strings.Contains(v.Summary, "\n") {
		t.Errorf("summary %q", v.Summary)
	}
}

func TestAuthServID(t *testing.T) {
	for in, want := range map[string]string{
		"mx.ours.test; spf=pass":             "mx.ours.test",
		" (comment) MX.Ours.Test (x); none":  "mx.ours.test",
		"mx.ours.test 1; dkim=pass":          "mx.ours.test",
		"(a (nested) comment)other.test;spf": "other.test",
		"":                                   "",
	} {
		if got := AuthServID(in); got != want {
			t.Errorf("AuthServID(%q) = %q; want %q", in, got, want)
		}
	}
}
