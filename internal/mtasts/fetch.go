package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"postern/internal/store"
)

// Resolver is what the fetcher asks DNS: the _mta-sts TXT record and the
// address of the policy host.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Failure types of RFC 8460 §4.3.2.2, reported when a policy could not be
// had.
const (
	FailFetch   = "sts-policy-fetch-error"
	FailInvalid = "sts-policy-invalid"
	FailWebPKI  = "sts-webpki-invalid"
)

// Result is what a domain's policy lookup found.
type Result struct {
	// Policy is nil when the domain has no usable policy.
	Policy *Policy
	ID     string
	// Failure is the TLS-RPT failure type when the domain published a
	// record but its policy could not be had (then Err says why), "" else.
	Failure string
	Err     error
}

// retryFetch is how long after a failed fetch a domain's policy is not
// fetched again.
const retryFetch = 10 * time.Minute

// Options configure a Fetcher.
type Options struct {
	// RootCAs verifies the policy hosts' certificates; nil: the system's.
	RootCAs *x509.CertPool
	// Port is the HTTPS port of the policy hosts (443; tests change it).
	Port int
	// Timeout bounds one fetch, connection to last byte.
	Timeout time.Duration
}

// Fetcher finds and caches policies. Lookups of one domain at once share
// one fetch.
type Fetcher struct {
	r      Resolver
	cache  store.MTASTSCache
	client *http.Client
	now    func() time.Time
	log    *slog.Logger

	mu  sync.Mutex
	mem map[string]store.MTASTSPolicy // front of the durable cache
	// failedAt is when a domain's last fetch failed: no other for
	// retryFetch, so that a hanging policy host does not hold up every
	// delivery to its domain.
	failedAt map[string]time.Time
	// per-domain locks so that concurrent deliveries fetch once
	locks map[string]*sync.Mutex
}

// New returns a fetcher; cache may be nil (tests), now nil for time.Now.
func New(r Resolver, cache store.MTASTSCache, opts Options, logger *slog.Logger, now func() time.Time) *Fetcher {
	if opts.Port == 0 {
		opts.Port = 443
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	port := strconv.Itoa(opts.Port)
	var d net.Dialer
	tr := &http.Transport{
		// The policy host is resolved like the MX hosts: through the
		// configured DNS servers.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := r.LookupIPAddr(ctx, host)
			if err != nil {
				return nil, err
			}
			var last error = errors.New("no addresses")
			for _, ip := range ips {
				c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.IP.String(), port))
				if err == nil {
					return c, nil
				}
				last = err
			}
			return nil, last
		},
		TLSClientConfig:     &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: opts.Timeout,
		DisableKeepAlives:   true,
		Proxy:               nil,
	}
	return &Fetcher{
		r: r, cache: cache, now: now, log: logger.With("component", "mta-sts"),
		client: &http.Client{
			Transport: tr,
			Timeout:   opts.Timeout,
			// RFC 8461 §3.3: senders must not follow redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		mem:      map[string]store.MTASTSPolicy{},
		locks:    map[string]*sync.Mutex{},
		failedAt: map[string]time.Time{},
	}
}

func (f *Fetcher) lock(domain string) func() {
	f.mu.Lock()
	l := f.locks[domain]
	if l == nil {
		l = &sync.Mutex{}
		f.locks[domain] = l
	}
	f.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Lookup finds the policy of domain (RFC 8461 §5.1): the TXT record's id
// against the cached policy's, a fetch when they differ, and the cached
// policy while unexpired when DNS or the fetch fails.
func (f *Fetcher) Lookup(ctx context.Context, domain string) Result {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	defer f.lock(domain)()
	cached, haveCache := f.cached(ctx, domain)
	now := f.now()
	if haveCache && !now.Before(cached.ExpiresAt) {
		haveCache = false
	}
	txts, err := f.r.LookupTXT(ctx, "_mta-sts."+domain)
	var dnsErr *net.DNSError
	if err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
		if haveCache {
			return fromCache(cached)
		}
		return Result{} // §5: a lookup failure with no cached policy is no policy
	}
	id, found, rerr := ParseRecord(txts)
	if !found || rerr != nil {
		// §5.1: a policy in the cache stays valid without its record.
		if haveCache {
			return fromCache(cached)
		}
		return Result{}
	}
	// §5.1: refresh a policy before it expires (here past half its life),
	// so that its expiry does not meet an unreachable policy host.
	if haveCache && cached.ID == id && now.Before(cached.FetchedAt.Add(cached.ExpiresAt.Sub(cached.FetchedAt)/2)) {
		return fromCache(cached)
	}
	f.mu.Lock()
	failed, recent := f.failedAt[domain]
	f.mu.Unlock()
	if recent && now.Sub(failed) < retryFetch {
		if haveCache {
			return fromCache(cached)
		}
		return Result{ID: id, Failure: FailFetch, Err: errors.New("policy fetch failed recently; not retried yet")}
	}
	p, body, failure, err := f.fetch(ctx, domain)
	if err != nil {
		f.mu.Lock()
		f.failedAt[domain] = now
		f.mu.Unlock()
		f.log.Warn("MTA-STS policy fetch failed", "domain", domain, "id", id, "failure", failure, "err", err)
		if haveCache {
			res := fromCache(cached)
			res.Failure, res.Err = failure, err
			return res
		}
		return Result{ID: id, Failure: failure, Err: err}
	}
	entry := store.MTASTSPolicy{Domain: domain, ID: id, Body: body, FetchedAt: now,
		ExpiresAt: now.Add(time.Duration(p.MaxAge) * time.Second)}
	f.mu.Lock()
	f.mem[domain] = entry
	delete(f.failedAt, domain)
	f.mu.Unlock()
	if f.cache != nil {
		if err := f.cache.PutMTASTSPolicy(ctx, entry); err != nil {
			f.log.Error("MTA-STS policy not cached", "domain", domain, "err", err)
		}
	}
	f.log.Info("MTA-STS policy fetched", "domain", domain, "id", id, "mode", p.Mode, "max_age", p.MaxAge)
	return Result{Policy: &p, ID: id}
}

func fromCache(c store.MTASTSPolicy) Result {
	p, err := ParsePolicy([]byte(c.Body))
	if err != nil {
		return Result{ID: c.ID, Failure: FailInvalid, Err: err}
	}
	return Result{Policy: &p, ID: c.ID}
}

func (f *Fetcher) cached(ctx context.Context, domain string) (store.MTASTSPolicy, bool) {
	f.mu.Lock()
	c, ok := f.mem[domain]
	f.mu.Unlock()
	if ok || f.cache == nil {
		return c, ok
	}
	c, err := f.cache.MTASTSPolicy(ctx, domain)
	if err != nil {
		return c, false
	}
	f.mu.Lock()
	f.mem[domain] = c
	f.mu.Unlock()
	return c, true
}

// fetch gets https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC 8461
// §3.3): a certificate valid for that name, status 200, text/plain, no
// redirects, at most MaxPolicySize bytes.
func (f *Fetcher) fetch(ctx context.Context, domain string) (Policy, string, string, error) {
	url := "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Policy{}, "", FailFetch, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var certErr *tls.CertificateVerificationError
		var hostErr x509.HostnameError
		var authErr x509.UnknownAuthorityError
		var invErr x509.CertificateInvalidError
		if errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &authErr) || errors.As(err, &invErr) {
			return Policy{}, "", FailWebPKI, err
		}
		return Policy{}, "", FailFetch, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Policy{}, "", FailFetch, fmt.Errorf("%s: HTTP status %d", url, resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/plain" {
		return Policy{}, "", FailInvalid, fmt.Errorf("%s: media type %q, not text/plain", url, mt)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return Policy{}, "", FailFetch, err
	}
	p, err := ParsePolicy(body)
	if err != nil {
		return Policy{}, "", FailInvalid, err
	}
	return p, string(body), "", nil
}
