package antispam

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Resolver is the part of net.Resolver the blocklist lookups use.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Listing is a blocklist's answer for one address.
type Listing struct {
	Zone   string
	Answer netip.Addr // the 127.0.0.x code
	Reason string     // the zone's TXT record, cleaned for a reply line
}

// dnsblResult is the outcome of checking one address in every zone.
type dnsblResult struct {
	listing *Listing
	// failed names the zones that could not be asked (timeouts, SERVFAIL,
	// error codes): they count as not listing the address.
	failed []string
	at     time.Time
}

// maxReasonBytes bounds the TXT text quoted back to the client.
const maxReasonBytes = 200

// dnsblQuery is the name to look up for ip in zone (RFC 5782 §2.1, §2.4):
// the IPv4 octets or the IPv6 nibbles in reverse order.
func dnsblQuery(ip netip.Addr, zone string) string {
	ip = ip.Unmap()
	var b strings.Builder
	if ip.Is4() {
		a := ip.As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(itoa(int(a[i])))
			b.WriteByte('.')
		}
	} else {
		a := ip.As16()
		const hex = "0123456789abcdef"
		for i := 15; i >= 0; i-- {
			b.WriteByte(hex[a[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hex[a[i]>>4])
			b.WriteByte('.')
		}
	}
	b.WriteString(strings.TrimSuffix(zone, "."))
	b.WriteByte('.')
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d [3]byte
	i := len(d)
	for n > 0 {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return string(d[i:])
}

// listedCode tells a listing from the other answers a zone gives: RFC 5782
// §2.1 puts listings in 127.0.0.0/8, while 127.255.255.0/24 is where the
// big lists (Spamhaus, and others after it) answer errors such as "query
// through a public resolver" or "over quota"; anything outside 127/8 is a
// resolver rewriting NXDOMAIN, not a listing.
func listedCode(a netip.Addr) (listed, errCode bool) {
	a = a.Unmap()
	if !a.Is4() {
		return false, false
	}
	b := a.As4()
	if b[0] != 127 {
		return false, false
	}
	if b[1] == 255 && b[2] == 255 {
		return false, true
	}
	return true, false
}

// cleanReason makes a zone's TXT text fit one SMTP reply line: printable
// ASCII only, bounded.
func cleanReason(txt string) string {
	var b strings.Builder
	for _, r := range txt {
		if b.Len() >= maxReasonBytes {
			b.WriteString("...")
			break
		}
		if r < 0x20 || r > 0x7e {
			r = ' '
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// dnsbl asks the zones about addresses and caches the answers.
type dnsbl struct {
	zones    []string
	resolver Resolver
	timeout  time.Duration
	ttl      time.Duration
	maxCache int

	mu    sync.Mutex
	cache map[netip.Addr]dnsblResult
}

// check asks every zone about ip at once; the first listing in zone order
// wins. Failures never list.
func (d *dnsbl) check(ctx context.Context, ip netip.Addr, now time.Time) dnsblResult {
	if r, ok := d.cached(ip, now); ok {
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	type answer struct {
		listing *Listing
		failed  bool
	}
	answers := make([]answer, len(d.zones))
	var wg sync.WaitGroup
	for i, zone := range d.zones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := d.lookup(ctx, ip, zone)
			answers[i] = answer{listing: l, failed: err != nil}
		}()
	}
	wg.Wait()
	res := dnsblResult{at: now}
	for i, a := range answers {
		if a.failed {
			res.failed = append(res.failed, d.zones[i])
		} else if a.listing != nil && res.listing == nil {
			res.listing = a.listing
		}
	}
	if len(res.failed) == 0 || res.listing != nil {
		d.store(ip, res)
	}
	return res
}

// errZoneError is a 127.255.255.x answer: the zone refuses to answer us.
var errZoneError = errors.New("blocklist answered an error code")

func (d *dnsbl) lookup(ctx context.Context, ip netip.Addr, zone string) (*Listing, error) {
	name := dnsblQuery(ip, zone)
	addrs, err := d.resolver.LookupNetIP(ctx, "ip4", name)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var code netip.Addr
	sawError := false
	for _, a := range addrs {
		listed, errCode := listedCode(a)
		if listed {
			code = a.Unmap()
			break
		}
		sawError = sawError || errCode
	}
	if !code.IsValid() {
		if sawError {
			return nil, errZoneError
		}
		return nil, nil
	}
	l := &Listing{Zone: zone, Answer: code}
	// The reason is a courtesy to the sender: without it the listing stands.
	if txts, err := d.resolver.LookupTXT(ctx, name); err == nil && len(txts) > 0 {
		l.Reason = cleanReason(txts[0])
	}
	return l, nil
}

func (d *dnsbl) cached(ip netip.Addr, now time.Time) (dnsblResult, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.cache[ip]
	if !ok || now.Sub(r.at) > d.ttl {
		return dnsblResult{}, false
	}
	return r, true
}

// store keeps r, making room first: expired entries go, then, under a
// flood of fresh addresses, any eighth (Go's map order) of the rest.
func (d *dnsbl) store(ip netip.Addr, r dnsblResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cache == nil {
		d.cache = make(map[netip.Addr]dnsblResult)
	}
	if len(d.cache) >= d.maxCache {
		for k, v := range d.cache {
			if r.at.Sub(v.at) > d.ttl {
				delete(d.cache, k)
			}
		}
		target := d.maxCache - d.maxCache/8 - 1
		for k := range d.cache {
			if len(d.cache) <= target {
				break
			}
			delete(d.cache, k)
		}
	}
	d.cache[ip] = r
}
