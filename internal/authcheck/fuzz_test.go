package authcheck

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
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
	f.Fuzz(func(t *testing.T, s string) {
		_ = AuthServID(s)
		if d := fromDomains(s); len(d) > maxFromDomains {
			t.Fatalf("%d domains", len(d))
		}
		_, _ = tagList(s)
		_ = arcInstance(s)
		_ = withoutSignature([]byte("X: " + s))
		_ = relaxedHeader([]byte("X: " + s))
		if p := pvalue(s); strings.ContainsAny(p, "\r\n") {
			t.Fatalf("pvalue(%q) = %q", s, p)
		}
	})
}
