package imapd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"postern/internal/store"
)

// Session states, RFC 9051 §3.
type state int

const (
	stateNotAuth state = iota
	stateAuth
	stateSelected
	stateLogout
)

// reply is the tagged response a handler returns; untagged data it wrote
// itself. Handlers never write the tagged line.
type reply struct {
	status string // OK, NO, BAD
	code   string // response code without brackets, may be ""
	text   string
}

func ok(code, text string) reply  { return reply{"OK", code, text} }
func no(code, text string) reply  { return reply{"NO", code, text} }
func bad(code, text string) reply { return reply{"BAD", code, text} }

// preAuthTimeout bounds how long an unauthenticated client may stay idle.
const preAuthTimeout = 3 * time.Minute

// maxAuthFailures ends a connection that keeps guessing; the shared
// throttle in auth slows guessers across connections.
const maxAuthFailures = 5

// session is one connection, served by one goroutine; only that goroutine
// writes to the connection, except the IDLE reader which only reads.
type session struct {
	srv    *Server
	conn   net.Conn
	br     *bufio.Reader
	w      respWriter
	p      *parser
	log    *slog.Logger
	remote netip.Addr
	ctx    context.Context
	cancel context.CancelFunc

	tls       bool
	state     state
	authFails int
	acct      store.Account
	rev2      bool      // ENABLE IMAP4rev2 given (RFC 9051 §6.3.1)
	cond      condState // CONDSTORE/QRESYNC (RFC 7162)

	utf8       bool         // ENABLE UTF8=ACCEPT given (RFC 6855 §3)
	uidOnly    bool         // ENABLE UIDONLY given (RFC 9586): no message numbers
	notify     *notifyState // NOTIFY SET (RFC 5465); nil without
	compressed bool         // COMPRESS DEFLATE active (RFC 4978)

	events      <-chan store.Change
	unsubscribe func()
	sel         *selected

	mu       sync.Mutex // guards stopping against interrupt
	stopping bool
}

func newSession(srv *Server, conn net.Conn, isTLS bool) *session {
	s := &session{srv: srv, conn: conn, tls: isTLS}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		s.remote = ap.Addr().Unmap()
	}
	s.log = srv.log.With("remote", conn.RemoteAddr().String())
	s.setConn(conn)
	return s
}

// setConn (re)builds the buffered reader and writer: after STARTTLS the old
// reader is dropped with anything a client pipelined in the clear
// (RFC 9051 §6.2.1, CVE-2011-0411 class).
func (s *session) setConn(c net.Conn) {
	s.conn = c
	// Small: the parser reads byte by byte, lines longer than the buffer
	// are assembled (readLine), and literals bypass it; 4 KiB per idle
	// connection instead of 16 is what 10,000 IDLE sessions notice.
	s.br = bufio.NewReaderSize(c, 4<<10)
	s.w = respWriter{dst: c, pool: &s.srv.writers}
	s.p = newParser(s.br, s.continueReq)
}

func (s *session) continueReq() error {
	s.w.str("+ Ready\r\n")
	return s.w.flush()
}

// interrupt makes the session say BYE at its next read (Shutdown).
func (s *session) interrupt() {
	s.mu.Lock()
	s.stopping = true
	s.conn.SetReadDeadline(time.Now())
	s.mu.Unlock()
	s.cancel()
}

// armRead sets the autologout timer before a read; false when shutting down.
func (s *session) armRead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	timeout := s.srv.cfg.IdleTimeout
	if s.state == stateNotAuth {
		// RFC 9051 §5.4 lets the pre-authentication timer be shorter.
		timeout = min(timeout, preAuthTimeout)
	}
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	return true
}

func (s *session) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

func (s *session) serve() {
	defer s.close()
	defer func() {
		// A bug in one session must not take the server down with it.
		if r := recover(); r != nil {
			s.log.Error("imap session panic", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if tc, ok := s.conn.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(time.Minute))
		if err := tc.HandshakeContext(s.ctx); err != nil {
			s.log.Info("imap tls handshake failed", "err", err)
			return
		}
		tc.SetDeadline(time.Time{})
	}
	s.log.Debug("imap connect")
	s.w.line("* OK [CAPABILITY ", s.capabilities(), "] ", s.srv.cfg.Hostname, " Postern IMAP ready")
	if s.w.flush() != nil {
		return
	}
	for s.state != stateLogout {
		if !s.armRead() {
			s.bye("server shutting down")
			return
		}
		s.p.literalMinus = s.state == stateNotAuth // LITERAL- until login
		c, err := parseCommand(s.p)
		if err != nil && !s.handleParseError(c, err) {
			return
		}
		if err != nil {
			continue
		}
		s.decodeNames(c)
		r := s.dispatch(c)
		if r.status == "" { // the handler ended the connection
			return
		}
		if r.status != "none" {
			// After BYE the client is told nothing more of the mailbox:
			// its view ends at LOGOUT (RFC 9051 §6.1.3).
			if s.state != stateLogout {
				s.sync(c.allowsExpunge())
			}
			s.tagged(c.tag, r)
		}
		if s.w.flush() != nil {
			return
		}
	}
}

// handleParseError answers a bad command; false ends the session.
func (s *session) handleParseError(c *command, err error) bool {
	var pe *parseError
	if !errors.As(err, &pe) {
		if s.isStopping() {
			s.bye("server shutting down")
		} else if isTimeout(err) {
			s.bye("autologout; idle for too long")
		}
		return false
	}
	s.tagged(c.tagOrStar(), bad(pe.code, pe.msg))
	if pe.fatal {
		s.bye("protocol error")
		return false
	}
	if !pe.lineDone && s.p.skipLine() != nil {
		s.w.flush()
		return false
	}
	return s.w.flush() == nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *session) bye(text string) {
	s.w.line("* BYE ", text)
	s.w.flush()
}

func (s *session) tagged(tag string, r reply) {
	s.w.str(tag)
	s.w.byte(' ')
	s.w.str(r.status)
	s.w.byte(' ')
	if r.code != "" {
		s.w.byte('[')
		s.w.str(r.code)
		s.w.str("] ")
	}
	if r.text == "" {
		r.text = "done"
	}
	s.w.str(r.text)
	s.w.crlf()
}

func (s *session) close() {
	if s.unsubscribe != nil {
		s.unsubscribe()
	}
	s.cancel()
	s.conn.Close()
	if s.acct.ID != 0 {
		s.log.Info("imap logout")
	} else {
		s.log.Debug("imap disconnect")
	}
}

// allowsExpunge tells whether untagged EXPUNGE may be sent before this
// command's tagged reply: never after FETCH, STORE or SEARCH by sequence
// number, whose results the client may still be mapping (RFC 9051 §7.5.1,
// RFC 3501 §7.4.1).
func (c *command) allowsExpunge() bool {
	switch c.name {
	case "FETCH", "STORE", "SEARCH":
		return c.uid
	}
	return true
}

// dispatch checks the state and runs the handler.
func (s *session) dispatch(c *command) reply {
	switch c.name {
	case "CAPABILITY":
		s.w.line("* CAPABILITY ", s.capabilities())
		return ok("", "CAPABILITY completed")
	case "NOOP", "CHECK":
		if c.name == "CHECK" && s.state != stateSelected {
			return bad("", "no mailbox selected")
		}
		return ok("", c.name+" completed")
	case "LOGOUT":
		s.w.line("* BYE logging out")
		s.state = stateLogout
		return ok("", "LOGOUT completed")
	case "ID":
		return s.cmdID(c)
	}
	if s.state == stateNotAuth {
		switch c.name {
		case "STARTTLS":
			return s.cmdStartTLS(c)
		case "LOGIN":
			return s.cmdLogin(c)
		case "AUTHENTICATE":
			return s.cmdAuthenticate(c)
		case "APPEND", "REPLACE":
			return s.drainAppend(c, bad("", "log in first"))
		}
		return bad("", "log in first")
	}
	if r, handled := s.dispatchAuth(c); handled {
		return r
	}
	if s.state != stateSelected {
		if c.name == "APPEND" || c.name == "REPLACE" {
			return s.drainAppend(c, bad("", "wrong state"))
		}
		return bad("", "no mailbox selected")
	}
	return s.dispatchSelected(c)
}

func (s *session) dispatchAuth(c *command) (reply, bool) {
	switch c.name {
	case "ENABLE":
		return s.cmdEnable(c), true
	case "NAMESPACE":
		// RFC 2342: one personal namespace, "/" delimiter.
		s.w.line(`* NAMESPACE (("" "/")) NIL NIL`)
		return ok("", "NAMESPACE completed"), true
	case "SELECT", "EXAMINE":
		return s.cmdSelect(c), true
	case "CREATE":
		return s.cmdCreate(c), true
	case "DELETE":
		return s.cmdDelete(c), true
	case "RENAME":
		return s.cmdRename(c), true
	case "SUBSCRIBE", "UNSUBSCRIBE":
		return s.cmdSubscribe(c), true
	case "LIST", "LSUB":
		return s.cmdList(c), true
	case "STATUS":
		return s.cmdStatus(c), true
	case "ESEARCH":
		return s.cmdESearch(c), true
	case "NOTIFY":
		return s.cmdNotify(c), true
	case "GENURLAUTH":
		return s.cmdGenURLAuth(c), true
	case "URLFETCH":
		return s.cmdURLFetch(c), true
	case "RESETKEY":
		return s.cmdResetKey(c), true
	case "GETMETADATA":
		return s.cmdGetMetadata(c), true
	case "SETMETADATA":
		return s.cmdSetMetadata(c), true
	case "APPEND":
		return s.cmdAppend(c), true
	case "IDLE":
		return s.cmdIdle(c), true
	case "COMPRESS":
		return s.cmdCompress(c), true
	case "GETQUOTA", "GETQUOTAROOT", "SETQUOTA":
		return s.cmdQuota(c), true
	case "STARTTLS", "LOGIN", "AUTHENTICATE":
		return bad("", "already authenticated"), true
	}
	return reply{}, false
}

func (s *session) dispatchSelected(c *command) reply {
	if r, refused := s.uidRequired(c); refused {
		if c.name == "REPLACE" {
			return s.drainAppend(c, r)
		}
		return r
	}
	switch c.name {
	case "CLOSE", "UNSELECT":
		return s.cmdClose(c)
	case "REPLACE":
		return s.cmdReplace(c)
	case "CANCELUPDATE":
		return s.cmdCancelUpdate(c)
	case "EXPUNGE":
		return s.cmdExpunge(c)
	case "SEARCH":
		return s.cmdSearch(c)
	case "SORT":
		return s.cmdSort(c)
	case "THREAD":
		return s.cmdThread(c)
	case "FETCH":
		return s.cmdFetch(c)
	case "STORE":
		return s.cmdStore(c)
	case "COPY", "MOVE":
		return s.cmdCopy(c)
	}
	return bad("", "unknown command")
}

// capabilities lists only what this session can use now (RFC 9051 §7.2.2).
func (s *session) capabilities() string {
	caps := []string{"IMAP4rev1", "IMAP4rev2", "SASL-IR", "ID", "ENABLE", "IDLE",
		"NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "SPECIAL-USE", "CHILDREN", "ESEARCH", "SEARCHRES",
		"LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE", "CONDSTORE", "QRESYNC"}
	caps = append(caps, "SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES") // RFC 5256, RFC 5957
	caps = append(caps, "ESORT", "PARTIAL")                                                   // RFC 5267 §3.2, RFC 9394
	if s.state == stateNotAuth {
		// RFC 7888: an unauthenticated peer may not push large literals
		// unasked; LITERAL+ once logged in.
		caps = append(caps, "LITERAL-")
		if !s.tls && s.srv.cfg.TLS != nil {
			caps = append(caps, "STARTTLS")
		}
		if s.plaintextOK() {
			caps = append(caps, "AUTH=PLAIN")
		} else {
			caps = append(caps, "LOGINDISABLED")
		}
	} else {
		caps = append(caps, "APPENDLIMIT="+itoa(s.srv.cfg.AppendLimit))
		caps = append(caps, "LITERAL+", "MULTIAPPEND", "BINARY", "UTF8=ACCEPT", "CREATE-SPECIAL-USE",
			"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
			"OBJECTID",       // RFC 8474, the JMAP ids
			"PREVIEW",        // RFC 8970
			"WITHIN",         // RFC 5032
			"REPLACE",        // RFC 8508
			"MULTISEARCH",    // RFC 7377
			"METADATA",       // RFC 5464
			"SAVEDATE",       // RFC 8514
			"UIDONLY",        // RFC 9586
			"CONTEXT=SEARCH", // RFC 5267
			"CONTEXT=SORT",   // RFC 5267
			"NOTIFY",         // RFC 5465
			"CATENATE",       // RFC 4469
			"URLAUTH",        // RFC 4467
			"URLAUTH=BINARY") // RFC 5524
		if !s.compressed {
			caps = append(caps, "COMPRESS=DEFLATE") // RFC 4978 §3
		}
	}
	return strings.Join(caps, " ")
}

// plaintextOK tells whether passwords may be sent on this connection.
func (s *session) plaintextOK() bool {
	if s.tls {
		return true
	}
	f := s.srv.cfg.AllowPlaintext
	return f != nil && f(s.conn.RemoteAddr())
}

// drainAppend consumes the literal of an APPEND that will not run, so that
// the next command is read from its start.
func (s *session) drainAppend(c *command, r reply) reply {
	if c.app.catenate {
		// The parts are still on the line, with any non-synchronising
		// literals among them.
		if s.p.skipLine() != nil {
			return reply{}
		}
		return r
	}
	if c.app.nonSync {
		if c.app.size > s.srv.cfg.AppendLimit {
			s.tagged(c.tag, bad("TOOBIG", "message too large"))
			s.bye("protocol error")
			return reply{}
		}
		if _, err := io.CopyN(io.Discard, s.br, c.app.size); err != nil {
			return reply{}
		}
		if s.p.skipLine() != nil {
			return reply{}
		}
	}
	// A refused synchronising literal was never sent (no "+" went out).
	return r
}
