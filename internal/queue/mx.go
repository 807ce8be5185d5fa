package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync/atomic"
)

// Resolver is the part of net.Resolver the queue uses; tests pass a fake.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	// LookupTXT finds MTA-STS and TLS-RPT records.
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// NewResolver returns the system resolver, or one that asks only the given
// servers ("ip:port") when there are any ([dns] servers).
func NewResolver(servers []string) Resolver {
	if len(servers) == 0 {
		return net.DefaultResolver
	}
	var d net.Dialer
	var n atomic.Uint32
	return &namedResolver{servers: strings.Join(servers, ","), r: &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			// Spread queries over the servers; the Go resolver retries.
			return d.DialContext(ctx, network, servers[int(n.Add(1))%len(servers)])
		},
	}}
}

// namedResolver asks the configured servers; its errors name them, where
// the Go resolver would name the system's (from resolv.conf), which it
// never asked.
type namedResolver struct {
	servers string
	r       *net.Resolver
}

func (n *namedResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := n.r.LookupMX(ctx, name)
	return mxs, n.name(err)
}

func (n *namedResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := n.r.LookupIPAddr(ctx, host)
	return ips, n.name(err)
}

func (n *namedResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := n.r.LookupTXT(ctx, name)
	return txts, n.name(err)
}

func (n *namedResolver) name(err error) error {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		dnsErr.Server = n.servers
	}
	return err
}

// destError is a failure to find where a domain's mail goes.
type destError struct {
	perm bool
	// status is the enhanced status code for the DSN (RFC 3463).
	status string
	msg    string
}

func (e *destError) Error() string { return e.msg }

// mxHosts returns the hosts that receive mail for domain, in the order to
// try them: by preference, random among equal preferences (RFC 5321 §5.1).
// With no MX record the domain itself is the host (implicit MX, §5.1); a
// null MX (RFC 7505) is a permanent failure.
func mxHosts(ctx context.Context, r Resolver, domain string) ([]string, error) {
	mxs, err := r.LookupMX(ctx, domain)
	var dnsErr *net.DNSError
	switch {
	case err == nil && len(mxs) > 0:
	case err == nil || (errors.As(err, &dnsErr) && dnsErr.IsNotFound):
		// No MX: fall back to the address records of the domain itself.
		ips, aerr := r.LookupIPAddr(ctx, domain)
		if aerr == nil && len(ips) > 0 {
			return []string{domain}, nil
		}
		if errors.As(aerr, &dnsErr) && dnsErr.IsNotFound || aerr == nil {
			return nil, &destError{perm: true, status: "5.1.2", msg: fmt.Sprintf("domain %s has no MX and no address records", domain)}
		}
		return nil, &destError{status: "4.4.3", msg: fmt.Sprintf("DNS lookup for %s failed: %v", domain, aerr)}
	default:
		return nil, &destError{status: "4.4.3", msg: fmt.Sprintf("MX lookup for %s failed: %v", domain, err)}
	}
	// RFC 7505 §3: a single MX of "." with preference 0 means no mail.
	for _, mx := range mxs {
		if mx.Host == "." || mx.Host == "" {
			return nil, &destError{perm: true, status: "5.1.10", msg: fmt.Sprintf("domain %s accepts no mail (null MX, RFC 7505)", domain)}
		}
	}
	mxs = slices.Clone(mxs)
	rand.Shuffle(len(mxs), func(i, j int) { mxs[i], mxs[j] = mxs[j], mxs[i] })
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	hosts := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		h := strings.TrimSuffix(strings.ToLower(mx.Host), ".")
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts, nil
}

// hostAddrs resolves one MX host to the addresses to dial.
func hostAddrs(ctx context.Context, r Resolver, host string) ([]net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, nil
	}
	ips, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]net.IP, len(ips))
	for i, ip := range ips {
		out[i] = ip.IP
	}
	return out, nil
}
