// Package resolve is the DNS client of the inbound checks (SPF, DKIM,
// DMARC, ARC, iprev): it asks the configured servers ([dns] servers) or
// the system's (resolv.conf), keeps answers in a cache bounded in entries
// that honours their TTLs, and returns errors that tell a name without
// records (IsNotFound) from a failure worth retrying later (IsTemporary).
//
// Its lookups have the signatures of net.Resolver's, and its errors are
// *net.DNSError, so libraries written for net.Resolver (blitiri.com.ar/go/spf,
// go-msgauth) read them correctly. The caller's context is the time budget:
// one deadline per message covers all its lookups.
package resolve

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Options build a Resolver.
type Options struct {
	// Servers ("ip:port") are asked in turn; none means the system's.
	Servers []string
	// MaxEntries bounds the cache (10000 when 0).
	MaxEntries int
	// QueryTimeout bounds one query to one server (2s when 0); the
	// context bounds the whole lookup.
	QueryTimeout time.Duration
	// Now is the cache's clock (time.Now when nil).
	Now func() time.Time
}

// Resolver answers lookups from its cache or its servers. It is safe for
// concurrent use.
type Resolver struct {
	servers []string
	timeout time.Duration
	cache   *cache
}

// Defaults of Options.
const (
	defaultMaxEntries   = 10000
	defaultQueryTimeout = 2 * time.Second
	// negativeTTL is how long a name without records is remembered when
	// the answer carries no SOA to say (RFC 2308 §5 asks for the SOA's).
	negativeTTL = time.Minute
	// maxTTL caps a record's TTL: a key rotated or an SPF record fixed is
	// seen within the hour whatever the zone says.
	maxTTL = time.Hour
	// udpSize is the EDNS0 buffer size advertised (the DNS flag day 2020
	// value); longer answers come back truncated and are asked over TCP.
	udpSize = 1232
	// maxAnswers bounds the records taken from one answer.
	maxAnswers = 100
)

// New returns a resolver for the given servers, or the system's when
// there are none (127.0.0.1:53 when resolv.conf names none).
func New(o Options) *Resolver {
	servers := o.Servers
	if len(servers) == 0 {
		servers = systemServers()
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = defaultMaxEntries
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = defaultQueryTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Resolver{servers: servers, timeout: o.QueryTimeout, cache: newCache(o.MaxEntries, o.Now)}
}

func systemServers() []string {
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil || len(cc.Servers) == 0 {
		return []string{"127.0.0.1:53"}
	}
	out := make([]string, 0, len(cc.Servers))
	for _, s := range cc.Servers {
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	return out
}

// IsNotFound tells that the name has no records of the type asked
// (NXDOMAIN or an empty answer): a definite answer.
func IsNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// IsTemporary tells that the lookup failed in a way that may pass: a
// timeout, a server failure, the budget spent.
func IsTemporary(err error) bool {
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.IsTimeout || de.IsTemporary
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// LookupTXT returns the TXT records of name, each record's strings joined
// (as net.Resolver does).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out, nil
}

// LookupMX returns the MX records of name.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := r.lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		if mx, ok := rr.(*dns.MX); ok {
			out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
		}
	}
	return out, nil
}

// LookupIPAddr returns the IPv4 and IPv6 addresses of host; it fails only
// when both lookups fail, temporarily if either did.
func (r *Resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IPAddr{{IP: ip}}, nil
	}
	var out []net.IPAddr
	var errs []error
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := r.lookup(ctx, host, qt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rr := range rrs {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, net.IPAddr{IP: a.A})
			case *dns.AAAA:
				out = append(out, net.IPAddr{IP: a.AAAA})
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, err := range errs {
		if IsTemporary(err) {
			return nil, err
		}
	}
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return nil, notFound(host, "")
}

// LookupAddr returns the names of addr (its PTR records).
func (r *Resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	rev, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "not an IP address", Name: addr, IsNotFound: true}
	}
	rrs, err := r.lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if p, ok := rr.(*dns.PTR); ok {
			out = append(out, p.Ptr)
		}
	}
	return out, nil
}

// lookup answers from the cache, or asks the servers and caches what they
// say (temporary failures are not cached).
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	fqdn := dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(fqdn); !ok || len(fqdn) > 254 {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name, IsNotFound: true}
	}
	key := cacheKey{name: fqdn, qtype: qtype}
	if e, ok := r.cache.get(key); ok {
		if e.notFound {
			return nil, notFound(name, "cache")
		}
		return e.rrs, nil
	}
	rrs, ttl, err := r.query(ctx, fqdn, qtype)
	switch {
	case err == nil:
		r.cache.put(key, entry{rrs: rrs}, ttl)
	case IsNotFound(err):
		r.cache.put(key, entry{notFound: true}, ttl)
	}
	return rrs, err
}

// query asks each server in turn until one gives a definite answer.
func (r *Resolver) query(ctx context.Context, fqdn string, qtype uint16) ([]dns.RR, time.Duration, error) {
	msg := new(dns.Msg)
	msg.SetQuestion(fqdn, qtype)
	msg.RecursionDesired = true
	msg.SetEdns0(udpSize, false)
	var last error
	for _, server := range r.servers {
		if ctx.Err() != nil {
			break
		}
		resp, err := r.exchange(ctx, msg, server)
		if err != nil {
			last = err
			continue
		}
		rrs, ttl, err := answer(resp, fqdn, qtype, server)
		if err != nil && !IsNotFound(err) {
			last = err // SERVFAIL, REFUSED: another server may know
			continue
		}
		return rrs, ttl, err
	}
	if ctx.Err() != nil {
		return nil, 0, &net.DNSError{Err: "DNS time budget spent", Name: fqdn, Server: strings.Join(r.servers, ","), IsTimeout: true}
	}
	if last == nil {
		last = &net.DNSError{Err: "no DNS server", Name: fqdn, IsTemporary: true}
	}
	return nil, 0, last
}

// exchange sends msg to server over UDP, and again over TCP when the
// answer was truncated.
func (r *Resolver) exchange(ctx context.Context, msg *dns.Msg, server string) (*dns.Msg, error) {
	qctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &dns.Client{Net: "udp", UDPSize: udpSize}
	resp, _, err := c.ExchangeContext(qctx, msg, server)
	if err == nil && resp.Truncated {
		c = &dns.Client{Net: "tcp"}
		resp, _, err = c.ExchangeContext(qctx, msg, server)
	}
	if err != nil {
		var ne net.Error
		timeout := errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
		return nil, &net.DNSError{Err: err.Error(), Name: msg.Question[0].Name, Server: server, IsTimeout: timeout, IsTemporary: !timeout}
	}
	return resp, nil
}

// answer reads a response: the records of the type asked, with the TTL to
// cache them for, or why there are none.
func answer(resp *dns.Msg, fqdn string, qtype uint16, server string) ([]dns.RR, time.Duration, error) {
	switch resp.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, negativeTTLOf(resp), notFound(fqdn, server)
	default:
		return nil, 0, &net.DNSError{Err: "server answered " + dns.RcodeToString[resp.Rcode], Name: fqdn, Server: server, IsTemporary: true}
	}
	var rrs []dns.RR
	ttl := maxTTL
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype != qtype || len(rrs) == maxAnswers {
			continue // the CNAMEs that led here, or too many
		}
		rrs = append(rrs, rr)
		ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
	}
	if len(rrs) == 0 {
		return nil, negativeTTLOf(resp), notFound(fqdn, server)
	}
	return rrs, ttl, nil
}

// negativeTTLOf is how long a negative answer holds (RFC 2308 §5: the
// SOA's TTL bounded by its minimum), or negativeTTL without a SOA.
func negativeTTLOf(resp *dns.Msg) time.Duration {
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(time.Duration(min(soa.Hdr.Ttl, soa.Minttl))*time.Second, maxTTL)
		}
	}
	return negativeTTL
}

func notFound(name, server string) error {
	return &net.DNSError{Err: "no such record", Name: name, Server: server, IsNotFound: true}
}
