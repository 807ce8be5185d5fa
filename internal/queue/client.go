package queue

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// conn is one SMTP client connection to a peer.
type conn struct {
	c        *smtpConn
	peer     string // host name (or relay host) and address, for logs
	ip       string // the address dialled, for TLS-RPT
	tls      bool
	verified bool // the peer's certificate chain and name verified
	// verifyErr is why an opportunistic peer's certificate did not verify.
	verifyErr error
	utf8      bool // SMTPUTF8 offered
	eightBit  bool // 8BITMIME offered
	idleAt    time.Time
	// release gives back the connection's place at its host (hostGate);
	// it may run more than once.
	release func()
}

func (c *conn) close() {
	c.c.close()
	if c.release != nil {
		c.release()
	}
}

// idleMax is how long an unused connection stays open for the next message
// to the same destination.
const idleMax = 30 * time.Second

// pool keeps idle connections per destination for reuse.
type pool struct {
	mu   sync.Mutex
	idle map[string][]*conn
}

func (p *pool) get(key string, now time.Time) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for cs := p.idle[key]; len(cs) > 0; cs = p.idle[key] {
		c := cs[len(cs)-1]
		p.idle[key] = cs[:len(cs)-1]
		if now.Sub(c.idleAt) < idleMax {
			return c
		}
		go c.close()
	}
	return nil
}

func (p *pool) put(key string, c *conn, now time.Time) {
	c.idleAt = now
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle == nil {
		p.idle = make(map[string][]*conn)
	}
	p.idle[key] = append(p.idle[key], c)
}

// expire closes the connections idle for longer than idleMax.
func (p *pool) expire(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, cs := range p.idle {
		kept := cs[:0]
		for _, c := range cs {
			if now.Sub(c.idleAt) < idleMax {
				kept = append(kept, c)
			} else {
				go func() { c.c.quit(); c.close() }()
			}
		}
		if len(kept) == 0 {
			delete(p.idle, k)
		} else {
			p.idle[k] = kept
		}
	}
}

// closeAll closes every idle connection (shutdown).
func (p *pool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, cs := range p.idle {
		for _, c := range cs {
			c.c.quit()
			c.close()
		}
		delete(p.idle, k)
	}
}

// dialer opens connections to peers.
type dialer struct {
	opts Options
}

// opportunisticTLS accepts any certificate but records whether it verified
// against the roots for the host name: RFC 3207 STARTTLS between MTAs is
// opportunistic, a verification failure is no reason to send in clear text.
func (d *dialer) opportunisticTLS(host string, out *conn) *tls.Config {
	return &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			out.verifyErr = verifyChain(cs, host, d.opts.RootCAs)
			out.verified = out.verifyErr == nil
			return nil
		},
	}
}

func verifyChain(cs tls.ConnectionState, host string, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
	return err
}

// dialMX connects to one address of an MX host. Without a policy
// requiring verified TLS (MTA-STS, DANE), STARTTLS is opportunistic: a
// peer without it, or whose TLS handshake fails, gets the message in clear
// text (RFC 3207 §4: a receiving MTA cannot require TLS of the public
// Internet).
func (d *dialer) dialMX(ctx context.Context, host string, ip net.IP, hp hostPolicy) (*conn, error) {
	if hp.mode != "" {
		return d.dialSecure(ctx, host, ip, hp)
	}
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(d.opts.Port))
	c, err := d.open(ctx, host, addr, "starttls-opportunistic", nil)
	var terr tlsError
	if errors.Is(err, errNoStartTLS) || errors.As(err, &terr) {
		return d.open(ctx, host, addr, "none", nil)
	}
	return c, err
}

var errNoStartTLS = errors.New("STARTTLS not offered")

type tlsError struct{ error }

func (e tlsError) Unwrap() error { return e.error }

// open dials addr and says EHLO. mode is "implicit", "starttls" (required),
// "starttls-opportunistic" or "none"; cfg is the TLS of the required modes
// (nil: verified for host against the roots).
func (d *dialer) open(ctx context.Context, host, addr, mode string, cfg *tls.Config) (*conn, error) {
	if cfg == nil {
		cfg = d.requiredTLS(host)
	}
	nd := net.Dialer{Timeout: d.opts.ConnectTimeout}
	raw, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	ip, _, _ := net.SplitHostPort(addr)
	out := &conn{peer: host + "[" + addr + "]", ip: ip}
	fail := func(err error) (*conn, error) {
		raw.Close()
		return nil, err
	}
	var nc net.Conn = raw
	if mode == "implicit" {
		tc := tls.Client(raw, cfg)
		raw.SetDeadline(time.Now().Add(d.opts.CommandTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(tlsError{err})
		}
		nc, out.tls, out.verified = tc, true, true
	}
	c := newSMTPConn(nc, d.opts.CommandTimeout)
	if err := c.hello(d.opts.Hostname, true); err != nil {
		return fail(err)
	}
	if mode == "starttls" || mode == "starttls-opportunistic" {
		switch {
		case c.has("STARTTLS"):
			if mode == "starttls-opportunistic" {
				cfg = d.opportunisticTLS(host, out)
			} else {
				out.verified = true
			}
			if _, err := c.startTLS(cfg); err != nil {
				// A refused STARTTLS (454) is a TLS failure too: clear text next.
				var te tlsError
				if !errors.As(err, &te) {
					err = tlsError{err}
				}
				return fail(err)
			}
			out.tls = true
			if err := c.hello(d.opts.Hostname, false); err != nil {
				return fail(tlsError{err})
			}
		case mode == "starttls":
			return fail(fmt.Errorf("%w by the relay", errNoStartTLS))
		}
	}
	c.nc.SetDeadline(time.Time{})
	out.c = c
	out.utf8 = c.has("SMTPUTF8")
	out.eightBit = c.has("8BITMIME")
	return out, nil
}

func (d *dialer) requiredTLS(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: d.opts.RootCAs, MinVersion: tls.VersionTLS12}
}

// dialRelay connects to the smarthost (its name resolved like an MX
// host's) and authenticates when configured.
func (d *dialer) dialRelay(ctx context.Context, r Resolver) (*conn, error) {
	host, port, _ := net.SplitHostPort(d.opts.RelayHost)
	ips, err := hostAddrs(ctx, r, host)
	if err != nil {
		return nil, err
	}
	var c *conn
	for _, ip := range ips {
		if c, err = d.open(ctx, host, net.JoinHostPort(ip.String(), port), d.opts.RelayTLS, nil); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if d.opts.RelayUsername != "" {
		if err := c.c.authPlain(d.opts.RelayUsername, d.opts.RelayPassword); err != nil {
			c.close()
			return nil, fmt.Errorf("relay AUTH: %w", err)
		}
	}
	return c, nil
}

// transaction sends one message to the recipients over c. It returns one
// error per recipient (nil when accepted) and whether c is still usable.
func transaction(ctx context.Context, c *conn, from string, p mailParams, rcpts []rcptArg, body io.Reader) ([]error, bool) {
	stop := context.AfterFunc(ctx, func() { c.close() })
	defer stop()
	return c.c.send(from, p, rcpts, body)
}

func isSMTPError(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}
