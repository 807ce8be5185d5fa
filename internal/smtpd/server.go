// Package smtpd is Postern's SMTP service: the MX policy of port 25 (mail
// for local domains only, never an open relay) and the submission policy
// of ports 587/465 (authenticated users only), as the Sessions of the
// protocol layer internal/smtpserver. Accepted messages go to the deliver
// package; sessions never touch the store.
package smtpd

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"postern/internal/antispam"
	"postern/internal/auth"
	"postern/internal/deliver"
	"postern/internal/netlimit"
	"postern/internal/smtpserver"
)

// Mode selects the policy of a listener.
type Mode int

const (
	// ModeMX receives mail from other MTAs for local domains; no AUTH.
	ModeMX Mode = iota
	// ModeSubmission takes mail from authenticated users.
	ModeSubmission
)

func (m Mode) String() string {
	if m == ModeSubmission {
		return "submission"
	}
	return "smtp"
}

// Config is what a Server needs.
type Config struct {
	Hostname string
	Mode     Mode
	TLS      *tls.Config
	// AllowPlaintext tells whether a client may send a password without TLS.
	AllowPlaintext func(remote net.Addr) bool

	MaxMessageBytes int64
	MaxRecipients   int
	MaxLineLength   int
	MaxHeaderBytes  int64
	IdleTimeout     time.Duration
	// MaxConnsPerIP and MaxConns bound concurrent connections (0: no limit).
	MaxConnsPerIP int
	MaxConns      int
	// ShutdownGrace is how long transactions in flight may take to finish.
	ShutdownGrace time.Duration

	// Pipeline decides where every accepted message goes.
	Pipeline *deliver.Pipeline
	Auth     auth.Authenticator
	Logger   *slog.Logger

	// Submission only. SCRAM enables SCRAM-SHA-256[-PLUS]; Signer
	// DKIM-signs.
	SCRAM  SCRAM
	Signer Signer

	// Gate, on port 25 only, checks clients before DATA: blocklists,
	// rate limits, greylisting. Nil: no checks.
	Gate *antispam.Gate
}

// Server is one SMTP listener's service.
type Server struct {
	cfg     Config
	smtp    *smtpserver.Server
	closing atomic.Bool
	// ctx is every session's context: cancelled when Shutdown stops
	// waiting, so store calls still in flight give up too.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[*session]struct{}

	// gate is Config.Gate until SetGate replaces it; a session keeps the
	// gate it was admitted by.
	gate atomic.Pointer[antispam.Gate]
}

// New builds a server; call Serve with a listener.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, sessions: make(map[*session]struct{})}
	s.gate.Store(cfg.Gate)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.smtp = smtpserver.New(s, smtpserver.Config{
		Hostname: cfg.Hostname, TLS: cfg.TLS, MaxMessageBytes: cfg.MaxMessageBytes,
		MaxRecipients: cfg.MaxRecipients, IdleTimeout: cfg.IdleTimeout, SMTPUTF8: true,
		// Submission passes RFC 3461 RET, ENVID and NOTIFY on to the queue.
		DSN: cfg.Mode == ModeSubmission,
		// RFC 8689: offered on TLS sessions only; Mail refuses the parameter
		// on others.
		REQUIRETLS: true,
		Logger:     cfg.Logger,
	})
	return s
}

// SetGate replaces the antispam gate (a configuration reload) for the
// connections that arrive from now on; a server built without a gate
// keeps none.
func (s *Server) SetGate(g *antispam.Gate) {
	if s.cfg.Gate != nil && g != nil {
		s.gate.Store(g)
	}
}

// EnvelopeExtensions are the extensions this server advertises in EHLO
// that give MAIL and RCPT parameters, keyword to arguments: what JMAP
// advertises as submissionExtensions (RFC 8621 §1.3.2) for the same
// submission service.
func (s *Server) EnvelopeExtensions() map[string][]string {
	ext := map[string][]string{"8BITMIME": {}, "SIZE": {}, "SMTPUTF8": {}}
	if s.cfg.MaxMessageBytes > 0 {
		ext["SIZE"] = []string{strconv.FormatInt(s.cfg.MaxMessageBytes, 10)}
	}
	if s.cfg.Mode == ModeSubmission {
		ext["DSN"] = []string{}
	}
	// RFC 8689: both listeners offer it, on TLS sessions only.
	ext["REQUIRETLS"] = []string{}
	return ext
}

// Serve answers connections on l until Shutdown. With implicitTLS every
// connection starts with a TLS handshake (port 465, RFC 8314).
func (s *Server) Serve(l net.Listener, implicitTLS bool) error {
	l = &netlimit.Listener{
		Listener: l, PerIP: s.cfg.MaxConnsPerIP, Total: s.cfg.MaxConns,
		Refusal: "421 4.7.0 Too many connections, try again later\r\n",
		OnRefuse: func(ip netip.Addr) {
			s.cfg.Logger.Warn("connection refused: limit reached", "remote", ip.String())
		},
	}
	if s.cfg.Mode == ModeMX && s.cfg.Gate != nil {
		l = gateListener{Listener: l, gate: &s.gate}
	}
	if implicitTLS {
		l = tls.NewListener(l, s.cfg.TLS)
	}
	err := s.smtp.Serve(l)
	if s.closing.Load() {
		return nil
	}
	return err
}

// NewSession implements smtpserver.Backend.
func (s *Server) NewSession(c *smtpserver.Conn) (smtpserver.Session, error) {
	if s.closing.Load() {
		return nil, errShuttingDown
	}
	sess := newSession(s, c)
	s.mu.Lock()
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
	return sess, nil
}

func (s *Server) forget(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

var errShuttingDown = smtpErr(421, 4, 3, 2, "Service shutting down, try again later")

// Shutdown stops accepting connections, lets transactions in flight finish
// within the grace period (or ctx), and tells every other client 421 before
// closing its connection.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	done := make(chan error, 1)
	go func() { done <- s.smtp.Shutdown(context.Background()) }()

	grace := time.NewTimer(s.cfg.ShutdownGrace)
	defer grace.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	force := false
	for {
		s.kickSessions(force)
		select {
		case err := <-done:
			s.cancel()
			return err
		case <-tick.C:
		case <-grace.C:
			force = true
		case <-ctx.Done():
			force = true
		}
		if force {
			s.cancel()
			s.kickSessions(true)
			select {
			case err := <-done:
				return err
			case <-time.After(2 * time.Second):
				return s.smtp.Close()
			}
		}
	}
}

// kickSessions says 421 to sessions between transactions (all of them when
// force is set) and closes their connections.
func (s *Server) kickSessions(force bool) {
	s.mu.Lock()
	var victims []*session
	for sess := range s.sessions {
		if force || !sess.inTransaction.Load() {
			victims = append(victims, sess)
			delete(s.sessions, sess)
		}
	}
	s.mu.Unlock()
	for _, sess := range victims {
		sess.kick()
	}
}
