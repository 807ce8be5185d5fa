package admin

import (
	"net/netip"
	"strings"
	"testing"

	"postern/internal/store"
)

var netipLoopback = netip.MustParseAddr("127.0.0.1")

func TestRotateDKIM(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org") // keys t1e, t1r
	h.mustDomain("other.test")  // keys t2e, t2r

	keys, err := h.svc.RotateDKIM(h.ctx, "Example.ORG")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Selector != "t3e" || keys[0].Algorithm != store.DKIMEd25519 ||
		keys[1].Algorithm != store.DKIMRSA || !keys[0].Active || keys[0].Domain != "example.org" {
		t.Errorf("rotated keys %+v", keys)
	}
	h.wantAudit("dkim.rotate", "example.org", "dkim_selectors", "t3e,t3r")
	if strings.Contains(h.log.String(), "PRIVATE KEY") {
		t.Error("the audit log holds a private key")
	}

	list, err := h.svc.DKIMKeys(h.ctx, "example.org")
	if err != nil || len(list) != 4 {
		t.Fatalf("keys of example.org: %+v %v", list, err)
	}
	active := map[string]bool{}
	for _, k := range list {
		active[k.Selector] = k.Active
	}
	if !active["t3e"] || !active["t3r"] || active["t1e"] || active["t1r"] {
		t.Errorf("after rotation, active: %v", active)
	}
	all, err := h.svc.DKIMKeys(h.ctx, "")
	if err != nil || len(all) != 6 || all[0].Domain != "example.org" || all[5].Domain != "other.test" {
		t.Errorf("every key: %+v %v", all, err)
	}

	_, err = h.svc.RotateDKIM(h.ctx, "nosuch.test")
	wantErr(t, err, KindNotFound, "domain", "domain nosuch.test does not exist")
	_, err = h.svc.RotateDKIM(h.ctx, "bad domain")
	wantErr(t, err, KindInvalid, "domain", "is not a domain name")
	_, err = h.svc.DKIMKeys(h.ctx, "nosuch.test")
	wantErr(t, err, KindNotFound, "domain", "domain nosuch.test does not exist")
	h.wantNoAudit("refused rotations and reads")
}

func TestDNSRecords(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	if _, err := h.svc.RotateDKIM(h.ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	h.audits()
	z, err := h.svc.DNSRecords(h.ctx, "EXAMPLE.org")
	if err != nil {
		t.Fatal(err)
	}
	if z.Domain != "example.org" || z.Host != "mail.example.org" {
		t.Errorf("zone %q served by %q", z.Domain, z.Host)
	}
	var got []string
	for _, r := range z.Records {
		v := r.Value
		if r.Purpose == DNSDKIM {
			v = v[:strings.Index(v, "p=")+2] + "..."
		}
		got = append(got, string(r.Purpose)+" "+r.Name+" "+r.Type+" "+v)
	}
	want := []string{
		"mx example.org. MX 10 mail.example.org.",
		"spf example.org. TXT v=spf1 mx -all",
		// Only the active keys, newest first.
		"dkim t2r._domainkey.example.org. TXT v=DKIM1; k=rsa; p=...",
		"dkim t2e._domainkey.example.org. TXT v=DKIM1; k=ed25519; p=...",
		"dmarc _dmarc.example.org. TXT v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org",
		"discovery _submissions._tcp.example.org. SRV 0 1 465 mail.example.org.",
		"discovery _submission._tcp.example.org. SRV 10 1 587 mail.example.org.",
		"discovery _imaps._tcp.example.org. SRV 0 1 993 mail.example.org.",
		"discovery _imap._tcp.example.org. SRV 10 1 143 mail.example.org.",
		"discovery _pop3s._tcp.example.org. SRV 20 1 995 mail.example.org.",
		"discovery _pop3._tcp.example.org. SRV 30 1 110 mail.example.org.",
		"autoconfig autoconfig.example.org. CNAME mail.example.org.",
		"autoconfig autodiscover.example.org. CNAME mail.example.org.",
		"autoconfig _autodiscover._tcp.example.org. SRV 0 1 443 mail.example.org.",
		"mta-sts mta-sts.example.org. CNAME mail.example.org.",
		"mta-sts _mta-sts.example.org. TXT v=STSv1; id=" + MTASTSPolicyID("testing", "mail.example.org"),
		"mta-sts _smtp._tls.example.org. TXT v=TLSRPTv1; rua=mailto:postmaster@example.org",
	}
	if MTASTSPolicyID("enforce", "mail.example.org") == MTASTSPolicyID("testing", "mail.example.org") ||
		len(MTASTSPolicyID("", "x")) > 32 {
		t.Error("the MTA-STS id does not follow the mode, or is too long")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, err = h.svc.DNSRecords(h.ctx, "nosuch.test")
	wantErr(t, err, KindNotFound, "domain", "domain nosuch.test does not exist")
	h.wantNoAudit("reads")
}
