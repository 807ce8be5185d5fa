package pop3d

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
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
	writeBufSize    = 32 << 10
	copyBufSize     = 32 << 10
)

type state int

const (
	stateAuthorization state = iota // RFC 1939 §4
	stateTransaction                // RFC 1939 §5
)

// session is one POP3 connection. Only its own goroutine touches its fields,
// except mu-guarded kicked, which Shutdown sets.
type session struct {
	srv  *Server
	log  *slog.Logger
	raw  net.Conn // the TCP connection, for deadlines
	conn net.Conn // raw or the TLS connection over it
	ip   netip.Addr
	r    *bufio.Reader
	w    *bufio.Writer

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	kicked bool

	isTLS        bool
	state        state
	user         string // from USER, waiting for PASS
	authFailures int
	badCommands  int
	closing      bool

	// TRANSACTION state: the snapshot taken at login.
	account   store.Account
	mailbox   store.Mailbox
	msgs      []store.Message
	deleted   []bool
	retrieved []bool
	nRetr     int
	buf       []byte // copy buffer for RETR and TOP
}

func newSession(srv *Server, c net.Conn, ip netip.Addr) *session {
	// The protocol name rides on the context into auth's log lines.
	ctx, cancel := context.WithCancel(auth.WithProtocol(context.Background(), "pop3"))
	return &session{
		srv:    srv,
		log:    srv.log.With("remote", ip.String()),
		raw:    c,
		conn:   c,
		ip:     ip,
		r:      bufio.NewReader(c),
		w:      bufio.NewWriterSize(c, writeBufSize),
		ctx:    ctx,
		cancel: cancel,
	}
}

// errKicked reports that Shutdown gave up waiting for this session.
var errKicked = errors.New("server shutting down")

// kick makes the session's pending and future I/O fail at once; the session
// then says goodbye and closes. Called by Shutdown when its ctx is done.
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

// run drives the session until QUIT, an error, or shutdown.
func (s *session) run(implicitTLS bool) {
	defer s.raw.Close()
	defer s.cancel()
	defer func() {
		if s.state == stateTransaction {
			s.srv.unlock(s.account.ID)
		}
	}()
	if implicitTLS {
		if !s.startTLS() {
			return
		}
	}
	s.log.Info("connection", "tls", s.isTLS)
	s.writef("+OK %s Postern POP3 server ready\r\n", s.srv.cfg.Hostname)
	for !s.closing {
		if err := s.flushIfIdle(); err != nil {
			s.log.Info("connection lost", "user", s.account.Address, "err", err)
			return
		}
		line, err := s.readCommand()
		switch {
		case err == errLineTooLong:
			s.replyError("", badCmd("Line too long"))
		case err != nil:
			s.readFailed(err)
			return
		default:
			s.handle(line)
		}
	}
	_ = s.w.Flush()
}

// flushIfIdle flushes the replies unless more complete commands are already
// buffered: a pipelining client (RFC 2449 §6.6) then gets its replies in
// one write, and no reply waits behind a blocking read.
func (s *session) flushIfIdle() error {
	if n := s.r.Buffered(); n > 0 {
		if p, _ := s.r.Peek(n); bytes.IndexByte(p, '\n') >= 0 {
			return nil
		}
	}
	return s.w.Flush()
}

func (s *session) readCommand() (string, error) {
	if err := s.arm(s.srv.cfg.IdleTimeout); err != nil {
		return "", err
	}
	line, err := readLine(s.r, maxLine)
	if err == nil || err == errLineTooLong {
		// A fresh allowance to write the reply, however long the client
		// thought before sending the command.
		if aerr := s.arm(s.srv.cfg.IdleTimeout); aerr != nil {
			return "", aerr
		}
	}
	return line, err
}

// readFailed logs why the session ends and says goodbye when it is ours
// to end.
func (s *session) readFailed(err error) {
	s.mu.Lock()
	kicked := s.kicked
	s.mu.Unlock()
	switch {
	case kicked || errors.Is(err, errKicked):
		s.log.Info("session closed by shutdown", "user", s.account.Address)
		_ = s.raw.SetDeadline(time.Now().Add(farewellTimeout))
		s.w.WriteString("-ERR server shutting down\r\n")
		_ = s.w.Flush()
	case errors.Is(err, os.ErrDeadlineExceeded):
		// RFC 1939 §3: an autologout timer ends the session without
		// entering the UPDATE state.
		s.log.Info("idle timeout", "user", s.account.Address)
	case errors.Is(err, io.EOF):
		s.log.Info("connection closed without QUIT", "user", s.account.Address)
	default:
		s.log.Info("connection lost", "user", s.account.Address, "err", err)
	}
}

// respError is a -ERR reply: an optional response code (RFC 2449 §8,
// RFC 3206) and text for the client. Handlers return it; other errors are
// internal and logged, and the client gets a generic reply.
type respError struct {
	code string
	msg  string
	bad  bool // counts toward maxBadCommands
}

func (e *respError) Error() string { return e.msg }

func perr(code, msg string) error { return &respError{code: code, msg: msg} }

func badCmd(msg string) error { return &respError{msg: msg, bad: true} }

// handle parses and runs one command line.
func (s *session) handle(line string) {
	cmd, err := parseCommand(line)
	if err == nil && s.srv.isShutdown() && cmd.Name != "QUIT" {
		s.w.WriteString("-ERR server shutting down\r\n")
		s.closing = true
		return
	}
	switch {
	case err == errLineTooLong:
		err = badCmd("Line too long")
	case err != nil:
		err = badCmd("Syntax error")
	default:
		err = s.dispatch(cmd)
	}
	if err != nil {
		s.replyError(cmd.Name, err)
	}
}

func (s *session) replyError(name string, err error) {
	var re *respError
	if !errors.As(err, &re) {
		s.log.Error("command failed", "cmd", name, "user", s.account.Address, "err", err)
		re = &respError{code: "SYS/TEMP", msg: "Internal error, try again later"}
	}
	if re.code != "" {
		s.writef("-ERR [%s] %s\r\n", re.code, re.msg)
	} else {
		s.writef("-ERR %s\r\n", re.msg)
	}
	if re.bad {
		s.badCommands++
		if s.badCommands >= maxBadCommands {
			s.log.Warn("too many bad commands", "user", s.account.Address)
			s.w.WriteString("-ERR Too many errors, closing connection\r\n")
			s.closing = true
		}
	}
}

// dispatch runs a command valid in the current state (RFC 1939 §4, §5).
func (s *session) dispatch(c command) error {
	switch c.Name {
	case "CAPA":
		return s.cmdCAPA(c)
	case "NOOP":
		if s.state != stateTransaction {
			break
		}
		s.w.WriteString("+OK\r\n")
		return nil
	case "QUIT":
		return s.cmdQUIT(c)
	}
	if s.state == stateAuthorization {
		switch c.Name {
		case "USER":
			return s.cmdUSER(c)
		case "PASS":
			return s.cmdPASS(c)
		case "AUTH":
			return s.cmdAUTH(c)
		case "STLS":
			return s.cmdSTLS(c)
		}
	} else {
		switch c.Name {
		case "STAT":
			return s.cmdSTAT(c)
		case "LIST":
			return s.cmdLIST(c)
		case "UIDL":
			return s.cmdUIDL(c)
		case "RETR":
			return s.cmdRETR(c)
		case "TOP":
			return s.cmdTOP(c)
		case "DELE":
			return s.cmdDELE(c)
		case "RSET":
			return s.cmdRSET(c)
		}
	}
	return badCmd("Unknown command or not valid in this state")
}

func (s *session) writef(format string, args ...any) {
	fmt.Fprintf(s.w, format, args...)
}

// startTLS runs the server side of a TLS handshake on the raw connection
// and replaces the reader with a fresh one, so that nothing the client sent
// before the handshake is read as a command (RFC 2595 §4, CVE-2011-0411).
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
	s.r = bufio.NewReader(tc)
	s.w.Reset(tc)
	s.isTLS = true
	return true
}
