// Package managesieve is Postern's ManageSieve server (RFC 5804): users
// upload, check, list, fetch, activate, rename and delete their Sieve
// scripts with a client such as sieve-connect, Thunderbird's sieve add-on
// or Roundcube's managesieve plugin.
//
// What it owns: the wire protocol (parse.go reads commands with their
// quoted strings and literals under fixed limits, write.go encodes
// responses), sessions and their states (session.go), STARTTLS and SASL
// PLAIN / SCRAM-SHA-256[-PLUS] (auth.go), and the script commands
// (scripts.go). It owns no storage and no Sieve compiler: every script
// operation goes through the Scripts interface below.
//
// # The Scripts contract
//
// An implementation (the admin service) enforces every rule behind the
// interface: name rules, compile checks, quotas, one active script, the
// active script not being deletable. The server checks names and sizes
// too, so a bad request never reaches it, but does not rely on that.
// Errors are matched with errors.Is / errors.As, so they may be wrapped:
//
//   - ErrNotFound: no script by that name → NO (NONEXISTENT).
//   - ErrExists: RENAMESCRIPT to a name in use → NO (ALREADYEXISTS).
//   - ErrActive: DELETESCRIPT of the active script → NO (ACTIVE).
//   - ErrQuotaScripts, ErrQuotaSize, ErrQuota: → NO (QUOTA/MAXSCRIPTS),
//     NO (QUOTA/MAXSIZE), NO (QUOTA).
//   - ErrInvalidName: → NO "Invalid script name".
//   - An invalid script: any error e for which errors.As(e, &t) finds a
//     t implementing interface{ InvalidScript() bool } that returns true.
//     The client gets NO with t's Error() as the text, so that text must
//     say where and what ("line 3, column 5: unknown command"), and must
//     not hold anything secret. InvalidScriptError is a ready-made one.
//   - Warnings: PutScript and CheckScript may return an error for which
//     errors.As finds interface{ ScriptWarnings() bool } true; the script
//     was accepted (and, for PutScript, stored) and the client gets
//     OK (WARNINGS) with its Error() as the text. WarningsError is a
//     ready-made one.
//
// Any other error is logged and answered NO (TRYLATER) "internal error".
//
// Logging: one line per connection, per authentication result and per
// script change; never a password, a SASL response or a script body.
package managesieve

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"postern/internal/netlimit"
	"time"

	"postern/internal/auth"
)

// ScriptInfo is one entry of LISTSCRIPTS.
type ScriptInfo struct {
	Name   string
	Active bool
}

// Scripts is what ManageSieve needs: one account's scripts, every rule
// (compile check, quota, name rules, active script not deletable)
// enforced behind it. See the package documentation for the errors.
type Scripts interface {
	ListScripts(ctx context.Context, accountID int64) ([]ScriptInfo, error)
	// GetScript returns the source of a script.
	GetScript(ctx context.Context, accountID int64, name string) ([]byte, error)
	// PutScript compiles src and stores it under name, replacing a script
	// of that name (the active one stays active).
	PutScript(ctx context.Context, accountID int64, name string, src []byte) error
	// CheckScript compiles src without storing it.
	CheckScript(ctx context.Context, accountID int64, src []byte) error
	// SetActive makes name the active script; "" deactivates all.
	SetActive(ctx context.Context, accountID int64, name string) error
	DeleteScript(ctx context.Context, accountID int64, name string) error
	RenameScript(ctx context.Context, accountID int64, oldName, newName string) error
	// HaveSpace reports whether a script of size octets could be stored
	// under name (replacing one of that name) within the quotas.
	HaveSpace(ctx context.Context, accountID int64, name string, size int64) error
}

// Errors a Scripts implementation returns (wrapped or not).
var (
	ErrNotFound     = errors.New("managesieve: no such script")
	ErrExists       = errors.New("managesieve: script already exists")
	ErrActive       = errors.New("managesieve: script is active")
	ErrQuota        = errors.New("managesieve: quota exceeded")
	ErrQuotaScripts = errors.New("managesieve: too many scripts")
	ErrQuotaSize    = errors.New("managesieve: script too large")
	ErrInvalidName  = errors.New("managesieve: invalid script name")
)

// InvalidScriptError is a script the checker refused. Msg is shown to the
// user as is and should carry the location ("line 3, column 5: ...").
type InvalidScriptError struct{ Msg string }

func (e *InvalidScriptError) Error() string { return e.Msg }

// InvalidScript marks the error as an invalid script (see the package doc).
func (e *InvalidScriptError) InvalidScript() bool { return true }

// WarningsError is returned by PutScript or CheckScript for a script that
// was accepted with warnings. Msg is shown to the user as is.
type WarningsError struct{ Msg string }

func (e *WarningsError) Error() string { return e.Msg }

// ScriptWarnings marks the error as warnings on an accepted script.
func (e *WarningsError) ScriptWarnings() bool { return true }

// SCRAM is what SCRAM-SHA-256[-PLUS] needs; *auth.Service has it.
type SCRAM interface {
	NewSCRAMServer(ctx context.Context, remote netip.Addr, mech string, cb auth.ChannelBinding) *auth.SCRAMServer
}

// Config holds what a Server needs. Zero values of the limits mean the
// documented defaults.
type Config struct {
	// Hostname is shown in the greeting.
	Hostname string
	// TLS enables STARTTLS and implicit TLS; nil disables both.
	TLS *tls.Config
	// AllowPlaintext reports whether authentication is allowed without TLS
	// from this remote address (a dev config on loopback). Nil means never.
	AllowPlaintext func(remote net.Addr) bool
	Auth           auth.Authenticator
	// SCRAM, if set, enables SCRAM-SHA-256 (and -PLUS over TLS).
	SCRAM   SCRAM
	Scripts Scripts
	// Extensions is the space-separated list of Sieve extensions the
	// compiler supports, advertised in the SIEVE capability.
	Extensions string
	// MaxRedirects is advertised as MAXREDIRECTS when positive.
	MaxRedirects int
	// MaxScriptSize is the largest script accepted, in octets; also the
	// largest literal a client may send. Default 1 MiB.
	MaxScriptSize int64
	Logger        *slog.Logger
	// IdleTimeout closes a silent session. Default 30 minutes (RFC 5804
	// sets none; this matches IMAP's autologout floor).
	IdleTimeout time.Duration
	// MaxConnsPerIP limits concurrent sessions per remote IP address;
	// 0 means the default (10), negative means no limit.
	MaxConnsPerIP int
}

const (
	defaultIdleTimeout   = 30 * time.Minute
	defaultMaxConnsPerIP = 10
	defaultMaxScriptSize = 1 << 20
	// handshakeTimeout bounds a TLS handshake, which is not client think time.
	handshakeTimeout = 30 * time.Second
	// farewellTimeout bounds the last reply written to a session being closed.
	farewellTimeout = 2 * time.Second
)

// Server is a ManageSieve server. Create it with New; it may Serve several
// listeners.
type Server struct {
	cfg Config
	log *slog.Logger

	conns netlimit.Sessions[*session]
}

// New returns a Server for cfg, filling in defaults.
func New(cfg Config) *Server {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	if cfg.MaxConnsPerIP == 0 {
		cfg.MaxConnsPerIP = defaultMaxConnsPerIP
	}
	if cfg.MaxScriptSize <= 0 {
		cfg.MaxScriptSize = defaultMaxScriptSize
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("proto", "managesieve")
	return &Server{
		cfg: cfg,
		log: log,
		conns: netlimit.Sessions[*session]{MaxPerIP: cfg.MaxConnsPerIP, Log: log,
			// A BYE in place of the greeting tells a person why.
			Refusal: "BYE (TRYLATER) \"Too many connections from your address\"\r\n"},
	}
}

// ErrServerClosed is returned by Serve when called after Shutdown.
var ErrServerClosed = errors.New("managesieve: server closed")

// Serve accepts connections on l until Shutdown, then returns nil. With
// implicitTLS every connection starts with a TLS handshake.
func (s *Server) Serve(l net.Listener, implicitTLS bool) error {
	if implicitTLS && s.cfg.TLS == nil {
		return errors.New("managesieve: implicit TLS needs a TLS config")
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
// session that sends a command other than LOGOUT is told BYE and closed.
// When ctx is done, the remaining sessions are told BYE and closed at once,
// and Shutdown returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	return s.conns.Shutdown(ctx, (*session).kick)
}
