package authcheck

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// nxResolver knows no name: the checks run offline.
type nxResolver struct{}

func nx(name string) error { return &net.DNSError{Err: "no such record", Name: name, IsNotFound: true} }

func (nxResolver) LookupTXT(_ context.Context, n string) ([]string, error)        { return nil, nx(n) }
func (nxResolver) LookupMX(_ context.Context, n string) ([]*net.MX, error)        { return nil, nx(n) }
func (nxResolver) LookupIPAddr(_ context.Context, n string) ([]net.IPAddr, error) { return nil, nx(n) }
func (nxResolver) LookupAddr(_ context.Context, n string) ([]string, error)       { return nil, nx(n) }

// FuzzCheck runs every check on arbitrary messages: no panic, one
// well-formed Authentication-Results field, whatever the input.
func FuzzCheck(f *testing.F) {
	f.Add([]byte("From: a@b.test\r\n\r\nbody\r\n"), "x@b.test")
	f.Add([]byte("From: \"x\" <a@ours.test>, b@c\r\nFrom: y\r\n\r\n"), "")
	f.Add([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=b.test; s=s; h=from; bh=; b=\r\nFrom: a@b.test\r\n\r\n"), "x@b.test")
	f.Add([]byte("ARC-Seal: i=1; cv=none; a=rsa-sha256; d=x; s=y; b=\r\nARC-Message-Signature: i=1; h=from; bh=x; b=y\r\nARC-Authentication-Results: i=1; x\r\n\r\n"), "a@x")
	f.Add([]byte("ARC-Seal: i=99\r\nFrom: (a@ours.test\r\n\r\n"), "a@ours.test")
	c := New(Options{Resolver: nxResolver{}, Hostname: "mx.ours.test",
		IsLocal: func(_ context.Context, d string) (bool, error) { return d == "ours.test", nil }})
	f.Fuzz(func(t *testing.T, msg []byte, mailFrom string) {
		v := c.Check(context.Background(), Input{IP: netip.MustParseAddr("192.0.2.1"), Helo: "h.test", MailFrom: mailFrom,
			Message: bytes.NewReader(msg), Size: int64(len(msg))})
		if !strings.HasPrefix(v.Header, "Authentication-Results: mx.ours.test;\r\n\t") || !strings.HasSuffix(v.Header, "\r\n") {
			t.Fatalf("header %q", v.Header)
		}
		body := strings.TrimSuffix(v.Header, "\r\n")
		if strings.Contains(strings.ReplaceAll(body, "\r\n\t", ""), "\n") || strings.Contains(strings.ReplaceAll(body, "\r\n\t", ""), "\r") {
			t.Fatalf("header has a bare line break: %q", v.Header)
		}
		if v.Action == Accept && v.Reason != "" {
			t.Fatalf("accepted with reason %q", v.Reason)
		}
	})
}

// FuzzHeaderParsers: the small parsers of outside text.
func FuzzHeaderParsers(f *testing.F) {
	f.Add("mx.test (c) ; spf=pass")
	f.Add("i=1; a=b; b=c\r\n d; bh=x")
	f.Add(`"a@b" <c@d.test>, (x) e@f`)
	f.Add("v=1; a=rsa-sha256; d=a.test; s=s; h=from:to; bh=; b=; l=10; t=1; x=2; i=@a.test")
	f.Add("v=DKIM1; k=ed25519; t=y:s; h=sha256; s=email; p=AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		_ = AuthServID(s)
		if d := fromDomains(s); len(d) > maxFromDomains {
			t.Fatalf("%d domains", len(d))
		}
		_, _ = tagList(s)
		_ = arcInstance(s)
		_ = withoutSignature([]byte("X: " + s))
		_ = relaxedHeader([]byte("X: " + s))
		_, _ = parseSignature([]byte("DKIM-Signature: "+s+"\r\n"), time.Now())
		_, _ = parseKeyRecord(s)
		if kept, n := WithoutOurResults([]byte(s), "mx.ours.test"); len(kept) > len(s) || (n == 0 && string(kept) != s) {
			t.Fatalf("WithoutOurResults(%q) = %q, %d", s, kept, n)
		}
		if p := pvalue(s); strings.ContainsAny(p, "\r\n") {
			t.Fatalf("pvalue(%q) = %q", s, p)
		}
	})
}

// FuzzBodyHashAgrees: our body canonicalization (RFC 6376 §3.4.3,
// §3.4.4) hashes any body as go-msgauth's signer does.
func FuzzBodyHashAgrees(f *testing.F) {
	f.Add([]byte("a  b \t\r\n\r\n \r\nc\r\n\r\n"), true)
	f.Add([]byte(""), false)
	f.Add([]byte("no line end"), true)
	f.Add([]byte("\r\n\r\n"), false)
	k := testKeys(f)
	f.Fuzz(func(t *testing.T, body []byte, relaxed bool) {
		if len(body) > 64<<10 {
			return
		}
		msg := append([]byte("From: a@sign.test\r\n\r\n"), crlfOnly(body)...)
		canon := dkim.CanonicalizationSimple
		if relaxed {
			canon = dkim.CanonicalizationRelaxed
		}
		signed := goSign(t, msg, dkim.SignOptions{Selector: "ed", Signer: k.ed, BodyCanonicalization: canon})
		tags, err := tagList(field{raw: signatureFields(signed)[0]}.value())
		if err != nil {
			t.Fatal(err)
		}
		ours, err := bodyHash(bytes.NewReader(msg[len("From: a@sign.test\r\n\r\n"):]), relaxed, -1)
		if err != nil || base64.StdEncoding.EncodeToString(ours) != tags["bh"] {
			t.Fatalf("body %q relaxed=%v: ours %x, go-msgauth bh=%s", body, relaxed, ours, tags["bh"])
		}
	})
}

// FuzzValueAndTags holds field.value and withoutSpace, which skip work
// for the common field, to the plain formulas they replace.
func FuzzValueAndTags(f *testing.F) {
	for _, s := range []string{"DKIM-Signature: v=1; a=rsa-sha256;\r\n\tb=ab cd\r\n", "X: \r\n a\r\r\nb\n", "S: a\u00a0b \u0085c", "N:\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, v, _ := strings.Cut(raw, ":")
		want := strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(v, "\r\n", ""), "\n", ""))
		if got := (field{raw: []byte(raw)}).value(); got != want {
			t.Errorf("value(%q) = %q, want %q", raw, got, want)
		}
		if got, want := withoutSpace(raw), strings.Join(strings.Fields(raw), ""); got != want {
			t.Errorf("withoutSpace(%q) = %q, want %q", raw, got, want)
		}
	})
}
