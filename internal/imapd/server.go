// Package imapd is Postern's IMAP server: IMAP4rev1 (RFC 3501) and
// IMAP4rev2 (RFC 9051) over the store's Mailstore, with its own wire codec
// (parse*.go, write.go), one goroutine per connection (session.go), the
// per-session view of the selected mailbox and the delivery of other
// sessions' changes (selected.go), and the command handlers (*_cmds.go,
// fetch.go, search.go, idle.go).
package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"postern/internal/netlimit"
	"sync"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

// Store is what the IMAP server needs of the store.
type Store interface {
	store.Mailstore
	// ACLStore serves shared mailboxes (RFC 4314, acl.go).
	store.ACLStore
	Notifier() store.Notifier
	// AccountByID gives QUOTA (RFC 9208) the account's current usage.
	AccountByID(ctx context.Context, id int64) (store.Account, error)
	// Account finds the owner of a mailbox an URLAUTH URL (RFC 4467) or a
	// shared mailbox's name (acl.go) names.
	Account(ctx context.Context, address string) (store.Account, error)
}

// Config is everything the server needs; the composition root fills it.
type Config struct {
	// Hostname is shown in the greeting.
	Hostname string
	// TLS enables STARTTLS (and implicit TLS listeners); nil disables both.
	TLS *tls.Config
	// AllowPlaintext tells whether LOGIN/AUTHENTICATE may run without TLS
	// for a peer (a dev loopback). Nil means never: LOGINDISABLED.
	AllowPlaintext func(remote net.Addr) bool
	Auth           auth.Authenticator
	Store          Store
	// Parse analyses an appended message (the message package's encodings).
	Parse func(r io.Reader) (store.MessageMeta, error)
	// Logger receives one line per event an administrator looks for.
	Logger *slog.Logger
	// AppendLimit is the largest message APPEND accepts (RFC 7889);
	// 0 means 50 MiB.
	AppendLimit int64
	// IdleTimeout is the autologout timer: RFC 9051 §5.4 asks for at
	// least 30 minutes; 0 means 30 minutes.
	IdleTimeout time.Duration

	// fetchChunk is how many messages a long FETCH reads at a time (see
	// streams); 0 means fetchStreamChunk. Tests make it small.
	fetchChunk int
}

// Server accepts IMAP connections. It has no global state: several can
// run in one process.
type Server struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	wg        sync.WaitGroup
	done      chan struct{}

	// deflaters are the COMPRESS=DEFLATE writers, shared by sessions
	// between responses (compress.go).
	deflaters sync.Pool
	// writers are the response buffers, lent to sessions from their first
	// write to their flush (write.go).
	writers sync.Pool
	// lists are recent SELECT listings of large mailboxes (listcache.go).
	lists listCache
	// recent hands out \Recent (recent.go).
	recent recentClaims
}

// New returns a server; it does not listen until Serve.
func New(cfg Config) *Server {
	if cfg.AppendLimit <= 0 {
		cfg.AppendLimit = 50 << 20
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	return &Server{
		cfg:       cfg,
		log:       cfg.Logger.With("proto", "imap"),
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*session]struct{}),
		done:      make(chan struct{}),
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("imapd: server closed")

// Serve accepts connections on l until Shutdown; with implicitTLS every
// connection starts with a TLS handshake (port 993, RFC 8314).
func (s *Server) Serve(l net.Listener, implicitTLS bool) error {
	if implicitTLS && s.cfg.TLS == nil {
		return errors.New("imapd: implicit TLS without a TLS config")
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	for {
		conn, err := netlimit.Accept(l, s.isClosing, s.log)
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			return err
		}
		if implicitTLS {
			conn = tls.Server(conn, s.cfg.TLS)
		}
		sess := newSession(s, conn, implicitTLS)
		if !s.track(sess) {
			conn.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.untrack(sess)
			sess.serve()
		}()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) track(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown stops accepting, tells every session "* BYE" at its next
// command boundary (IDLE sessions at once), and waits for them until ctx
// ends, when the remaining connections are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.done)
	}
	for l := range s.listeners {
		l.Close()
	}
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.interrupt()
	}
	waited := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
		if err := s.recent.save(ctx, s.cfg.Store, 0); err != nil {
			s.log.Warn("imap: saving \\Recent watermarks", "err", err)
		}
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for sess := range s.sessions {
			sess.conn.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}
