// Package smtpd is Postern's SMTP service on emersion/go-smtp: the MX policy
// of port 25 (mail for local domains only, never an open relay) and the
// submission policy of ports 587/465 (authenticated users only). Accepted
// messages go to the deliver package; sessions never touch the store.
package smtpd

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"postern/internal/antispam"
	"postern/internal/auth"
	"postern/internal/deliver"
	"postern/internal/netlimit"
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
	smtp    *smtp.Server
	closing atomic.Bool
	// ctx is every session's context: cancelled when Shutdown stops
	// waiting, so store calls still in flight give up too.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[*session]struct{}
}

// New builds a server; call Serve with a listener.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, sessions: make(map[*session]struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.TLSConfig = cfg.TLS
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.MaxLineLength = cfg.MaxLineLength
	srv.ReadTimeout = cfg.IdleTimeout
	srv.WriteTimeout = cfg.IdleTimeout
	srv.EnableSMTPUTF8 = true
	// Submission passes RFC 3461 RET, ENVID and NOTIFY on to the queue.
	srv.EnableDSN = cfg.Mode == ModeSubmission
	// RFC 8689: go-smtp offers it on TLS sessions only; Mail refuses the
	// parameter on others.
	srv.EnableREQUIRETLS = true
	// go-smtp checks this before our Auth; ours then checks the address.
	srv.AllowInsecureAuth = cfg.AllowPlaintext != nil
	srv.ErrorLog = newSlogPrinter(cfg.Logger)
	s.smtp = srv
	return s
}

// EnvelopeExtensions are the extensions this server advertises in EHLO
// that give MAIL and RCPT parameters, keyword to arguments: what JMAP
// advertises as submissionExtensions (RFC 8621 §1.3.2) for the same
// submission service.
func (s *Server) EnvelopeExtensions() map[string][]string {
	ext := map[string][]string{"8BITMIME": {}, "SIZE": {}}
	if s.smtp.MaxMessageBytes > 0 {
		ext["SIZE"] = []string{strconv.FormatInt(s.smtp.MaxMessageBytes, 10)}
	}
	if s.smtp.EnableSMTPUTF8 {
		ext["SMTPUTF8"] = []string{}
	}
	if s.smtp.EnableDSN {
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
		l = gateListener{Listener: l, gate: s.cfg.Gate}
	}
	if implicitTLS {
		// go-smtp recognises TLS only on a *tls.Conn, so nothing may wrap
		// it: these sessions rely on checkedReader alone.
		l = tls.NewListener(l, s.cfg.TLS)
	} else {
		l = scanListener{l}
	}
	err := s.smtp.Serve(l)
	if s.closing.Load() {
		return nil
	}
	return err
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
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

var errShuttingDown = &smtp.SMTPError{
	Code:         421,
	EnhancedCode: smtp.EnhancedCode{4, 3, 2},
	Message:      "Service shutting down, try again later",
}

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

// slogPrinter takes go-smtp's own error log (connection errors, recovered
// panics with their stack) into slog, bounded: a client that provokes an
// error on every command must not fill the disk with logs. Each message is
// cut to its first lines, and past a burst they are counted, not written,
// until the rate allows again, when one line says how many were dropped.
type slogPrinter struct {
	l *slog.Logger

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped int
	now     func() time.Time
}

// The error log's budget: a burst, then a steady rate per second.
const (
	errorLogBurst = 20
	errorLogRate  = 2.0
	// errorLogLines and errorLogBytes bound one message (a stack trace's
	// first frames are enough to find the cause).
	errorLogLines = 4
	errorLogBytes = 1024
)

func newSlogPrinter(l *slog.Logger) *slogPrinter {
	return &slogPrinter{l: l, tokens: errorLogBurst, now: time.Now}
}

func (p *slogPrinter) Printf(format string, v ...any) { p.log(sprintf(format, v...)) }

func (p *slogPrinter) Println(v ...any) { p.log(sprint(v...)) }

func (p *slogPrinter) log(detail string) {
	p.mu.Lock()
	now := p.now()
	if !p.last.IsZero() {
		p.tokens = min(errorLogBurst, p.tokens+now.Sub(p.last).Seconds()*errorLogRate)
	}
	p.last = now
	if p.tokens < 1 {
		p.dropped++
		p.mu.Unlock()
		return
	}
	p.tokens--
	dropped := p.dropped
	p.dropped = 0
	p.mu.Unlock()
	if dropped > 0 {
		p.l.Warn("smtp server messages dropped", "count", dropped)
	}
	p.l.Warn("smtp server", "detail", clipLog(detail))
}

// clipLog keeps the first lines of a message, within errorLogBytes.
func clipLog(s string) string {
	lines := strings.SplitN(s, "\n", errorLogLines+1)
	if len(lines) > errorLogLines {
		lines = append(lines[:errorLogLines], "...")
	}
	s = strings.Join(lines, "\n")
	if len(s) > errorLogBytes {
		s = s[:errorLogBytes] + "..."
	}
	return s
}
