package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"postern/internal/dkim"
	"postern/internal/store"
)

// DKIMKey is what the service shows of a signing key: never the private
// key.
type DKIMKey struct {
	Domain    string
	Selector  string
	Algorithm string // store.DKIMEd25519 or store.DKIMRSA
	Active    bool
	CreatedAt time.Time
}

func dkimKeyView(k store.DKIMKey) DKIMKey {
	return DKIMKey{Domain: k.Domain, Selector: k.Selector, Algorithm: k.Algorithm, Active: k.Active, CreatedAt: k.CreatedAt}
}

// RotateDKIM gives the domain a new Ed25519 and RSA key pair, which sign
// from now on; the old keys are kept as retired so their DNS records can
// stay published while signed mail is in flight (RFC 6376 §3.6.1 lets a
// verifier fetch the key long after signing).
func (s *Service) RotateDKIM(ctx context.Context, domain string) ([]DKIMKey, error) {
	if err := needActor(ctx); err != nil {
		return nil, err
	}
	d, err := s.localDomain(ctx, domain)
	if err != nil {
		return nil, err
	}
	keys, err := s.newKeys(time.Now())
	if err != nil {
		return nil, err
	}
	if err := s.st.RotateDKIMKeys(ctx, d.Name, keys); err != nil {
		return nil, storeErr(err, "domain", d.Name, "domain "+d.Name)
	}
	s.audit(ctx, "dkim.rotate", d.Name, "dkim_selectors", selectors(keys))
	out := make([]DKIMKey, len(keys))
	for i, k := range keys {
		k.Domain, k.Active = d.Name, true
		out[i] = dkimKeyView(k)
	}
	return out, nil
}

// DKIMKeys lists a domain's keys, active and retired, newest first; every
// domain's, by domain, when domain is "".
func (s *Service) DKIMKeys(ctx context.Context, domain string) ([]DKIMKey, error) {
	if domain != "" {
		d, err := s.localDomain(ctx, domain)
		if err != nil {
			return nil, err
		}
		domain = d.Name
	}
	keys, err := s.st.DKIMKeys(ctx, domain, false)
	if err != nil {
		return nil, storeErr(err, "domain", domain, "domain "+domain)
	}
	out := make([]DKIMKey, len(keys))
	for i, k := range keys {
		out[i] = dkimKeyView(k)
	}
	return out, nil
}

// DNSPurpose groups the records a domain needs by what they are for.
type DNSPurpose string

// The purposes, in the order DNSRecords returns them.
const (
	DNSMX         DNSPurpose = "mx"         // RFC 5321 §5
	DNSSPF        DNSPurpose = "spf"        // RFC 7208
	DNSDKIM       DNSPurpose = "dkim"       // RFC 6376, RFC 8463
	DNSDMARC      DNSPurpose = "dmarc"      // RFC 7489
	DNSDiscovery  DNSPurpose = "discovery"  // SRV for mail clients, RFC 6186, RFC 8314
	DNSAutoconfig DNSPurpose = "autoconfig" // Thunderbird autoconfig, Outlook autodiscover
	DNSMTASTS     DNSPurpose = "mta-sts"    // RFC 8461 policy, RFC 8460 TLS reports
)

// DNSRecord is one record to publish.
type DNSRecord struct {
	Purpose DNSPurpose
	// Name is fully qualified, with the trailing dot.
	Name string
	Type string // MX, TXT, SRV, CNAME
	// Value is the record data in zone-file form, except that a TXT value
	// is the bare text (unquoted, unsplit): what DNS hosting panels ask
	// for. dkim.ZoneTXT quotes it for a zone file.
	Value string
}

// DNSZone is every record a domain served by Host needs.
type DNSZone struct {
	Domain  string
	Host    string
	Records []DNSRecord
}

// DNSRecords returns the records the domain needs: MX, SPF, one DKIM key
// record per active key, DMARC, the SRV records that let mail clients find
// submission, IMAP and POP3, and the autoconfiguration names.
func (s *Service) DNSRecords(ctx context.Context, domain string) (DNSZone, error) {
	dom, err := s.localDomain(ctx, domain)
	if err != nil {
		return DNSZone{}, err
	}
	keys, err := s.st.DKIMKeys(ctx, dom.Name, true)
	if err != nil {
		return DNSZone{}, err
	}
	z := DNSZone{Domain: dom.Name, Host: strings.TrimSuffix(s.host, ".")}
	d, h := z.Domain+".", z.Host+"."
	add := func(p DNSPurpose, name, typ, value string) {
		z.Records = append(z.Records, DNSRecord{Purpose: p, Name: name, Type: typ, Value: value})
	}
	add(DNSMX, d, "MX", "10 "+h)
	// Only the MX hosts send for the domain.
	add(DNSSPF, d, "TXT", "v=spf1 mx -all")
	for _, k := range keys {
		txt, err := dkim.TXTRecord(k)
		if err != nil {
			return DNSZone{}, err
		}
		add(DNSDKIM, dkim.RecordName(k, z.Domain)+".", "TXT", txt)
	}
	add(DNSDMARC, "_dmarc."+d, "TXT", "v=DMARC1; p=quarantine; rua=mailto:postmaster@"+z.Domain)
	// RFC 8314 §5.1 prefers implicit TLS: priority 0 for the TLS ports.
	for _, srv := range []struct {
		name       string
		prio, port int
	}{{"_submissions", 0, 465}, {"_submission", 10, 587}, {"_imaps", 0, 993}, {"_imap", 10, 143},
		{"_pop3s", 20, 995}, {"_pop3", 30, 110}} {
		add(DNSDiscovery, srv.name+"._tcp."+d, "SRV", fmt.Sprintf("%d 1 %d %s", srv.prio, srv.port, h))
	}
	add(DNSAutoconfig, "autoconfig."+d, "CNAME", h)
	add(DNSAutoconfig, "autodiscover."+d, "CNAME", h)
	add(DNSAutoconfig, "_autodiscover._tcp."+d, "SRV", "0 1 443 "+h)
	// RFC 8461 §3.1: the id changes whenever the policy does (its mode
	// and mx here); the policy is served by the mta-sts. host over HTTPS.
	add(DNSMTASTS, "mta-sts."+d, "CNAME", h)
	add(DNSMTASTS, "_mta-sts."+d, "TXT", "v=STSv1; id="+MTASTSPolicyID(s.mtastsMode, z.Host))
	add(DNSMTASTS, "_smtp._tls."+d, "TXT", "v=TLSRPTv1; rua=mailto:postmaster@"+z.Domain) // RFC 8460 §3
	return z, nil
}

// zoneSections head each purpose's records in ZoneFile, in its order.
var zoneSections = []struct {
	purpose DNSPurpose
	heading string
}{
	{DNSMX, "Mail exchanger (RFC 5321 section 5)"},
	{DNSSPF, "SPF (RFC 7208): only the MX hosts send for the domain"},
	{DNSDKIM, "DKIM keys (RFC 6376, RFC 8463)"},
	{DNSDMARC, "DMARC (RFC 7489)"},
	{DNSDiscovery, "Service discovery for mail clients (RFC 6186, RFC 8314)"},
	{DNSAutoconfig, "Autoconfiguration names (Thunderbird autoconfig, Outlook autodiscover)"},
	{DNSMTASTS, "MTA-STS (RFC 8461): policy host and id; TLS reports (RFC 8460)"},
}

// ZoneFile renders the records as a zone file with a comment per
// purpose: what `postern dns` prints and the admin API serves.
func (z DNSZone) ZoneFile() string {
	var b strings.Builder
	fmt.Fprintf(&b, "; DNS records for %s (served by %s), generated by postern.\n", z.Domain, z.Host)
	fmt.Fprintf(&b, "; %s needs A/AAAA records for this server, and reverse DNS (PTR) naming it.\n", z.Host)
	fmt.Fprintf(&b, "$TTL 3600\n")
	for _, sec := range zoneSections {
		fmt.Fprintf(&b, "\n; %s\n", sec.heading)
		n := 0
		for _, r := range z.Records {
			if r.Purpose != sec.purpose {
				continue
			}
			n++
			v := r.Value
			if r.Type == "TXT" {
				v = dkim.ZoneTXT(v)
			}
			fmt.Fprintf(&b, "%s\tIN\t%s\t%s\n", r.Name, r.Type, v)
		}
		if n == 0 && sec.purpose == DNSDKIM {
			fmt.Fprintf(&b, "; none: run `postern dkim rotate %s`\n", z.Domain)
		}
	}
	return b.String()
}

// MTASTSPolicyID is the id of the MTA-STS policy with this mode and mx
// (RFC 8461 §3.1: up to 32 alphanumerics): a digest, so it changes
// exactly when the policy does.
func MTASTSPolicyID(mode, mx string) string {
	if mode == "" {
		mode = "testing"
	}
	sum := sha256.Sum256([]byte("STSv1\x00" + mode + "\x00" + strings.ToLower(mx)))
	return hex.EncodeToString(sum[:10])
}
