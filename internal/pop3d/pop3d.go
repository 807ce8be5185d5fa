// Package pop3d is Postern's POP3 server: RFC 1939 with the CAPA extension
// mechanism (RFC 2449), STLS (RFC 2595), SASL PLAIN through AUTH (RFC 5034)
// and extended response codes (RFC 2449 §8, RFC 3206).
//
// A POP3 session serves the account's INBOX. At login the server takes an
// exclusive lock on the account's maildrop (one POP3 session per account in
// this process) and snapshots the message list, so message numbers stay fixed
// for the session (RFC 1939 §5). DELE only marks; marked messages are expunged
// in one store call when the client says QUIT, and a dropped connection
// changes nothing (RFC 1939 §6). Messages retrieved with RETR are marked
// \Seen at QUIT, so an IMAP client of the same account sees them as read.
//
// The package owns no storage: it reads through the narrow Mailstore
// interface below, which store.Store satisfies.
package pop3d

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"postern/internal/netlimit"
	"sync"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

// Mailstore is what POP3 needs from the store. store.Store satisfies it.
type Mailstore interface {
	Mailbox(ctx context.Context, accountID int64, name string) (store.Mailbox, error)
	Messages(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error)
	UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, upd store.FlagUpdate) (store.FlagResult, error)
	Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, uint64, error)
	OpenBlob(ctx context.Context, blobID int64) (io.ReadCloser, error)
}

// Config holds what a Server needs. Zero values of the limits mean the
// documented defaults.
type Config struct {
	// Hostname is shown in the greeting.
	Hostname string
	// TLS enables STLS and implicit TLS; nil disables both.
	TLS *tls.Config
	// AllowPlaintext reports whether password login is allowed without TLS
	// from this remote address (a dev config on loopback). Nil means never.
	AllowPlaintext func(remote net.Addr) bool
	Auth           auth.Authenticator
	Store          Mailstore
	Logger         *slog.Logger
	// IdleTimeout closes a silent session; RFC 1939 §3 asks for at least
	// 10 minutes, which is the default.
	IdleTimeout time.Duration
	// MaxConnsPerIP limits concurrent sessions per remote IP address;
	// 0 means the default (20), negative means no limit.
	MaxConnsPerIP int
}

const (
	defaultIdleTimeout   = 10 * time.Minute
	defaultMaxConnsPerIP = 20
	// handshakeTimeout bounds a TLS handshake, which is not client think time.
	handshakeTimeout = 30 * time.Second
	// farewellTimeout bounds the last reply written to a session being closed.
	farewellTimeout = 2 * time.Second
)

// Server is a POP3 server. Create it with New; it may Serve several listeners.
type Server struct {
	cfg Config
	log *slog.Logger

	conns netlimit.Sessions[*session]

	mu    sync.Mutex
	locks map[int64]struct{} // account IDs with a POP3 session in TRANSACTION
}

// New returns a Server for cfg, filling in defaults.
func New(cfg Config) *Server {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	if cfg.MaxConnsPerIP == 0 {
		cfg.MaxConnsPerIP = defaultMaxConnsPerIP
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("proto", "pop3")
	return &Server{
		cfg: cfg,
		log: log,
		conns: netlimit.Sessions[*session]{MaxPerIP: cfg.MaxConnsPerIP, Log: log,
			// In place of the greeting, a -ERR tells a person why.
			Refusal: "-ERR [SYS/TEMP] Too many connections from your address\r\n"},
		locks: make(map[int64]struct{}),
	}
}

// ErrServerClosed is returned by Serve when called after Shutdown.
var ErrServerClosed = errors.New("pop3d: server closed")

// Serve accepts connections on l until Shutdown, then returns nil. With
// implicitTLS every connection starts with a TLS handshake (port 995,
// RFC 8314 §3.3).
func (s *Server) Serve(l net.Listener, implicitTLS bool) error {
	if implicitTLS && s.cfg.TLS == nil {
		return errors.New("pop3d: implicit TLS needs a TLS config")
	}
	if s.isShutdown() {
		return ErrServerClosed
	}
	err := s.conns.Serve(l, implicitTLS,
		func(c net.Conn, ip netip.Addr) *session { return newSession(s, c, ip) },
		func(sess *session) { sess.run(implicitTLS) })
	if errors.Is(err, netlimit.ErrClosed) {
		return nil // shut down while serving
	}
	return err
}

func (s *Server) isShutdown() bool { return s.conns.Closed() }

// Shutdown stops accepting connections and waits for sessions to end. A
// session that sends a command is told "-ERR server shutting down" and
// closed (QUIT is still honoured, so its deletions are applied). When ctx
// is done, the remaining sessions are told the same and closed at once;
// their pending deletions are not applied (RFC 1939 §6). It returns
// ctx.Err() if sessions had to be forced.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.conns.Shutdown(ctx, (*session).kick)
}

// lock takes the maildrop lock of an account (RFC 1939 §8: the server
// must prevent concurrent access to a maildrop). It reports false when
// another session holds it.
func (s *Server) lock(accountID int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.locks[accountID]; busy {
		return false
	}
	s.locks[accountID] = struct{}{}
	return true
}

func (s *Server) unlock(accountID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.locks, accountID)
}
