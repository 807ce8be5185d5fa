// Package dane is DANE for SMTP (RFC 7672): TLSA records of MX hosts
// looked up through a DNSSEC-validating resolver, and the check of a
// peer's certificate chain against them.
package dane

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Resolver asks the configured DNS servers with the DO bit and trusts an
// answer only when the server set AD (RFC 4035 §3.2.3): the server is the
// validator, so it must be a trusted one, on loopback or a trusted path.
type Resolver struct {
	servers []string
	log     *slog.Logger
	client  *dns.Client
	// probe is the name whose signed answer shows the resolver validates.
	probe string

	mu         sync.Mutex
	validating bool
	probedAt   time.Time
	said       bool // the "DANE off" line was logged
}

// NewResolver asks servers ("ip:port"); none: the system's (resolv.conf).
func NewResolver(servers []string, logger *slog.Logger) *Resolver {
	if len(servers) == 0 {
		if cc, err := dns.ClientConfigFromFile("/etc/resolv.conf"); err == nil {
			for _, s := range cc.Servers {
				servers = append(servers, net.JoinHostPort(s, cc.Port))
			}
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Resolver{servers: servers, log: logger.With("component", "dane"), client: &dns.Client{Timeout: 5 * time.Second}, probe: "."}
}

// SetProbe changes the name asked to see whether the resolver validates
// (the root by default): a resolver with no route to the root, with a
// trust anchor of its own zone, validates that zone only.
func (r *Resolver) SetProbe(name string) { r.probe = dns.Fqdn(name) }

// reprobe is how long the answer of the validation probe is trusted.
const reprobe = time.Hour

// Enabled reports whether DANE is on: the resolver validates DNSSEC (its
// answer for the probe name, the root zone's NS, comes with AD). The first
// "off" is logged once.
func (r *Resolver) Enabled(ctx context.Context) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.probedAt.IsZero() && time.Since(r.probedAt) < reprobe {
		return r.validating
	}
	resp, err := r.query(ctx, r.probe, dns.TypeNS)
	was := r.validating
	r.validating = err == nil && resp.AuthenticatedData
	r.probedAt = time.Now()
	switch {
	case !r.validating && !r.said:
		r.said = true
		r.log.Info("DANE off: the DNS resolver does not validate DNSSEC (no AD bit)", "servers", strings.Join(r.servers, ","), "err", err)
	case r.validating && !was:
		r.said = false
		r.log.Info("DANE on: the DNS resolver validates DNSSEC", "servers", strings.Join(r.servers, ","))
	}
	return r.validating
}

func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	if len(r.servers) == 0 {
		return nil, errors.New("no DNS servers")
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(4096, true)
	m.AuthenticatedData = true // RFC 6840 §5.7: ask for the AD bit
	var last error
	for _, s := range r.servers {
		resp, _, err := r.client.ExchangeContext(ctx, m, s)
		if err == nil && resp.Truncated {
			tcp := &dns.Client{Net: "tcp", Timeout: r.client.Timeout}
			resp, _, err = tcp.ExchangeContext(ctx, m, s)
		}
		if err == nil {
			return resp, nil
		}
		last = err
	}
	return nil, last
}

// Secure reports whether name's qtype RRset is DNSSEC-validated (AD).
func (r *Resolver) Secure(ctx context.Context, name string, qtype uint16) (bool, error) {
	resp, err := r.query(ctx, name, qtype)
	if err != nil {
		return false, err
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return false, fmt.Errorf("DNS %s for %s", dns.RcodeToString[resp.Rcode], name)
	}
	return resp.AuthenticatedData, nil
}

// MXSecure reports whether domain's MX RRset is DNSSEC-validated: only
// then are its hosts' TLSA records to be used (RFC 7672 §2.2.2).
func (r *Resolver) MXSecure(ctx context.Context, domain string) (bool, error) {
	return r.Secure(ctx, domain, dns.TypeMX)
}

// AddrSecure reports whether host's address records are DNSSEC-validated
// (AD on each of its A and AAAA RRsets that has records). RFC 7672
// §2.2.2: an MX host's TLSA records are used only then; a host whose
// addresses are insecure (an unsigned zone, or a CNAME into one) is
// delivered to as one without TLSA records. A server failure is an
// error: the host is then indeterminate (§2.2.1).
func (r *Resolver) AddrSecure(ctx context.Context, host string) (bool, error) {
	found := false
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		resp, err := r.query(ctx, host, qtype)
		if err != nil {
			return false, fmt.Errorf("address lookup for %s: %w", host, err)
		}
		if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			return false, fmt.Errorf("address lookup for %s: %s", host, dns.RcodeToString[resp.Rcode])
		}
		has := false
		for _, rr := range resp.Answer {
			has = has || rr.Header().Rrtype == qtype
		}
		if !has {
			continue
		}
		if !resp.AuthenticatedData {
			return false, nil
		}
		found = true
	}
	return found, nil
}

// TLSA is one TLSA record (RFC 6698 §2.1).
type TLSA struct {
	Usage, Selector, MatchingType uint8
	Data                          []byte
}

func (t TLSA) String() string {
	return fmt.Sprintf("%d %d %d %s", t.Usage, t.Selector, t.MatchingType, hex.EncodeToString(t.Data))
}

// Lookup returns the TLSA records of _PORT._tcp.HOST when they are
// DNSSEC-validated (secure); an insecure or missing RRset gives none
// (RFC 7672 §2.2). A server failure is an error: the host may not then
// be tried without DANE (§2.2.1, "indeterminate").
func (r *Resolver) Lookup(ctx context.Context, host string, port int) (recs []TLSA, secure bool, err error) {
	name := fmt.Sprintf("_%d._tcp.%s", port, strings.TrimSuffix(host, "."))
	resp, err := r.query(ctx, name, dns.TypeTLSA)
	if err != nil {
		return nil, false, fmt.Errorf("TLSA lookup for %s: %w", name, err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, false, fmt.Errorf("TLSA lookup for %s: %s", name, dns.RcodeToString[resp.Rcode])
	}
	if !resp.AuthenticatedData {
		return nil, false, nil
	}
	for _, rr := range resp.Answer {
		if t, ok := rr.(*dns.TLSA); ok {
			data, err := hex.DecodeString(t.Certificate)
			if err != nil {
				continue // RFC 7672 §2.2: a malformed record is unusable
			}
			recs = append(recs, TLSA{Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: data})
		}
	}
	return recs, true, nil
}

// Usable keeps the records an SMTP client uses: DANE-TA(2) and DANE-EE(3)
// with known selectors and matching types (RFC 7672 §3.1.3: PKIX-TA(0)
// and PKIX-EE(1) are not for SMTP).
func Usable(recs []TLSA) []TLSA {
	var out []TLSA
	for _, t := range recs {
		if (t.Usage == 2 || t.Usage == 3) && t.Selector <= 1 && t.MatchingType <= 2 {
			out = append(out, t)
		}
	}
	return out
}

// matches reports whether cert matches the record's selector and data.
func (t TLSA) matches(cert *x509.Certificate) bool {
	var content []byte
	switch t.Selector {
	case 0:
		content = cert.Raw
	case 1:
		content = cert.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch t.MatchingType {
	case 0:
		return string(content) == string(t.Data)
	case 1:
		sum := sha256.Sum256(content)
		return string(sum[:]) == string(t.Data)
	case 2:
		sum := sha512.Sum512(content)
		return string(sum[:]) == string(t.Data)
	}
	return false
}

// ErrNoMatch is a chain that matches none of the usable records.
var ErrNoMatch = errors.New("no TLSA record matches the certificate chain")

// Verify checks the chain the peer presented against the usable records
// (RFC 7672 §3.1): DANE-EE matches the leaf, with no name or expiry check;
// DANE-TA matches a certificate of the chain, which must then issue the
// leaf with a name of the MX host (names are the reference identifiers,
// §3.2.2).
func Verify(recs []TLSA, chain []*x509.Certificate, names []string) error {
	if len(chain) == 0 {
		return errors.New("no certificate")
	}
	leaf := chain[0]
	for _, t := range recs {
		if t.Usage == 3 && t.matches(leaf) {
			return nil
		}
	}
	var lastErr error = ErrNoMatch
	for _, t := range recs {
		if t.Usage != 2 {
			continue
		}
		for i, ca := range chain {
			if !t.matches(ca) {
				continue
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			inter := x509.NewCertPool()
			for j := 1; j < i; j++ {
				inter.AddCert(chain[j])
			}
			for _, name := range names {
				opts := x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter}
				if i == 0 {
					// The leaf itself is the trust anchor: only its name counts.
					lastErr = leaf.VerifyHostname(name)
				} else {
					_, lastErr = leaf.Verify(opts)
				}
				if lastErr == nil {
					return nil
				}
			}
		}
	}
	return lastErr
}
