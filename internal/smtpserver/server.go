// Package smtpserver is Postern's SMTP server protocol layer: it reads
// commands and mail data (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
// SMTPUTF8, CHUNKING, DSN, REQUIRETLS, STARTTLS, AUTH and
// ENHANCEDSTATUSCODES), keeps each session's state machine and answers
// every protocol error itself; a Session, given by the Backend, decides
// about senders, recipients, logins and messages. Policy lives with the
// caller (internal/smtpd).
package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-sasl"

	"postern/internal/netlimit"
)

// Config is what a Server needs.
type Config struct {
	// Hostname is this server's name in the greeting and EHLO.
	Hostname string
	// TLS enables STARTTLS (nil: not offered).
	TLS *tls.Config
	// MaxMessageBytes is the SIZE limit (0: none).
	MaxMessageBytes int64
	// MaxRecipients is how many accepted RCPT one transaction may have
	// (0: no limit).
	MaxRecipients int
	// IdleTimeout bounds the wait for a whole command line, for each read
	// of mail data and for each write (0: none).
	IdleTimeout time.Duration
	// Extensions to offer: SMTPUTF8 (RFC 6531), DSN (RFC 3461) and
	// REQUIRETLS (RFC 8689, on TLS sessions only).
	SMTPUTF8, DSN, REQUIRETLS bool
	Logger                    *slog.Logger
}

// Backend makes a Session for every connection, and again after
// STARTTLS (RFC 3207 §4.2: nothing learnt before the handshake is kept).
// An error, a *Reply, is said in place of the greeting and the
// connection closed.
type Backend interface {
	NewSession(c *Conn) (Session, error)
}

// Session decides what the protocol layer cannot. An error it returns is
// the reply when it is a *Reply; any other error is logged and answered
// 451 4.3.0. A 421 reply closes the connection.
type Session interface {
	Mail(from string, opts *MailOptions) error
	// Rcpt is given a mailbox, or "postmaster" for RFC 5321's
	// domain-less "<Postmaster>".
	Rcpt(to string, opts *RcptOptions) error
	// Data reads the message, dot-unstuffed (DATA) or the chunks joined
	// (BDAT), until io.EOF. nil or a 2xx *Reply is a success.
	Data(r io.Reader) error
	// Reset ends the transaction (RSET, EHLO, the end of DATA).
	Reset()
	// Logout ends the session: the connection closed, or STARTTLS.
	Logout() error
}

// AuthSession is a Session that offers AUTH (RFC 4954).
type AuthSession interface {
	// AuthMechanisms are the mechanisms EHLO offers now; none: no AUTH.
	AuthMechanisms() []string
	// Auth starts mechanism mech (upper-case); its errors are replies.
	Auth(mech string) (sasl.Server, error)
}

// MailOptions are the MAIL parameters.
type MailOptions struct {
	Size       int64  // SIZE (RFC 1870), 0 when absent
	Body       string // BODY (RFC 6152): "7BIT", "8BITMIME" or ""
	UTF8       bool   // SMTPUTF8 (RFC 6531)
	RequireTLS bool   // REQUIRETLS (RFC 8689)
	Return     string // RET (RFC 3461): "FULL", "HDRS" or ""
	EnvelopeID string // ENVID (RFC 3461), decoded
	Auth       *string
}

// RcptOptions are the RCPT parameters (RFC 3461).
type RcptOptions struct {
	Notify []string // NEVER, or some of SUCCESS, FAILURE, DELAY
	// OriginalRecipientType is "RFC822" or "UTF-8"; OriginalRecipient is
	// the decoded address.
	OriginalRecipientType string
	OriginalRecipient     string
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("smtpserver: server closed")

// Server runs SMTP sessions on any number of listeners.
type Server struct {
	cfg     Config
	backend Backend

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
}

// New returns a Server; call Serve.
func New(b Backend, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, backend: b, listeners: map[net.Listener]struct{}{}, conns: map[*Conn]struct{}{}}
}

// Serve accepts connections on l until Shutdown or Close. A listener
// that yields *tls.Conn (implicit TLS, RFC 8314) gives TLS sessions.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	for {
		nc, err := netlimit.Accept(l, s.isClosed, s.cfg.Logger)
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			return err
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// closeListeners stops accepting.
func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	clear(s.listeners)
}

// Shutdown stops accepting and waits until every session has ended (the
// caller ends idle ones) or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops accepting and closes every connection.
func (s *Server) Close() error {
	s.closeListeners()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Conn().Close()
	}
	return nil
}
