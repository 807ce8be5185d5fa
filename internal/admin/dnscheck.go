package admin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Status of one checked record.
const (
	DNSOK      = "ok"      // published as needed, or equivalent
	DNSMissing = "missing" // nothing of this kind at the name
	DNSWrong   = "wrong"   // published, but not what the domain needs
	DNSError   = "error"   // the lookup failed: nothing is known
)

// DNSCheckRecord is one needed record beside what DNS publishes.
type DNSCheckRecord struct {
	Purpose DNSPurpose
	Type    string
	Name    string
	// Want is the record to publish, as DNSRecord.Value.
	Want string
	// Found are the records of Type at Name that matter (for the TXT
	// records at the domain itself, only SPF ones when there are any).
	Found  []string
	Status string
	// Fix says in words what to change; "" when Status is ok.
	Fix string
}

// DNSCheck is the live check of a domain's records.
type DNSCheck struct {
	Domain    string
	CheckedAt time.Time
	Records   []DNSCheckRecord
}

// OK reports whether every record is ok.
func (c DNSCheck) OK() bool {
	for _, r := range c.Records {
		if r.Status != DNSOK {
			return false
		}
	}
	return true
}

// dnsCheckTimeout bounds a whole check; the queries run a few at a time.
const (
	dnsCheckTimeout  = 20 * time.Second
	dnsCheckParallel = 6
)

// CheckDNS looks up, through Options.DNS, every record DNSRecords says
// the domain needs and tells for each whether DNS publishes it. Matching
// is as loose as DNS allows: case and the trailing dot of names, TXT
// values split into strings, an SPF record that authorises this host
// among other mechanisms, a DKIM key equal but for whitespace, SRV and MX
// records that point here with other priorities. A failed lookup is
// DNSError, never DNSOK.
func (s *Service) CheckDNS(ctx context.Context, domain string) (DNSCheck, error) {
	z, err := s.DNSRecords(ctx, domain)
	if err != nil {
		return DNSCheck{}, err
	}
	if s.dns == nil {
		return DNSCheck{}, errNoLookup
	}
	ctx, cancel := context.WithTimeout(ctx, dnsCheckTimeout)
	defer cancel()
	c := &dnsChecker{lookup: s.dns, host: canonHost(z.Host), cache: map[dnsQuestion]*dnsResult{}}
	out := DNSCheck{Domain: z.Domain, CheckedAt: time.Now().UTC(), Records: make([]DNSCheckRecord, len(z.Records))}
	sem := make(chan struct{}, dnsCheckParallel)
	var wg sync.WaitGroup
	for i, r := range z.Records {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out.Records[i] = c.check(ctx, r)
		}()
	}
	wg.Wait()
	return out, nil
}

type dnsQuestion struct {
	name  string
	qtype uint16
}

type dnsResult struct {
	once sync.Once
	ans  DNSAnswer
	err  error
}

// dnsChecker runs one check; each question is asked once (the host's
// addresses are needed by several records).
type dnsChecker struct {
	lookup DNSLookup
	host   string
	mu     sync.Mutex
	cache  map[dnsQuestion]*dnsResult
}

func (c *dnsChecker) ask(ctx context.Context, name string, qtype uint16) (DNSAnswer, error) {
	q := dnsQuestion{canonHost(name), qtype}
	c.mu.Lock()
	r := c.cache[q]
	if r == nil {
		r = &dnsResult{}
		c.cache[q] = r
	}
	c.mu.Unlock()
	r.once.Do(func() { r.ans, r.err = c.lookup.Lookup(ctx, q.name, qtype) })
	return r.ans, r.err
}

// check compares one needed record with DNS.
func (c *dnsChecker) check(ctx context.Context, r DNSRecord) DNSCheckRecord {
	out := DNSCheckRecord{Purpose: r.Purpose, Type: r.Type, Name: r.Name, Want: r.Value, Found: []string{}}
	qtype := dns.StringToType[r.Type]
	ans, err := c.ask(ctx, r.Name, qtype)
	if err != nil {
		out.Status = DNSError
		out.Fix = fmt.Sprintf("the %s lookup of %s failed (%v); check the resolvers in [dns] servers and try again", r.Type, r.Name, err)
		return out
	}
	if ans.Records != nil {
		out.Found = ans.Records
	}
	switch {
	case r.Purpose == DNSMX:
		c.checkMX(&out)
	case r.Purpose == DNSSPF:
		c.checkSPF(ctx, &out)
	case r.Purpose == DNSDKIM:
		checkDKIM(&out)
	case r.Type == "TXT":
		checkTagged(&out)
	case r.Type == "SRV":
		c.checkSRV(&out)
	case r.Type == "CNAME":
		c.checkCNAME(ctx, &out)
	}
	return out
}

func (r *DNSCheckRecord) set(status, format string, args ...any) {
	r.Status, r.Fix = status, fmt.Sprintf(format, args...)
}

// checkMX: any preference will do as long as an MX names this host; a null
// MX (RFC 7505) says the domain takes no mail.
func (c *dnsChecker) checkMX(r *DNSCheckRecord) {
	if len(r.Found) == 0 {
		r.set(DNSMissing, "publish %s MX %s so that other servers deliver the domain's mail here", r.Name, r.Want)
		return
	}
	for _, v := range r.Found {
		if _, host, _ := strings.Cut(v, " "); host == c.host {
			r.Status = DNSOK
			return
		}
	}
	r.set(DNSWrong, "the MX records point elsewhere; replace them with %s MX %s (mail to the domain does not reach this server)", r.Name, r.Want)
}

// spfRecords are the TXT values that are SPF records (RFC 7208 §4.5: the
// version tag, then a space or the end).
func spfRecords(txt []string) []string {
	var out []string
	for _, v := range txt {
		if l := strings.ToLower(strings.TrimSpace(v)); l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ") {
			out = append(out, v)
		}
	}
	return out
}

// checkSPF accepts one SPF record that lets this host send: evaluated for
// this host's addresses as a receiver would (RFC 7208 §4.6: the first
// mechanism that matches decides, include: and redirect= followed, at
// most 10 lookups), it must give pass, and must not end in "+all"
// (anyone may send).
func (c *dnsChecker) checkSPF(ctx context.Context, r *DNSCheckRecord) {
	spf := spfRecords(r.Found)
	if len(spf) > 0 {
		r.Found = spf
	}
	switch {
	case len(spf) == 0:
		r.set(DNSMissing, "publish a TXT record at %s: %q", r.Name, r.Want)
		return
	case len(spf) > 1:
		r.set(DNSWrong, "there are %d SPF records and receivers then ignore all of them (RFC 7208 §3.2); keep one: %q", len(spf), r.Want)
		return
	}
	terms := strings.Fields(strings.ToLower(spf[0]))
	if last := terms[len(terms)-1]; last == "all" || last == "+all" {
		r.set(DNSWrong, "the SPF record ends in +all, which lets anyone send as the domain; end it in -all: %q", r.Want)
		return
	}
	lookups := 0
	result, err := c.spfResult(ctx, spf[0], strings.TrimSuffix(canonHost(r.Name), "."), &lookups)
	switch {
	case err != nil:
		r.set(DNSError, "evaluating the SPF record failed (%v); check the resolvers in [dns] servers and the included records", err)
	case result != '+':
		r.set(DNSWrong, "the SPF record does not let this server (%s) send for the domain (a receiver gets %s); add the mechanism mx before its \"all\", e.g. %q",
			strings.TrimSuffix(c.host, "."), spfResultName(result), r.Want)
	default:
		r.Status = DNSOK
	}
}

// maxSPFLookups is RFC 7208 §4.6.4's limit on the mechanisms and
// modifiers that query DNS.
const maxSPFLookups = 10

var errSPFLookups = errors.New("more than 10 DNS lookups (RFC 7208 §4.6.4)")

// spfResult evaluates an SPF record of domain for this host: the
// qualifier of the first mechanism that matches ('+', '-', '~', '?'), or
// 0 when none does (neutral).
func (c *dnsChecker) spfResult(ctx context.Context, record, domain string, lookups *int) (byte, error) {
	redirect := ""
	for _, term := range strings.Fields(strings.ToLower(record))[1:] {
		if name, val, ok := strings.Cut(term, "="); ok {
			if name == "redirect" {
				redirect = val
			}
			continue
		}
		qual := term[0]
		if strings.ContainsRune("+-~?", rune(qual)) {
			term = term[1:]
		} else {
			qual = '+'
		}
		match, err := c.spfMatch(ctx, term, domain, lookups)
		if err != nil {
			return 0, err
		}
		if match {
			return qual, nil
		}
	}
	if redirect == "" {
		return 0, nil
	}
	rec, err := c.spfRecordOf(ctx, redirect, lookups)
	if err != nil || rec == "" {
		return 0, err
	}
	return c.spfResult(ctx, rec, redirect, lookups)
}

// spfMatch reports whether one mechanism matches this host.
func (c *dnsChecker) spfMatch(ctx context.Context, term, domain string, lookups *int) (bool, error) {
	mech, arg, _ := strings.Cut(term, ":")
	mech, _, _ = strings.Cut(mech, "/") // a and mx take a CIDR length: ignored
	target := domain
	if arg != "" && mech != "ip4" && mech != "ip6" {
		target, _, _ = strings.Cut(arg, "/")
	}
	count := func() error {
		if *lookups++; *lookups > maxSPFLookups {
			return errSPFLookups
		}
		return nil
	}
	switch mech {
	case "all":
		return true, nil
	case "ip4", "ip6":
		return c.hostIn(ctx, arg), nil
	case "a":
		if err := count(); err != nil {
			return false, err
		}
		return canonHost(target) == c.host || c.sharesHostAddress(ctx, target), nil
	case "mx":
		if err := count(); err != nil {
			return false, err
		}
		ans, err := c.ask(ctx, target, dns.TypeMX)
		if err != nil {
			return false, err
		}
		for _, mx := range ans.Records {
			if _, host, _ := strings.Cut(mx, " "); host == c.host {
				return true, nil
			}
		}
		return false, nil
	case "include":
		rec, err := c.spfRecordOf(ctx, target, lookups)
		if err != nil || rec == "" {
			return false, err
		}
		q, err := c.spfResult(ctx, rec, target, lookups)
		return q == '+', err
	}
	// exists and ptr (RFC 7208 §5.5 discourages it) are not evaluated.
	return false, nil
}

// spfRecordOf is the SPF record published at domain ("" when none), one
// lookup of the budget.
func (c *dnsChecker) spfRecordOf(ctx context.Context, domain string, lookups *int) (string, error) {
	if *lookups++; *lookups > maxSPFLookups {
		return "", errSPFLookups
	}
	ans, err := c.ask(ctx, domain, dns.TypeTXT)
	if err != nil {
		return "", err
	}
	if spf := spfRecords(ans.Records); len(spf) == 1 {
		return spf[0], nil
	}
	return "", nil
}

func spfResultName(q byte) string {
	switch q {
	case '-':
		return "fail"
	case '~':
		return "softfail"
	case '?', 0:
		return "neutral"
	}
	return "pass"
}

// hostAddrs are this host's addresses.
func (c *dnsChecker) hostAddrs(ctx context.Context) []netip.Addr {
	var out []netip.Addr
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ans, err := c.ask(ctx, c.host, t)
		if err != nil {
			continue
		}
		for _, v := range ans.Records {
			if ip, err := netip.ParseAddr(v); err == nil {
				out = append(out, ip)
			}
		}
	}
	return out
}

// hostIn reports whether one of this host's addresses is in the ip4: or
// ip6: argument (an address or a prefix).
func (c *dnsChecker) hostIn(ctx context.Context, arg string) bool {
	if !strings.Contains(arg, "/") {
		if strings.Contains(arg, ":") {
			arg += "/128"
		} else {
			arg += "/32"
		}
	}
	prefix, err := netip.ParsePrefix(arg)
	if err != nil {
		return false
	}
	for _, ip := range c.hostAddrs(ctx) {
		if prefix.Contains(ip) {
			return true
		}
	}
	return false
}

// sharesHostAddress reports whether name has one of this host's
// addresses.
func (c *dnsChecker) sharesHostAddress(ctx context.Context, name string) bool {
	mine := c.hostAddrs(ctx)
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ans, err := c.ask(ctx, name, t)
		if err != nil {
			continue
		}
		for _, v := range ans.Records {
			if ip, err := netip.ParseAddr(v); err == nil && slices.Contains(mine, ip) {
				return true
			}
		}
	}
	return false
}

// tags parses a tag=value list (DKIM RFC 6376 §3.2, DMARC, MTA-STS,
// TLS-RPT): lower-case names, values with their whitespace removed.
func tags(v string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		out[strings.ToLower(strings.TrimSpace(k))] = strings.Join(strings.Fields(val), "")
	}
	return out
}

// checkDKIM: a record with the same key (p=) and key type (k=, rsa when
// absent) as ours, whatever its whitespace and other tags.
func checkDKIM(r *DNSCheckRecord) {
	want := tags(r.Want)
	for _, v := range r.Found {
		got := tags(v)
		k := got["k"]
		if k == "" {
			k = "rsa"
		}
		if got["p"] == want["p"] && strings.EqualFold(k, want["k"]) {
			r.Status = DNSOK
			return
		}
	}
	if len(r.Found) == 0 {
		r.set(DNSMissing, "publish the key (the wanted value) as a TXT record at %s; receivers cannot verify the signatures until then", r.Name)
		return
	}
	r.set(DNSWrong, "the TXT record at %s holds another key; replace it with %q (signatures fail until then)", r.Name, r.Want)
}

// checkTagged checks the DMARC, MTA-STS and TLS-RPT records: exactly one
// record of the version, with the tags that matter.
func checkTagged(r *DNSCheckRecord) {
	want := tags(r.Want)
	version := want["v"]
	var mine []string
	for _, v := range r.Found {
		if strings.EqualFold(tags(v)["v"], version) && strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "v=") {
			mine = append(mine, v)
		}
	}
	switch {
	case len(mine) == 0 && len(r.Found) == 0:
		r.set(DNSMissing, "publish a TXT record at %s: %q", r.Name, r.Want)
		return
	case len(mine) == 0:
		r.set(DNSWrong, "no %s record at %s among its TXT records; add %q", version, r.Name, r.Want)
		return
	case len(mine) > 1:
		r.set(DNSWrong, "there are %d %s records at %s and receivers then use none; keep one: %q", len(mine), version, r.Name, r.Want)
		return
	}
	got := tags(mine[0])
	switch strings.ToUpper(version) {
	case "DMARC1":
		// RFC 7489 §6.3: p is required; none is a legitimate choice
		// while watching the reports.
		if p := strings.ToLower(got["p"]); p != "none" && p != "quarantine" && p != "reject" {
			r.set(DNSWrong, "the DMARC record has no valid policy (p=none, quarantine or reject); publish %q", r.Want)
			return
		}
	case "STSV1":
		// RFC 8461 §3.1: senders fetch the policy again only when the
		// id changes.
		if got["id"] != want["id"] {
			r.set(DNSWrong, "the MTA-STS id is %q, the policy served is %q; publish %q so that senders fetch the current policy", got["id"], want["id"], r.Want)
			return
		}
	case "TLSRPTV1":
		if got["rua"] == "" {
			r.set(DNSWrong, "the TLS-RPT record has no rua= address for the reports; publish %q", r.Want)
			return
		}
	}
	r.Status = DNSOK
}

// checkSRV: a record to this host and port, any priority and weight; a
// target of "." says the service is not offered (RFC 2782).
func (c *dnsChecker) checkSRV(r *DNSCheckRecord) {
	want := strings.Fields(r.Want)
	for _, v := range r.Found {
		f := strings.Fields(v)
		if len(f) == 4 && len(want) == 4 && f[2] == want[2] && f[3] == c.host {
			r.Status = DNSOK
			return
		}
	}
	if len(r.Found) == 0 {
		r.set(DNSMissing, "publish %s SRV %s so that mail clients find the service", r.Name, r.Want)
		return
	}
	r.set(DNSWrong, "the SRV record does not point to port %s of %s; replace it with %s SRV %s", want[2], strings.TrimSuffix(c.host, "."), r.Name, r.Want)
}

// checkCNAME: a CNAME to this host, or else address records that are
// this host's (an A record in place of the CNAME does the same job).
func (c *dnsChecker) checkCNAME(ctx context.Context, r *DNSCheckRecord) {
	if len(r.Found) > 0 {
		if canonHost(r.Found[0]) == c.host {
			r.Status = DNSOK
			return
		}
		r.set(DNSWrong, "%s is an alias of %s; point it to %s", r.Name, r.Found[0], r.Want)
		return
	}
	var own, hosts []string
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		a, err := c.ask(ctx, r.Name, t)
		if err != nil {
			r.set(DNSError, "the address lookup of %s failed (%v); check the resolvers in [dns] servers and try again", r.Name, err)
			return
		}
		own = append(own, a.Records...)
		h, err := c.ask(ctx, c.host, t)
		if err == nil {
			hosts = append(hosts, h.Records...)
		}
	}
	if len(own) == 0 {
		r.set(DNSMissing, "publish %s CNAME %s", r.Name, r.Want)
		return
	}
	for _, ip := range own {
		if !slices.Contains(hosts, ip) {
			r.Found = own
			r.set(DNSWrong, "%s has addresses (%s) that are not this server's; publish %s CNAME %s instead", r.Name, strings.Join(own, ", "), r.Name, r.Want)
			return
		}
	}
	r.Found = own
	r.Status = DNSOK
}
