package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// DNSLookup answers the live DNS check's queries: the records of one type
// at one name, in their zone-file form (see DNSAnswer). A name or type
// with no records is an empty answer, not an error; an error is a lookup
// that failed (timeout, SERVFAIL, REFUSED), which the check reports as
// "error", never as "missing".
type DNSLookup interface {
	Lookup(ctx context.Context, name string, qtype uint16) (DNSAnswer, error)
}

// DNSAnswer is what DNS published for one question. Records are in
// zone-file form without name, class and TTL, lower-cased host names with
// their trailing dot: "10 mail.example.org." for MX, "0 1 993
// mail.example.org." for SRV, "mail.example.org." for CNAME, the address
// for A and AAAA; a TXT record is its strings joined without separator
// (RFC 7208 §3.3, RFC 6376 §3.6.2.2: a long value is split into strings
// that mean their concatenation).
type DNSAnswer struct {
	Records []string
	// NXDomain is true when the name does not exist at all.
	NXDomain bool
}

// The live check's query limits: a query gets queryTimeout per try and
// queryTries tries over UDP (then TCP when the answer was truncated).
const (
	queryTimeout = 3 * time.Second
	queryTries   = 2
)

// NewDNSLookup returns a lookup that asks the given recursive resolvers
// ("ip:port", [dns] servers), or those of /etc/resolv.conf when there
// are none, as the outbound queue does (queue.NewResolver). It speaks DNS
// itself because net.Resolver follows CNAMEs and cannot say whether a
// name has one, and merges "no such name" with "no such record".
func NewDNSLookup(servers []string) DNSLookup {
	if len(servers) == 0 {
		if conf, err := dns.ClientConfigFromFile("/etc/resolv.conf"); err == nil && len(conf.Servers) > 0 {
			for _, s := range conf.Servers {
				servers = append(servers, net.JoinHostPort(s, conf.Port))
			}
		} else {
			servers = []string{"127.0.0.1:53"}
		}
	}
	return &dnsClient{servers: servers}
}

type dnsClient struct {
	servers []string
	next    atomic.Uint32
}

// Lookup implements DNSLookup.
func (c *dnsClient) Lookup(ctx context.Context, name string, qtype uint16) (DNSAnswer, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = true
	q.SetEdns0(4096, false)
	var lastErr error
	for try := 0; try < queryTries; try++ {
		server := c.servers[int(c.next.Add(1))%len(c.servers)]
		resp, err := c.exchange(ctx, q, server)
		if err != nil {
			lastErr = fmt.Errorf("asking %s: %w", server, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		return answerOf(resp, qtype, server)
	}
	return DNSAnswer{}, lastErr
}

// exchange sends q over UDP, and again over TCP when the answer was
// truncated.
func (c *dnsClient) exchange(ctx context.Context, q *dns.Msg, server string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	udp := &dns.Client{Net: "udp", Timeout: queryTimeout}
	resp, _, err := udp.ExchangeContext(ctx, q, server)
	if err == nil && resp.Truncated {
		tcp := &dns.Client{Net: "tcp", Timeout: queryTimeout}
		resp, _, err = tcp.ExchangeContext(ctx, q, server)
	}
	return resp, err
}

// answerOf renders the answer section's records of qtype at the asked
// name; a CNAME the resolver followed for another type is left out, so
// that an A query does not report the target's records as the name's own
// when only its CNAME matters.
func answerOf(resp *dns.Msg, qtype uint16, server string) (DNSAnswer, error) {
	switch resp.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return DNSAnswer{NXDomain: true}, nil
	default:
		return DNSAnswer{}, fmt.Errorf("%s answered %s", server, dns.RcodeToString[resp.Rcode])
	}
	out := DNSAnswer{Records: []string{}}
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype != qtype {
			continue
		}
		switch v := rr.(type) {
		case *dns.MX:
			out.Records = append(out.Records, strconv.Itoa(int(v.Preference))+" "+canonHost(v.Mx))
		case *dns.SRV:
			out.Records = append(out.Records, fmt.Sprintf("%d %d %d %s", v.Priority, v.Weight, v.Port, canonHost(v.Target)))
		case *dns.CNAME:
			out.Records = append(out.Records, canonHost(v.Target))
		case *dns.TXT:
			out.Records = append(out.Records, strings.Join(v.Txt, ""))
		case *dns.A:
			out.Records = append(out.Records, v.A.String())
		case *dns.AAAA:
			out.Records = append(out.Records, v.AAAA.String())
		}
	}
	return out, nil
}

// canonHost is a host name as the check compares it: lower case, with
// the trailing dot.
func canonHost(h string) string {
	return dns.Fqdn(strings.ToLower(strings.TrimSpace(h)))
}

// errNoLookup is the check's refusal when the service was built without
// a DNSLookup (Options.DNS).
var errNoLookup = errors.New("admin: no DNS lookup configured (admin.Options.DNS)")
