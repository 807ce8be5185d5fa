package smtpserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// maxCommandLine bounds a command line, CRLF included: RFC 5321
	// §4.5.3.1.4 gives 512 octets, which the parameters of DSN (ENVID up
	// to 100, ORCPT up to 500), AUTH= and SMTPUTF8 addresses may pass.
	maxCommandLine = 2048
	// maxAuthLine bounds AUTH and its responses (RFC 4954 §4: 12288).
	maxAuthLine = 12288
	// maxBadCommands is how many unknown or out-of-sequence commands one
	// connection may send before it is told 421 and closed.
	maxBadCommands = 20
	readBufferSize = 16 << 10
	// minDataProgress is how much mail data renews the idle timeout: a
	// client sending a byte now and then cannot hold a session for ever
	// (issue 13).
	minDataProgress = 512
)

var errLineTooLong = errors.New("smtpserver: command line too long")

// Conn is one client connection and its protocol state.
type Conn struct {
	srv *Server

	mu sync.Mutex // guards nc, which STARTTLS replaces
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	// inData: the idle timeout is renewed by the mail data as it comes,
	// at least minDataProgress octets each time, rather than set once for
	// a whole command line.
	inData        bool
	sinceDeadline int

	sess   Session
	helo   string
	isTLS  bool
	authed bool

	inMail    bool // MAIL accepted, transaction open
	rcptTried int
	rcptOK    int

	bad   int
	quit  bool  // close once the reply is out
	fatal error // the connection failed: close without a reply
}

func newConn(s *Server, nc net.Conn) *Conn {
	c := &Conn{srv: s, nc: nc}
	_, c.isTLS = nc.(*tls.Conn)
	c.br = bufio.NewReaderSize(netReader{c}, readBufferSize)
	c.bw = bufio.NewWriterSize(netWriter{c}, 4096)
	return c
}

// Conn returns the connection, a *tls.Conn after STARTTLS.
func (c *Conn) Conn() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nc
}

// Hostname is the client's EHLO or HELO argument ("" before either).
func (c *Conn) Hostname() string { return c.helo }

// TLSConnectionState reports the TLS state of the session, ok false
// without TLS.
func (c *Conn) TLSConnectionState() (tls.ConnectionState, bool) {
	tc, ok := c.Conn().(*tls.Conn)
	if !ok {
		return tls.ConnectionState{}, false
	}
	return tc.ConnectionState(), true
}

// netReader reads the connection. Replies wait in the write buffer while
// pipelined commands are in the read buffer (RFC 2920 §3.2) and go out
// before any read that could block.
type netReader struct{ c *Conn }

func (r netReader) Read(p []byte) (int, error) {
	c := r.c
	if c.bw.Buffered() > 0 {
		if err := c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	if t := c.srv.cfg.IdleTimeout; c.inData && t > 0 && c.sinceDeadline >= minDataProgress {
		c.nc.SetReadDeadline(time.Now().Add(t))
		c.sinceDeadline = 0
	}
	n, err := c.nc.Read(p)
	c.sinceDeadline += n
	return n, err
}

// startData starts reading mail data: one idle timeout from now, renewed
// as the data makes progress.
func (c *Conn) startData() {
	c.inData = true
	c.sinceDeadline = 0
	if t := c.srv.cfg.IdleTimeout; t > 0 {
		c.nc.SetReadDeadline(time.Now().Add(t))
	}
}

type netWriter struct{ c *Conn }

func (w netWriter) Write(p []byte) (int, error) {
	if t := w.c.srv.cfg.IdleTimeout; t > 0 {
		w.c.nc.SetWriteDeadline(time.Now().Add(t))
	}
	return w.c.nc.Write(p)
}

func (c *Conn) log() []any {
	return []any{"remote", c.nc.RemoteAddr().String()}
}

func (c *Conn) serve() {
	defer c.close()
	defer func() {
		if v := recover(); v != nil {
			c.srv.cfg.Logger.Error("smtp session panic, closing", append(c.log(), "panic", fmt.Sprint(v), "at", panicSite())...)
			c.writeReply(replyInternal)
			c.bw.Flush()
		}
	}()
	if tc, ok := c.nc.(*tls.Conn); ok && !c.handshake(tc) {
		return
	}
	sess, err := c.srv.backend.NewSession(c)
	if err != nil {
		c.replyError(err)
		c.bw.Flush()
		return
	}
	c.sess = sess
	// RFC 5321 §4.2: the greeting starts with our name; RFC 2034 §4: no
	// enhanced code on it.
	c.writeLines(220, []string{c.srv.cfg.Hostname + " ESMTP Service Ready"})
	for !c.quit && c.fatal == nil {
		line, err := c.readCommand(maxCommandLine)
		switch {
		case err == errLineTooLong:
			c.protocolError(replyLineTooLong)
		case err != nil:
			c.fatal = err
		default:
			c.dispatch(line)
		}
	}
	var ne net.Error
	if errors.As(c.fatal, &ne) && ne.Timeout() {
		// RFC 5321 §4.5.3.2.7: say why before closing.
		c.writeReply(replyIdleTimeout)
	}
	c.bw.Flush()
}

// handshake runs a TLS handshake (implicit TLS or STARTTLS) within the
// idle timeout.
func (c *Conn) handshake(tc *tls.Conn) bool {
	if t := c.srv.cfg.IdleTimeout; t > 0 {
		tc.SetDeadline(time.Now().Add(t))
	}
	if err := tc.Handshake(); err != nil {
		c.srv.cfg.Logger.Info("tls handshake failed", append(c.log(), "err", err)...)
		return false
	}
	tc.SetDeadline(time.Time{})
	return true
}

func (c *Conn) close() {
	if c.sess != nil {
		c.sess.Logout()
		c.sess = nil
	}
	c.Conn().Close()
	c.srv.forget(c)
}

// panicSite names the first frames below the panic, enough to find it
// without a whole stack in the log.
func panicSite() string {
	var pcs [16]uintptr
	n := runtime.Callers(3, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	var out []string
	for len(out) < 4 {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") {
			out = append(out, f.Function+":"+strconv.Itoa(f.Line))
		}
		if !more {
			break
		}
	}
	return strings.Join(out, " < ")
}

// readCommand reads one line of at most limit octets, CRLF included,
// within one idle timeout for the whole line (issue 13: a client that
// sends a byte every few seconds must not hold the session), and returns
// it without its line ending. A line that ends at the timeout or at the
// end of the connection is never run.
func (c *Conn) readCommand(limit int) (string, error) {
	c.inData = false
	if t := c.srv.cfg.IdleTimeout; t > 0 {
		c.nc.SetReadDeadline(time.Now().Add(t))
	}
	b, err := c.br.ReadSlice('\n')
	if err == nil && len(b) <= limit {
		return trimEOL(b), nil
	}
	var line []byte
	long := len(b) > limit
	if !long {
		line = append(line, b...)
	}
	for err == bufio.ErrBufferFull {
		b, err = c.br.ReadSlice('\n')
		if !long && len(line)+len(b) > limit {
			long, line = true, nil
		}
		if !long {
			line = append(line, b...)
		}
	}
	if err != nil {
		return "", err
	}
	if long {
		return "", errLineTooLong
	}
	return trimEOL(line), nil
}

func trimEOL(b []byte) string {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return string(b)
}

// writeReply queues a reply; it goes out before the next read that could
// block, or at flush.
func (c *Conn) writeReply(r *Reply) {
	var buf [128]byte
	b := buf[:0]
	lines := strings.Split(r.Text, "\n")
	for i, text := range lines {
		sep := byte(' ')
		if i < len(lines)-1 {
			sep = '-'
		}
		line := *r
		line.Text = text
		b = append(line.appendLine(b, sep), '\r', '\n')
	}
	c.bw.Write(b)
	if r.Code == 421 {
		c.quit = true
	}
}

// writeLines writes a multi-line reply without enhanced codes (EHLO, RFC
// 2034 §4).
func (c *Conn) writeLines(code int, lines []string) {
	for i, l := range lines {
		sep := " "
		if i < len(lines)-1 {
			sep = "-"
		}
		c.bw.WriteString(strconv.Itoa(code) + sep + l + "\r\n")
	}
}

// replyError answers with a Session's error.
func (c *Conn) replyError(err error) {
	var r *Reply
	if errors.As(err, &r) {
		c.writeReply(r)
		return
	}
	c.srv.cfg.Logger.Warn("smtp session error", append(c.log(), "err", err)...)
	c.writeReply(replyLocalError)
}

// protocolError answers a command the protocol does not allow. Unknown
// commands and commands out of sequence count: past maxBadCommands the
// client is told 421 and the connection closes, and protocolError tells
// whether that happened. Refused addresses and parameters do not count
// (a relay test tries many), nor do the Session's refusals.
func (c *Conn) protocolError(r *Reply) bool {
	c.writeReply(r)
	if r.Code != 500 && r.Code != 502 && r.Code != 503 {
		return false
	}
	c.bad++
	if c.bad >= maxBadCommands {
		c.srv.cfg.Logger.Info("too many bad commands, closing", append(c.log(), "count", c.bad)...)
		c.writeReply(replyTooManyErrors)
		return true
	}
	return false
}

// discard skips a BDAT chunk that is refused: it follows its command
// whatever the reply (RFC 3030 §3).
func (c *Conn) discard(n int64) {
	c.startData()
	if _, err := io.CopyN(io.Discard, c.br, n); err != nil {
		c.fatal = err
	}
}

func (c *Conn) dispatch(line string) {
	verb, arg := splitCommand(line)
	switch verb {
	case "EHLO", "HELO":
		c.hello(verb == "EHLO", arg)
	case "MAIL":
		c.mail(arg)
	case "RCPT":
		c.rcpt(arg)
	case "DATA":
		c.data(arg)
	case "BDAT":
		c.bdat(arg)
	case "RSET":
		if arg != "" {
			c.protocolError(syntax("RSET"))
			return
		}
		c.resetTransaction()
		c.writeReply(replyOK)
	case "NOOP":
		c.writeReply(replyOK)
	case "QUIT":
		c.writeReply(NewReply(221, 2, 0, 0, "Bye"))
		c.quit = true
	case "VRFY":
		if arg == "" {
			c.protocolError(syntax("VRFY address"))
			return
		}
		// RFC 5321 §3.5.3: no answer about addresses, but no refusal.
		c.writeReply(NewReply(252, 2, 5, 0, "Cannot VRFY user, but will accept message"))
	case "HELP":
		c.writeReply(NewReply(214, 2, 0, 0, "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH"))
	case "STARTTLS":
		c.startTLS(arg)
	case "AUTH":
		c.auth(arg)
	case "EXPN", "SEND", "SOML", "SAML", "TURN", "ETRN", "ATRN":
		c.protocolError(replyNotImplemented)
	default:
		c.protocolError(replyUnrecognized)
	}
}

// resetTransaction ends the mail transaction (RSET, EHLO, end of data).
func (c *Conn) resetTransaction() {
	c.inMail, c.rcptTried, c.rcptOK = false, 0, 0
	if c.sess != nil {
		c.sess.Reset()
	}
}

func (c *Conn) hello(extended bool, arg string) {
	domain, _, _ := strings.Cut(arg, " ")
	if domain == "" {
		c.protocolError(syntax("EHLO hostname"))
		return
	}
	// RFC 5321 §4.1.4: EHLO in a session resets it like RSET.
	c.resetTransaction()
	c.helo = domain
	if len(domain) > 64 {
		domain = domain[:64] // echoed: the reply line stays within 512 octets
	}
	greet := c.srv.cfg.Hostname + " Hello " + printable(domain)
	if !extended {
		c.writeLines(250, []string{greet})
		return
	}
	c.writeLines(250, append([]string{greet}, c.extensions()...))
}

// extensions are what EHLO offers in this state.
func (c *Conn) extensions() []string {
	cfg := &c.srv.cfg
	ext := []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING"}
	if cfg.TLS != nil && !c.isTLS {
		ext = append(ext, "STARTTLS")
	}
	if as, ok := c.sess.(AuthSession); ok && !c.authed {
		if mechs := as.AuthMechanisms(); len(mechs) > 0 {
			ext = append(ext, "AUTH "+strings.Join(mechs, " "))
		}
	}
	if cfg.SMTPUTF8 {
		ext = append(ext, "SMTPUTF8")
	}
	if cfg.REQUIRETLS && c.isTLS {
		ext = append(ext, "REQUIRETLS")
	}
	if cfg.DSN {
		ext = append(ext, "DSN")
	}
	if cfg.MaxMessageBytes > 0 {
		ext = append(ext, "SIZE "+strconv.FormatInt(cfg.MaxMessageBytes, 10))
	} else {
		ext = append(ext, "SIZE")
	}
	if cfg.MaxRecipients > 0 {
		ext = append(ext, "LIMITS RCPTMAX="+strconv.Itoa(cfg.MaxRecipients))
	}
	return ext
}

func (c *Conn) startTLS(arg string) {
	switch {
	case arg != "":
		c.protocolError(syntax("STARTTLS"))
		return
	case c.isTLS:
		c.protocolError(replyAlreadyTLS)
		return
	case c.srv.cfg.TLS == nil:
		c.writeReply(replyNoTLS)
		return
	case c.inMail:
		c.protocolError(replyInTransaction)
		return
	}
	c.writeReply(NewReply(220, 2, 0, 0, "Ready to start TLS"))
	if err := c.bw.Flush(); err != nil {
		c.fatal = err
		return
	}
	tc := tls.Server(c.nc, c.srv.cfg.TLS)
	if !c.handshake(tc) {
		c.fatal = errors.New("tls handshake failed")
		return
	}
	c.mu.Lock()
	c.nc = tc
	c.mu.Unlock()
	// RFC 3207 §4.2: whatever the client sent after STARTTLS in clear text
	// is dropped, and the session starts over (CVE-2011-0411).
	c.br = bufio.NewReaderSize(netReader{c}, readBufferSize)
	c.isTLS, c.helo, c.authed = true, "", false
	c.resetTransaction()
	c.sess.Logout()
	c.sess = nil
	sess, err := c.srv.backend.NewSession(c)
	if err != nil {
		c.replyError(err)
		c.quit = true
		return
	}
	c.sess = sess
}
