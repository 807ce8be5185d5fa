package managesieve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

// Per-session limits.
const (
	// maxBadCommands closes a session that keeps sending what we cannot
	// parse or do not know: a confused client or someone probing.
	maxBadCommands = 10
	// maxAuthFailures closes a session after this many failed logins; the
	// shared throttle in auth limits guessing across sessions.
	maxAuthFailures = 3
	writeBufSize    = 16 << 10
)

// session is one ManageSieve connection. Only its own goroutine touches its
// fields, except mu-guarded kicked, which Shutdown sets.
type session struct {
	srv  *Server
	log  *slog.Logger
	raw  net.Conn // the TCP connection, for deadlines
	conn net.Conn // raw or the TLS connection over it
	ip   netip.Addr
	br   *bufio.Reader
	p    *reader
	w    *bufio.Writer
	buf  []byte // scratch for responses

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	kicked bool

	isTLS        bool
	account      *store.Account // nil until AUTHENTICATE succeeds
	authFailures int
	badCommands  int
	closing      bool
}

func newSession(srv *Server, c net.Conn, ip netip.Addr) *session {
	// The protocol name rides on the context into auth's log lines.
	ctx, cancel := context.WithCancel(auth.WithProtocol(context.Background(), "managesieve"))
	s := &session{
		srv:    srv,
		log:    srv.log.With("remote", ip.String()),
		raw:    c,
		conn:   c,
		ip:     ip,
		w:      bufio.NewWriterSize(c, writeBufSize),
		ctx:    ctx,
		cancel: cancel,
	}
	s.setReader(c)
	return s
}

// setReader reads commands from r with a fresh buffer: whatever the old
// buffer held is dropped (the STARTTLS defence, RFC 5804 §2.2).
func (s *session) setReader(r io.Reader) {
	s.br = bufio.NewReader(r)
	// The literals of one command may hold a script of the largest size
	// and a name sent as a literal too.
	s.p = newReader(s.br, s.srv.cfg.MaxScriptSize+maxLine)
	s.p.arm = func() error { return s.arm(s.srv.cfg.IdleTimeout) }
}

// errKicked reports that Shutdown gave up waiting for this session.
var errKicked = errors.New("server shutting down")

// kick makes the session's pending and future I/O fail at once; the session
// then says BYE and closes. Called by Shutdown when its ctx is done.
func (s *session) kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kicked = true
	s.cancel()
	_ = s.raw.SetDeadline(time.Unix(1, 0))
}

// arm sets the connection deadlines for the next step, unless the session
// was kicked: checking and setting under mu means a kick is never undone.
func (s *session) arm(d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kicked {
		return errKicked
	}
	return s.raw.SetDeadline(time.Now().Add(d))
}

func (s *session) user() string {
	if s.account == nil {
		return ""
	}
	return s.account.Address
}

// run drives the session until LOGOUT, an error, or shutdown.
func (s *session) run(implicitTLS bool) {
	defer s.raw.Close()
	defer s.cancel()
	if implicitTLS && !s.startTLS() {
		return
	}
	s.log.Info("connection", "tls", s.isTLS)
	// RFC 5804 §1.7: the greeting is a capability response.
	s.writeCapabilities()
	s.respond("OK", "", s.srv.cfg.Hostname+" Postern ManageSieve ready")
	for !s.closing {
		if err := s.flushIfIdle(); err != nil {
			s.log.Info("connection lost", "user", s.user(), "err", err)
			return
		}
		cmd, err := s.readCommand()
		var pe *parseError
		switch {
		case errors.As(err, &pe):
			s.parseFailed(pe)
		case err != nil:
			s.readFailed(err)
			return
		default:
			s.handle(cmd)
		}
	}
	_ = s.w.Flush()
}

// flushIfIdle flushes the responses unless more input is already
// buffered: a pipelining client then gets its responses in one write, and
// no response waits behind a blocking read.
func (s *session) flushIfIdle() error {
	if n := s.br.Buffered(); n > 0 {
		if p, _ := s.br.Peek(n); bytes.IndexByte(p, '\n') >= 0 {
			return nil
		}
	}
	return s.w.Flush()
}

func (s *session) readCommand() (command, error) {
	if err := s.arm(s.srv.cfg.IdleTimeout); err != nil {
		return command{}, err
	}
	cmd, err := s.p.readCommand()
	var pe *parseError
	if err == nil || errors.As(err, &pe) {
		// A fresh allowance to write the response, however long the
		// client took to send the command.
		if aerr := s.arm(s.srv.cfg.IdleTimeout); aerr != nil {
			return command{}, aerr
		}
	}
	return cmd, err
}

// parseFailed answers a command that could not be read.
func (s *session) parseFailed(pe *parseError) {
	if pe.fatal {
		s.log.Warn("unreadable command, closing", "user", s.user(), "err", pe.msg)
		s.respond("BYE", pe.code, pe.msg)
		s.closing = true
		return
	}
	s.replyError("", &respError{code: pe.code, msg: pe.msg, bad: true})
}

// readFailed logs why the session ends and says goodbye when it is ours
// to end.
func (s *session) readFailed(err error) {
	s.mu.Lock()
	kicked := s.kicked
	s.mu.Unlock()
	switch {
	case kicked || errors.Is(err, errKicked):
		s.log.Info("session closed by shutdown", "user", s.user())
		s.farewell("Server shutting down")
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.log.Info("idle timeout", "user", s.user())
		s.farewell("Idle timeout, closing connection")
	case errors.Is(err, io.EOF):
		s.log.Info("connection closed without LOGOUT", "user", s.user())
	default:
		s.log.Info("connection lost", "user", s.user(), "err", err)
	}
}

// farewell writes a last BYE with a short deadline of its own.
func (s *session) farewell(text string) {
	_ = s.raw.SetDeadline(time.Now().Add(farewellTimeout))
	s.respond("BYE", "", text)
	_ = s.w.Flush()
}

// respError is a NO or BYE response: an optional response code (RFC 5804
// §1.3) and text for the client. Handlers return it; other errors are
// internal and logged, and the client gets a generic response.
type respError struct {
	bye  bool // BYE and close rather than NO
	code string
	msg  string
	bad  bool // counts toward maxBadCommands
}

func (e *respError) Error() string { return e.msg }

// no is a NO response for a well-formed command that could not be done.
func no(code, msg string) error { return &respError{code: code, msg: msg} }

// badCmd is a NO response for a command that was wrong: unknown, out of
// state, or with bad arguments.
func badCmd(msg string) error { return &respError{msg: msg, bad: true} }

// handle runs one command.
func (s *session) handle(cmd command) {
	if s.srv.isShutdown() && cmd.Name != "LOGOUT" {
		s.respond("BYE", "", "Server shutting down")
		s.closing = true
		return
	}
	if err := s.dispatch(cmd); err != nil {
		s.replyError(cmd.Name, err)
	}
}

func (s *session) replyError(name string, err error) {
	var re *respError
	if !errors.As(err, &re) {
		s.log.Error("command failed", "cmd", name, "user", s.user(), "err", err)
		re = &respError{code: "TRYLATER", msg: "Internal error, try again later"}
	}
	if re.bye {
		s.respond("BYE", re.code, re.msg)
		s.closing = true
		return
	}
	if re.bad {
		s.badCommands++
		if s.badCommands >= maxBadCommands {
			s.log.Warn("too many bad commands", "user", s.user())
			s.respond("BYE", "", "Too many errors, closing connection")
			s.closing = true
			return
		}
	}
	s.respond("NO", re.code, re.msg)
}

// respond writes an OK, NO or BYE response.
func (s *session) respond(kind, code, text string) {
	s.buf = appendResponse(s.buf[:0], kind, code, text)
	_, _ = s.w.Write(s.buf)
}

// dispatch runs a command valid in the current state (RFC 5804 §2).
func (s *session) dispatch(c command) error {
	switch c.Name {
	case "CAPABILITY":
		if len(c.Args) != 0 {
			return badCmd("Usage: CAPABILITY")
		}
		s.writeCapabilities()
		s.respond("OK", "", "Capability completed")
		return nil
	case "LOGOUT":
		if len(c.Args) != 0 {
			return badCmd("Usage: LOGOUT")
		}
		s.respond("OK", "", "Logout completed")
		s.closing = true
		return nil
	case "NOOP":
		return s.cmdNoop(c)
	case "STARTTLS":
		return s.cmdStartTLS(c)
	case "AUTHENTICATE":
		return s.cmdAuthenticate(c)
	}
	handler, known := authCommands[c.Name]
	switch {
	case !known:
		return badCmd("Unknown command")
	case s.account == nil:
		return badCmd("Authenticate first")
	}
	return handler(s, c)
}

// cmdNoop answers NOOP, echoing its tag (RFC 5804 §2.13).
func (s *session) cmdNoop(c command) error {
	switch {
	case len(c.Args) == 0:
		s.respond("OK", "", "Done")
	case len(c.Args) == 1 && c.Args[0].isString():
		code := string(appendString([]byte("TAG "), string(c.Args[0].val)))
		s.respond("OK", code, "Done")
	default:
		return badCmd("Usage: NOOP [tag]")
	}
	return nil
}

// writeCapabilities writes the capability lines of the current state
// (RFC 5804 §1.7), without the final OK.
func (s *session) writeCapabilities() {
	cfg := &s.srv.cfg
	b := s.buf[:0]
	line := func(name string, value *string) {
		b = appendString(b, name)
		if value != nil {
			b = append(b, ' ')
			b = appendString(b, *value)
		}
		b = append(b, "\r\n"...)
	}
	str := func(v string) *string { return &v }
	line("IMPLEMENTATION", str("Postern"))
	line("SASL", str(strings.Join(s.mechanisms(), " ")))
	exts := strings.Fields(cfg.Extensions)
	line("SIEVE", str(strings.Join(exts, " ")))
	if cfg.TLS != nil && !s.isTLS && s.account == nil {
		line("STARTTLS", nil)
	}
	for _, e := range exts {
		if strings.EqualFold(e, "enotify") {
			// RFC 5804 §1.7: NOTIFY lists the enotify methods.
			line("NOTIFY", str("mailto"))
			break
		}
	}
	if cfg.MaxRedirects > 0 {
		line("MAXREDIRECTS", str(strconv.Itoa(cfg.MaxRedirects)))
	}
	if s.account != nil {
		line("OWNER", str(s.account.Address))
	}
	line("VERSION", str("1.0"))
	line("UNAUTHENTICATE", nil)
	s.buf = b
	_, _ = s.w.Write(b)
}

// startTLS runs the server side of a TLS handshake on the raw connection
// and replaces the reader with a fresh one, so that nothing the client sent
// before the handshake is read as a command (RFC 5804 §2.2, the
// CVE-2011-0411 class of plaintext command injection).
func (s *session) startTLS() bool {
	if err := s.arm(handshakeTimeout); err != nil {
		return false
	}
	tc := tls.Server(s.raw, s.srv.cfg.TLS)
	if err := tc.HandshakeContext(s.ctx); err != nil {
		s.log.Info("TLS handshake failed", "err", err)
		return false
	}
	s.conn = tc
	s.setReader(tc)
	s.w.Reset(tc)
	s.isTLS = true
	return true
}

// cmdStartTLS starts TLS (RFC 5804 §2.2) and re-sends the capabilities
// under it.
func (s *session) cmdStartTLS(c command) error {
	switch {
	case s.srv.cfg.TLS == nil:
		return badCmd("STARTTLS not available")
	case s.isTLS:
		return badCmd("Already using TLS")
	case s.account != nil:
		return badCmd("STARTTLS is only valid before AUTHENTICATE")
	case len(c.Args) != 0:
		return badCmd("Usage: STARTTLS")
	}
	s.respond("OK", "", "Begin TLS negotiation now")
	if err := s.w.Flush(); err != nil {
		s.closing = true
		return nil
	}
	dropped := s.br.Buffered()
	if !s.startTLS() {
		s.closing = true
		return nil
	}
	if dropped > 0 {
		s.log.Warn("input pipelined after STARTTLS discarded", "bytes", dropped)
	}
	s.log.Info("STARTTLS done")
	s.writeCapabilities()
	s.respond("OK", "", "TLS negotiation successful")
	return nil
}
