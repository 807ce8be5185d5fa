package admin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"postern/internal/queue/queuetest"
)

// failingLookup fails every question about one name, as a resolver that
// times out or answers SERVFAIL does.
type failingLookup struct {
	DNSLookup
	name string
}

func (f failingLookup) Lookup(ctx context.Context, name string, qtype uint16) (DNSAnswer, error) {
	if canonHost(name) == f.name {
		return DNSAnswer{}, errors.New("SERVFAIL")
	}
	return f.DNSLookup.Lookup(ctx, name, qtype)
}

// zoneTXT quotes a TXT value for the test DNS server in strings of at
// most 100 bytes, as DNS hosting splits long keys.
func zoneTXT(v string) string {
	var parts []string
	for len(v) > 100 {
		parts = append(parts, `"`+v[:100]+`"`)
		v = v[100:]
	}
	return strings.Join(append(parts, `"`+v+`"`), " ")
}

func TestCheckDNS(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	if _, err := h.svc.RotateDKIM(h.ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	h.audits()
	z, err := h.svc.DNSRecords(h.ctx, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	var rsaName, rsaKey, edName string
	for _, r := range z.Records {
		if r.Purpose == DNSDKIM && strings.Contains(r.Value, "k=rsa") {
			rsaName, rsaKey = r.Name, r.Value
		} else if r.Purpose == DNSDKIM {
			edName = r.Name
		}
	}
	d := queuetest.StartDNS(t)
	d.Add(t,
		// Right, loosely: another preference, upper case, no MX of ours first.
		"example.org. MX 5 backup.example.net.", "example.org. MX 20 MAIL.Example.ORG.",
		// SPF among other TXT records, with extra mechanisms.
		`example.org. TXT "google-site-verification=abc"`,
		`example.org. TXT "v=spf1 ip4:198.51.100.7 include:_spf.example.net mx ~all"`,
		// The RSA key split into strings and spaced differently.
		rsaName+" TXT "+zoneTXT(strings.ReplaceAll(rsaKey, "; ", ";  ")),
		// Another ed25519 key than ours.
		edName+` TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="`,
		// No DMARC at all.
		"_submissions._tcp.example.org. SRV 5 0 465 mail.example.org.",
		"_submission._tcp.example.org. SRV 10 1 2525 mail.example.org.", // wrong port
		"_imaps._tcp.example.org. SRV 0 1 993 mail.example.org.",
		"_imap._tcp.example.org. SRV 0 0 0 .", // not offered
		"autoconfig.example.org. CNAME mail.example.org.",
		"autodiscover.example.org. A 192.0.2.10", // the host's address: fine
		"mail.example.org. A 192.0.2.10",
		"mta-sts.example.org. CNAME www.example.net.",
		`_mta-sts.example.org. TXT "v=STSv1; id=20200101"`,
		`_smtp._tls.example.org. TXT "v=TLSRPTv1;rua=mailto:tls@example.net"`,
	)
	h.svc.dns = failingLookup{DNSLookup: NewDNSLookup([]string{d.Addr}), name: "_pop3s._tcp.example.org."}
	c, err := h.svc.CheckDNS(h.ctx, "Example.org")
	if err != nil {
		t.Fatal(err)
	}
	if c.Domain != "example.org" || c.CheckedAt.IsZero() || len(c.Records) != len(z.Records) || c.OK() {
		t.Fatalf("check of %q at %v: %d records, ok=%v", c.Domain, c.CheckedAt, len(c.Records), c.OK())
	}
	want := map[string]string{
		"MX example.org.":                     DNSOK,
		"TXT example.org.":                    DNSOK,
		"TXT " + rsaName:                      DNSOK,
		"TXT " + edName:                       DNSWrong,
		"TXT _dmarc.example.org.":             DNSMissing,
		"SRV _submissions._tcp.example.org.":  DNSOK,
		"SRV _submission._tcp.example.org.":   DNSWrong,
		"SRV _imaps._tcp.example.org.":        DNSOK,
		"SRV _imap._tcp.example.org.":         DNSWrong,
		"SRV _pop3s._tcp.example.org.":        DNSError,
		"SRV _pop3._tcp.example.org.":         DNSMissing,
		"CNAME autoconfig.example.org.":       DNSOK,
		"CNAME autodiscover.example.org.":     DNSOK,
		"SRV _autodiscover._tcp.example.org.": DNSMissing,
		"CNAME mta-sts.example.org.":          DNSWrong,
		"TXT _mta-sts.example.org.":           DNSWrong,
		"TXT _smtp._tls.example.org.":         DNSOK,
	}
	for _, r := range c.Records {
		key := r.Type + " " + r.Name
		if r.Status != want[key] {
			t.Errorf("%s: %s (found %q, fix %q), want %s", key, r.Status, r.Found, r.Fix, want[key])
		}
		if (r.Status == DNSOK) != (r.Fix == "") {
			t.Errorf("%s: status %s with fix %q", key, r.Status, r.Fix)
		}
		if r.Found == nil {
			t.Errorf("%s: Found is nil, want a list", key)
		}
		switch key {
		case "TXT example.org.":
			if len(r.Found) != 1 || !strings.HasPrefix(r.Found[0], "v=spf1 ") {
				t.Errorf("SPF found %q, want only the SPF record", r.Found)
			}
		case "TXT _mta-sts.example.org.":
			if !strings.Contains(r.Fix, "id=") || !strings.Contains(r.Fix, MTASTSPolicyID("testing", "mail.example.org")) {
				t.Errorf("MTA-STS fix %q does not give the id", r.Fix)
			}
		case "SRV _pop3s._tcp.example.org.":
			if !strings.Contains(r.Fix, "SERVFAIL") {
				t.Errorf("error fix %q does not say why", r.Fix)
			}
		}
	}
	h.wantNoAudit("a DNS check")

	_, err = h.svc.CheckDNS(h.ctx, "nosuch.test")
	wantErr(t, err, KindNotFound, "domain", "domain nosuch.test does not exist")
}

func TestCheckSPFVariants(t *testing.T) {
	zone := staticLookup{
		"A mail.example.org.":     {"192.0.2.10"},
		"AAAA mail.example.org.":  {"2001:db8::10"},
		"MX example.org.":         {"10 mail.example.org."},
		"MX other.example.":       {"10 mx.other.example."},
		"A web.example.org.":      {"192.0.2.10"},
		"TXT _spf.example.net.":   {"v=spf1 ip4:192.0.2.0/24 -all"},
		"TXT _spf.elsewhere.net.": {"v=spf1 ip4:198.51.100.0/24 -all"},
		"TXT loop.example.net.":   {"v=spf1 include:loop.example.net -all"},
	}
	for _, tc := range []struct {
		records []string
		want    string
	}{
		{nil, DNSMissing},
		{[]string{"v=spf1 mx -all"}, DNSOK},
		{[]string{"V=SPF1 +MX -ALL"}, DNSOK},
		{[]string{"v=spf1 mx:example.org/24 -all"}, DNSOK},
		{[]string{"v=spf1 a:mail.example.org -all"}, DNSOK},
		{[]string{"v=spf1 a:web.example.org -all"}, DNSOK}, // another name of this host
		{[]string{"v=spf1 ip4:192.0.2.10 -all"}, DNSOK},
		{[]string{"v=spf1 ip4:192.0.2.0/28 -all"}, DNSOK},
		{[]string{"v=spf1 ip6:2001:db8::/32 -all"}, DNSOK},
		{[]string{"v=spf1 include:_spf.example.net ~all"}, DNSOK},
		{[]string{"v=spf1 redirect=_spf.example.net"}, DNSOK},
		{[]string{"v=spf1 include:_spf.elsewhere.net -all"}, DNSWrong},
		{[]string{"v=spf1 mx:other.example -all"}, DNSWrong},
		{[]string{"v=spf1 ip4:192.0.2.11 -all"}, DNSWrong},
		{[]string{"v=spf1 -all"}, DNSWrong},
		{[]string{"v=spf1 -mx mx ~all"}, DNSWrong}, // the first match decides
		{[]string{"v=spf1 ~all mx"}, DNSWrong},
		{[]string{"v=spf1 mx +all"}, DNSWrong},
		{[]string{"v=spf1 mx -all", "v=spf1 a -all"}, DNSWrong},
		{[]string{"v=spf1x mx"}, DNSMissing},
		{[]string{"v=spf1 include:loop.example.net -all"}, DNSError},
	} {
		c := &dnsChecker{host: "mail.example.org.", cache: map[dnsQuestion]*dnsResult{}, lookup: zone}
		r := DNSCheckRecord{Name: "example.org.", Type: "TXT", Want: "v=spf1 mx -all", Found: tc.records}
		c.checkSPF(context.Background(), &r)
		if r.Status != tc.want {
			t.Errorf("SPF %q: %s (%s), want %s", tc.records, r.Status, r.Fix, tc.want)
		}
	}
}

// staticLookup answers from a map by "TYPE name".
type staticLookup map[string][]string

func (s staticLookup) Lookup(_ context.Context, name string, qtype uint16) (DNSAnswer, error) {
	recs := s[dns.TypeToString[qtype]+" "+name]
	if recs == nil {
		recs = []string{}
	}
	return DNSAnswer{Records: recs}, nil
}
