package queue

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpConn is the client side of one SMTP connection (RFC 5321) with
// PIPELINING (RFC 2920). go-smtp's client sends one command per round
// trip and only starts STARTTLS from a fresh client; the queue sends
// MAIL, every RCPT and DATA in one write, so a message costs two round
// trips instead of three plus one per recipient. Replies are returned as
// go-smtp's *smtp.SMTPError so the rest of the queue reads them one way.
type smtpConn struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	ext     map[string]string // EHLO keywords, upper case → parameters
	timeout time.Duration
	// accepted is the peer's reply to the last final dot (for the log:
	// it usually names the peer's queue id).
	accepted string
}

// Limits on what a peer can make us read: a reply line (RFC 5321
// §4.5.3.1.5 allows 512 octets) and the lines of one multi-line reply.
const (
	maxReplyLine  = 4096
	maxReplyLines = 100
)

func newSMTPConn(nc net.Conn, timeout time.Duration) *smtpConn {
	c := &smtpConn{timeout: timeout}
	c.setConn(nc)
	return c
}

func (c *smtpConn) setConn(nc net.Conn) {
	c.nc = nc
	c.r = bufio.NewReaderSize(nc, maxReplyLine)
	c.w = bufio.NewWriter(nc)
}

// readLine reads one reply line without its CRLF.
func (c *smtpConn) readLine() (string, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", errors.New("reply line too long")
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (c *smtpConn) writeLine(format string, args ...any) error {
	fmt.Fprintf(c.w, format+"\r\n", args...)
	return c.w.Flush()
}

func (c *smtpConn) deadline(d time.Duration) { c.nc.SetDeadline(time.Now().Add(d)) }

// reply reads one (possibly multi-line) reply.
func (c *smtpConn) reply() (int, string, error) {
	var lines []string
	code := 0
	for {
		line, err := c.readLine()
		if err != nil {
			return 0, "", err
		}
		if len(line) < 3 {
			return 0, "", fmt.Errorf("malformed reply %q", clip(line))
		}
		n, err := strconv.Atoi(line[:3])
		if err != nil || n < 200 || n > 599 || (code != 0 && n != code) {
			return 0, "", fmt.Errorf("malformed reply %q", clip(line))
		}
		code = n
		more := len(line) > 3 && line[3] == '-'
		lines = append(lines, strings.TrimSpace(line[min(4, len(line)):]))
		if !more {
			return code, strings.Join(lines, "\n"), nil
		}
		if len(lines) >= maxReplyLines {
			return 0, "", errors.New("reply too long")
		}
	}
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// smtpError turns a reply into go-smtp's error type, with the enhanced
// status code (RFC 3463) taken from the text when it has one.
func smtpError(code int, msg string) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: code, Message: msg, EnhancedCode: smtp.NoEnhancedCode}
	first, rest, _ := strings.Cut(msg, " ")
	parts := strings.Split(first, ".")
	if len(parts) == 3 {
		var ec smtp.EnhancedCode
		ok := true
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 999 {
				ok = false
				break
			}
			ec[i] = n
		}
		if ok && ec[0] == code/100 {
			e.EnhancedCode, e.Message = ec, rest
		}
	}
	return e
}

// expect reads a reply and returns an *smtp.SMTPError unless it is in the
// class want (2 for 2xx, 3 for 3xx).
func (c *smtpConn) expect(want int) error {
	code, msg, err := c.reply()
	if err != nil {
		return err
	}
	if code/100 != want {
		return smtpError(code, msg)
	}
	return nil
}

func (c *smtpConn) cmd(want int, format string, args ...any) error {
	c.deadline(c.timeout)
	if err := c.writeLine(format, args...); err != nil {
		return err
	}
	return c.expect(want)
}

// hello reads the greeting (unless after STARTTLS) and says EHLO, falling
// back to HELO for an old peer (RFC 5321 §3.2).
func (c *smtpConn) hello(name string, greet bool) error {
	c.deadline(c.timeout)
	if greet {
		if err := c.expect(2); err != nil {
			return err
		}
	}
	if err := c.writeLine("EHLO %s", name); err != nil {
		return err
	}
	code, msg, err := c.reply()
	if err != nil {
		return err
	}
	c.ext = map[string]string{}
	if code/100 != 2 {
		if code != 500 && code != 502 {
			return smtpError(code, msg)
		}
		return c.cmd(2, "HELO %s", name)
	}
	for _, line := range strings.Split(msg, "\n")[1:] {
		k, v, _ := strings.Cut(line, " ")
		c.ext[strings.ToUpper(k)] = v
	}
	return nil
}

func (c *smtpConn) has(ext string) bool { _, ok := c.ext[ext]; return ok }

// startTLS upgrades the connection (RFC 3207 §4.2: what the server said
// before is forgotten, EHLO is sent again by the caller).
func (c *smtpConn) startTLS(cfg *tls.Config) (*tls.Conn, error) {
	if err := c.cmd(2, "STARTTLS"); err != nil {
		return nil, err
	}
	tc := tls.Client(c.nc, cfg)
	c.deadline(c.timeout)
	if err := tc.Handshake(); err != nil {
		return nil, tlsError{err}
	}
	c.setConn(tc)
	c.ext = nil
	return tc, nil
}

// authPlain authenticates with SASL PLAIN (RFC 4616) in the initial response.
func (c *smtpConn) authPlain(user, pass string) error {
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	return c.cmd(2, "AUTH PLAIN %s", resp)
}

// mailParams are the MAIL FROM parameters for a message.
type mailParams struct {
	size     int64
	utf8     bool
	eightBit bool
	ret      string // FULL or HDRS
	envID    string
	// requireTLS: MAIL FROM REQUIRETLS (RFC 8689 §4.1), sent only to a
	// peer that offers it.
	requireTLS bool
}

func (c *smtpConn) mailCommand(from string, p mailParams) string {
	var b strings.Builder
	fmt.Fprintf(&b, "MAIL FROM:<%s>", from)
	if c.has("SIZE") && p.size > 0 {
		fmt.Fprintf(&b, " SIZE=%d", p.size) // RFC 1870
	}
	if p.eightBit && c.has("8BITMIME") {
		b.WriteString(" BODY=8BITMIME") // RFC 6152
	}
	if p.utf8 {
		b.WriteString(" SMTPUTF8") // RFC 6531 §3.4
	}
	if p.requireTLS && c.has("REQUIRETLS") {
		b.WriteString(" REQUIRETLS")
	}
	if c.has("DSN") { // RFC 3461 §4.3, §4.4
		if p.ret != "" {
			b.WriteString(" RET=" + p.ret)
		}
		if p.envID != "" {
			b.WriteString(" ENVID=" + xtext(p.envID))
		}
	}
	return b.String()
}

// xtext encodes a DSN parameter (RFC 3461 §4).
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch < '!' || ch > '~' || ch == '+' || ch == '=' {
			fmt.Fprintf(&b, "+%02X", ch)
		} else {
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// rcptArg is one recipient with its DSN parameters.
type rcptArg struct {
	addr, notify, orcpt string
}

func (c *smtpConn) rcptCommand(r rcptArg) string {
	line := "RCPT TO:<" + r.addr + ">"
	if c.has("DSN") {
		if r.notify != "" {
			line += " NOTIFY=" + r.notify
		}
		if r.orcpt != "" {
			line += " ORCPT=" + xtext(r.orcpt)
		}
	}
	return line
}

// send runs one mail transaction. With PIPELINING, MAIL, the RCPTs and
// DATA go in one write and their replies are read in order (RFC 2920
// §3.1). It returns one error per recipient (nil: accepted) and whether
// the connection can carry another transaction.
func (c *smtpConn) send(from string, p mailParams, rcpts []rcptArg, body io.Reader) ([]error, bool) {
	errs := make([]error, len(rcpts))
	fill := func(err error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	lines := []string{c.mailCommand(from, p)}
	for _, r := range rcpts {
		lines = append(lines, c.rcptCommand(r))
	}
	lines = append(lines, "DATA")
	pipelined := c.has("PIPELINING")
	c.deadline(c.timeout)
	if pipelined {
		for _, l := range lines {
			c.w.WriteString(l + "\r\n")
		}
		if err := c.w.Flush(); err != nil {
			fill(err)
			return errs, false
		}
	}
	// step writes command i when not pipelined, then reads its reply.
	step := func(i int, want int) error {
		if !pipelined {
			c.deadline(c.timeout)
			if err := c.writeLine("%s", lines[i]); err != nil {
				return err
			}
		}
		return c.expect(want)
	}
	mailErr := step(0, 2)
	if mailErr != nil && (!pipelined || !isSMTPError(mailErr)) {
		fill(mailErr)
		return errs, isSMTPError(mailErr) && c.cmd(2, "RSET") == nil
	}
	accepted := 0
	for i := range rcpts {
		if mailErr != nil {
			errs[i] = mailErr
		} else {
			errs[i] = nil
		}
		err := step(i+1, 2)
		if err != nil && !isSMTPError(err) {
			fill(err)
			return errs, false
		}
		if mailErr == nil {
			errs[i] = err
			if err == nil {
				accepted++
			}
		}
	}
	if accepted == 0 && !pipelined {
		return errs, c.cmd(2, "RSET") == nil
	}
	dataErr := step(len(lines)-1, 3)
	if dataErr != nil {
		if accepted > 0 {
			fill(dataErr)
		}
		return errs, isSMTPError(dataErr) && c.cmd(2, "RSET") == nil
	}
	if accepted == 0 {
		// RFC 2920 §3.1: the peer said 354 though no recipient was
		// accepted; end the empty message and forget the transaction.
		c.writeLine(".")
		c.expect(2)
		return errs, c.cmd(2, "RSET") == nil
	}
	return errs, c.data(body, errs)
}

// data sends the message, dot-stuffed (RFC 5321 §4.5.2), and reads the
// reply to the final dot, which may take longer (§4.5.3.2.6: 10 minutes).
func (c *smtpConn) data(body io.Reader, errs []error) bool {
	c.deadline(2 * c.timeout)
	dw := textproto.NewWriter(c.w).DotWriter()
	if _, err := io.Copy(dw, body); err != nil {
		setAccepted(errs, err)
		return false
	}
	if err := dw.Close(); err != nil {
		setAccepted(errs, err)
		return false
	}
	code, msg, err := c.reply()
	if err == nil && code/100 != 2 {
		err = smtpError(code, msg)
	}
	if err != nil {
		setAccepted(errs, err)
		return isSMTPError(err)
	}
	c.accepted = fmt.Sprintf("%d %s", code, oneLine(msg))
	return true
}

// setAccepted gives err to every recipient that had been accepted.
func setAccepted(errs []error, err error) {
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
}

func (c *smtpConn) quit() {
	c.deadline(5 * time.Second)
	c.writeLine("QUIT")
	c.reply()
}

func (c *smtpConn) close() error { return c.nc.Close() }
