// Package queuetest holds test doubles for the outbound queue, shared by the
// queue's unit tests and the e2e suite: a scriptable SMTP peer and an
// authoritative DNS server on loopback.
package queuetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message a peer accepted.
type Mail struct {
	From string
	To   []string
	Body []byte
	UTF8 bool
	TLS  bool
	// RequireTLS: MAIL FROM had REQUIRETLS (RFC 8689).
	RequireTLS bool
	Auth       string // the user that authenticated, if any
}

// Peer is a scriptable SMTP server. Set the fields before Start; the
// hooks run for every command and may return *smtp.SMTPError replies.
type Peer struct {
	// Hostname is the name in its certificate and greeting.
	Hostname string
	// NoSTARTTLS hides STARTTLS; NoUTF8 hides SMTPUTF8.
	NoSTARTTLS bool
	NoUTF8     bool
	// RequireTLS offers REQUIRETLS on TLS sessions.
	RequireTLS bool
	// Implicit serves TLS from the first byte.
	Implicit bool
	// Users, when set, offers AUTH PLAIN with these user: password pairs.
	Users map[string]string
	// Rcpt answers RCPT TO (nil accepts).
	Rcpt func(to string) error
	// Data answers after the message (nil accepts).
	Data func(m Mail) error
	// DropInData closes the connection after reading part of the message.
	DropInData bool
	// Stall delays the reply to DATA's final dot.
	Stall time.Duration
	// MaxConcurrent, when set, answers "421" at the greeting and closes a
	// connection beyond that many open at once, as a Postfix with
	// smtpd_client_connection_count_limit does.
	MaxConcurrent int
	// Listen is the address to listen on; default "127.0.0.1:0". Peers on
	// 127.0.0.2, 127.0.0.3... can share one port number, as MX hosts do.
	Listen string

	// Addr is the listening address once started; Port its port; Roots a
	// pool that verifies its certificate for Hostname.
	Addr  string
	Port  int
	Roots *x509.CertPool
	// Cert is its certificate (for TLSA records).
	Cert tls.Certificate

	mu       sync.Mutex
	mails    []Mail
	sessions int
	open     int // connections open now
	peakOpen int
	refused  int
	srv      *smtp.Server
}

// Start listens on loopback until the test ends.
func (p *Peer) Start(t testing.TB) *Peer {
	t.Helper()
	if p.Hostname == "" {
		p.Hostname = "localhost"
	}
	cert, roots, err := SelfSigned(p.Hostname)
	if err != nil {
		t.Fatal(err)
	}
	p.Roots, p.Cert = roots, cert
	s := smtp.NewServer(&backend{p: p})
	s.Domain = p.Hostname
	s.AllowInsecureAuth = true
	s.EnableSMTPUTF8 = !p.NoUTF8
	s.EnableDSN = true
	s.EnableREQUIRETLS = p.RequireTLS
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if !p.NoSTARTTLS {
		s.TLSConfig = cfg
	}
	if p.Listen == "" {
		p.Listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	if p.Implicit {
		ln = tls.NewListener(ln, cfg)
		s.TLSConfig = nil
	}
	ln = &countingListener{Listener: ln, p: p}
	p.srv = s
	p.Addr = ln.Addr().String()
	p.Port = ln.Addr().(*net.TCPAddr).Port
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return p
}

// Mails returns what the peer accepted so far.
func (p *Peer) Mails() []Mail {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Mail(nil), p.mails...)
}

// Concurrency returns the most connections the peer had open at once and
// how many it refused past MaxConcurrent.
func (p *Peer) Concurrency() (peak, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peakOpen, p.refused
}

// Sessions is the number of connections the peer accepted.
func (p *Peer) Sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions
}

type countingListener struct {
	net.Listener
	p *Peer
}

func (l *countingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return c, err
		}
		p := l.p
		p.mu.Lock()
		if p.MaxConcurrent > 0 && p.open >= p.MaxConcurrent {
			p.refused++
			p.mu.Unlock()
			c.Write([]byte("421 4.7.0 too many connections from you\r\n"))
			c.Close()
			continue
		}
		p.sessions++
		p.open++
		p.peakOpen = max(p.peakOpen, p.open)
		p.mu.Unlock()
		return &countedConn{Conn: c, p: p}, nil
	}
}

// countedConn counts itself out of the open connections when closed.
type countedConn struct {
	net.Conn
	p    *Peer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.p.mu.Lock()
		c.p.open--
		c.p.mu.Unlock()
	})
	return c.Conn.Close()
}

type backend struct{ p *Peer }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{p: b.p, c: c}, nil
}

type session struct {
	p    *Peer
	c    *smtp.Conn
	m    Mail
	user string
}

func (s *session) AuthMechanisms() []string {
	if s.p.Users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if want, ok := s.p.Users[user]; !ok || want != pass {
			return errors.New("bad credentials")
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.p.Users != nil && s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	_, isTLS := s.c.TLSConnectionState()
	s.m = Mail{From: from, UTF8: opts != nil && opts.UTF8, TLS: isTLS || s.p.Implicit, Auth: s.user, RequireTLS: opts != nil && opts.RequireTLS}
	return nil
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.p.Rcpt != nil {
		if err := s.p.Rcpt(to); err != nil {
			return err
		}
	}
	s.m.To = append(s.m.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	if s.p.DropInData {
		io.ReadFull(r, make([]byte, 10))
		s.c.Conn().Close()
		return errors.New("dropped")
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.Body = body
	if s.p.Stall > 0 {
		time.Sleep(s.p.Stall)
	}
	if s.p.Data != nil {
		if err := s.p.Data(s.m); err != nil {
			return err
		}
	}
	s.p.mu.Lock()
	s.p.mails = append(s.p.mails, s.m)
	s.p.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.m = Mail{} }
func (s *session) Logout() error { return nil }

// SelfSigned makes a certificate for host names (comma-separated) and a
// pool that trusts it.
func SelfSigned(hosts string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	names := strings.Split(hosts, ",")
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
