package smtpd

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"postern/internal/antispam"
	"postern/internal/deliver"
	"postern/internal/smtpserver"
	"postern/internal/srs"
	"postern/internal/store"
)

type session struct {
	srv    *Server
	conn   *smtpserver.Conn
	remote netip.Addr

	inTransaction atomic.Bool
	kicked        atomic.Bool

	account *store.Account // set after AUTH on submission
	// gate is the antispam gate's view of this client (port 25 only).
	gate *antispam.Client

	id       string
	from     string
	tx       *deliver.Transaction
	rcpts    []string
	declSize int64
	started  time.Time
	// refused counts the unknown recipients of this connection: past
	// maxRefusedRcpts the client is harvesting addresses, or broken.
	refused int
}

// maxRefusedRcpts is how many unknown recipients one connection may try
// before it is told 421 and closed; the refusals before are logged, the
// rest never happen.
const maxRefusedRcpts = 20

func newSession(s *Server, c *smtpserver.Conn) *session {
	sess := &session{srv: s, conn: c}
	if ap, err := netip.ParseAddrPort(c.Conn().RemoteAddr().String()); err == nil {
		sess.remote = ap.Addr().Unmap()
	}
	if s.cfg.Mode == ModeMX {
		sess.gate = gateClientOf(c.Conn())
	}
	return sess
}

func (s *session) log() []any {
	return []any{"proto", s.srv.cfg.Mode.String(), "remote", s.remote.String()}
}

// kick tells an idle client that we are going away, then hangs up.
func (s *session) kick() {
	if s.kicked.Swap(true) {
		return
	}
	c := s.conn.Conn()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(c, "421 4.3.2 Service shutting down, try again later\r\n")
	_ = c.Close()
}

// Reset implements smtpserver.Session, which calls it after the reply to
// DATA has been written, which is when a shutdown may close the connection.
func (s *session) Reset() {
	s.from, s.tx, s.rcpts, s.declSize = "", nil, nil, 0
	s.inTransaction.Store(false)
}

// Logout implements smtpserver.Session.
func (s *session) Logout() error {
	s.Reset()
	s.srv.forget(s)
	return nil
}

func smtpErr(code int, e1, e2, e3 int, msg string) *smtpserver.Reply {
	return smtpserver.NewReply(code, e1, e2, e3, msg)
}

var (
	errAuthRequired  = smtpErr(530, 5, 7, 0, "Authentication required")
	errRelayDenied   = smtpErr(554, 5, 7, 1, "Relay access denied")
	errUnknownUser   = smtpErr(550, 5, 1, 1, "No such user here")
	errBadSRS        = smtpErr(550, 5, 1, 1, "Invalid or expired SRS bounce address")
	errBadAddress    = smtpErr(501, 5, 1, 3, "Bad recipient address syntax")
	errBadSender     = smtpErr(501, 5, 1, 7, "Bad sender address syntax")
	errMailboxFull   = smtpErr(452, 4, 2, 2, "Mailbox full, try again later")
	errLocal         = smtpErr(451, 4, 3, 0, "Local error in processing, try again later")
	errNoStorage     = smtpErr(452, 4, 3, 1, "Insufficient system storage, try again later") // RFC 3463: 4.3.1
	errNotOwned      = smtpErr(553, 5, 7, 1, "Sender address not owned by the authenticated user")
	errAliasLoop     = smtpErr(550, 5, 4, 6, "Routing loop detected for this recipient")
	errAuthFailed    = smtpErr(535, 5, 7, 8, "Authentication credentials invalid")
	errAuthThrottled = smtpErr(454, 4, 7, 0, "Too many failed logins, try again later")
	errNeedTLS       = smtpErr(538, 5, 7, 11, "Encryption required for requested authentication mechanism")
	// RFC 3463 5.7.10: encryption needed.
	errREQUIRETLSNeedsTLS = smtpErr(530, 5, 7, 10, "REQUIRETLS needs a TLS session: STARTTLS first")
)

// Mail implements smtpserver.Session.
func (s *session) Mail(from string, opts *smtpserver.MailOptions) error {
	if s.srv.closing.Load() {
		return errShuttingDown
	}
	if s.srv.cfg.Mode == ModeSubmission && s.account == nil {
		return errAuthRequired
	}
	if from != "" {
		a, err := deliver.ParseAddress(from)
		if err != nil {
			return errBadSender
		}
		if s.srv.cfg.Mode == ModeSubmission {
			if err := s.checkOwned(a); err != nil {
				return err
			}
		}
	}
	if opts != nil && opts.RequireTLS {
		// RFC 8689 §4.1: the parameter only on a TLS session.
		if _, isTLS := s.conn.TLSConnectionState(); !isTLS {
			return errREQUIRETLSNeedsTLS
		}
	}
	if r := s.gate.Mail(from); r != nil {
		return refusalErr(r)
	}
	s.Reset()
	s.inTransaction.Store(true)
	s.from = from
	s.id = newID()
	s.started = time.Now()
	env := deliver.Envelope{ID: s.id, Source: deliver.SourceMX, Sender: from, Account: s.account,
		RemoteIP: s.remote, Helo: s.conn.Hostname()}
	if s.srv.cfg.Mode == ModeSubmission {
		env.Source = deliver.SourceSubmission
	}
	if opts != nil {
		s.declSize = opts.Size
		env.Ret, env.EnvID = opts.Return, opts.EnvelopeID
		env.RequireTLS = opts.RequireTLS
	}
	s.tx = s.srv.cfg.Pipeline.Begin(env)
	return nil
}

// checkOwned enforces that a submission user sends only as themselves: the
// account address, a subaddress of it, or an alias that resolves to it.
func (s *session) checkOwned(a deliver.Address) error {
	ok, err := s.srv.cfg.Pipeline.Owns(s.srv.ctx, *s.account, a)
	switch {
	case err != nil:
		return errLocal
	case !ok:
		return errNotOwned
	}
	return nil
}

// Rcpt implements smtpserver.Session: the pipeline resolves the recipient and
// says why it refuses one; the reply follows from that.
func (s *session) Rcpt(to string, opts *smtpserver.RcptOptions) error {
	if s.tx == nil {
		return smtpErr(503, 5, 5, 1, "MAIL first")
	}
	if to == "postmaster" {
		addr, ok := s.postmasterAddress(s.srv.ctx)
		if !ok {
			return errUnknownUser
		}
		to = addr
	}
	ro := deliver.RcptOptions{Notify: dsnNotify(opts), DeclaredSize: s.declSize}
	if opts != nil && opts.OriginalRecipient != "" {
		ro.ORcpt = opts.OriginalRecipientType + ";" + opts.OriginalRecipient
	}
	if err := s.checkRcptGate(s.srv.ctx, to); err != nil {
		return err
	}
	err := s.tx.AddRecipient(s.srv.ctx, to, ro)
	if errors.Is(err, deliver.ErrUnknownUser) {
		s.refused++
		if s.refused > maxRefusedRcpts {
			s.srv.cfg.Logger.Warn("too many refused recipients, closing", append(s.log(), "refused", s.refused)...)
			// The protocol layer closes the connection after a 421.
			return smtpErr(421, 4, 7, 0, "Too many refused recipients, closing connection")
		}
	}
	logArgs := append(s.log(), "rcpt", to)
	switch {
	case err == nil:
		s.rcpts = append(s.rcpts, to)
		return nil
	case errors.Is(err, deliver.ErrRelayDenied):
		s.srv.cfg.Logger.Info("relay attempt refused", logArgs...)
		return errRelayDenied
	case errors.Is(err, deliver.ErrBadAddress):
		return errBadAddress
	case errors.Is(err, srs.ErrBadHash), errors.Is(err, srs.ErrExpired):
		// A bounce to an SRS address we did not write, or wrote too long ago.
		reason := "forged"
		if errors.Is(err, srs.ErrExpired) {
			reason = "expired"
		}
		s.srv.cfg.Logger.Info("srs address refused", append(logArgs, "from", s.from, "reason", reason)...)
		return errBadSRS
	case errors.Is(err, deliver.ErrUnknownUser):
		s.srv.cfg.Logger.Info("unknown recipient", logArgs...)
		return errUnknownUser
	case errors.Is(err, deliver.ErrAliasLoop):
		s.srv.cfg.Logger.Info("recipient refused: alias loop", logArgs...)
		return errAliasLoop
	case errors.Is(err, deliver.ErrOverQuota):
		s.srv.cfg.Logger.Info("recipient over quota", append(logArgs, "reason", err.Error())...)
		return errMailboxFull
	}
	s.srv.cfg.Logger.Error("resolving recipient", append(logArgs, "err", err)...)
	return errLocal
}

// Data implements smtpserver.Session. The 250 is sent only after the pipeline
// returns, which is after the body and the database commit are on disk.
func (s *session) Data(r io.Reader) error {
	if s.tx == nil || s.tx.Recipients() == 0 {
		return smtpErr(554, 5, 5, 1, "No valid recipients")
	}
	if s.srv.cfg.Mode == ModeSubmission {
		return s.submitData(r)
	}
	cfg := &s.srv.cfg
	checked := newCheckedReader(r, cfg.MaxHeaderBytes, cfg.MaxLineLength)
	return s.deliver(io.MultiReader(strings.NewReader(s.receivedHeader()), checked), checked)
}

// deliver hands the message to the pipeline; checked, when not nil, is the
// reader whose rule breaks take precedence over what the pipeline says.
func (s *session) deliver(body io.Reader, checked *checkedReader) error {
	cfg := &s.srv.cfg
	res, err := s.tx.Deliver(s.srv.ctx, body)
	if checked != nil && checked.err != nil {
		// The parser may have wrapped it; the rule that broke is what the client hears.
		err = checked.err
	}
	logArgs := append(s.log(), "id", s.id, "from", s.from, "rcpts", len(s.rcpts))
	var serr *smtpserver.Reply
	var rejected *deliver.RejectError
	var policy *deliver.PolicyError
	switch {
	case err == nil:
	case errors.As(err, &serr):
		cfg.Logger.Info("message refused", append(logArgs, "reason", serr.Text)...)
		return serr
	case errors.Is(err, deliver.ErrAllOverQuota):
		cfg.Logger.Info("message refused", append(logArgs, "reason", "over quota")...)
		return errMailboxFull
	case errors.As(err, &policy) && policy.Temporary:
		// RFC 3463 4.4.3: the directory server (here DNS) failed.
		return smtpErr(451, 4, 4, 3, sanitizeReply(policy.Reason))
	case errors.As(err, &policy):
		return smtpErr(550, 5, 7, 1, sanitizeReply(policy.Reason))
	case errors.As(err, &rejected):
		cfg.Logger.Info("message refused", append(logArgs, "reason", "rejected by filter")...)
		return smtpErr(550, 5, 7, 1, sanitizeReply(rejected.Reason))
	case errors.Is(err, smtpserver.ErrDataReset), errors.Is(err, smtpserver.ErrDataTooLarge):
		return err
	case checked != nil && checked.err != nil && clientGone(err):
		cfg.Logger.Info("message aborted: connection lost", append(logArgs, "err", err)...)
		return err
	case store.IsDiskFull(err):
		cfg.Logger.Error("delivery failed: disk full", append(logArgs, "err", err)...)
		return errNoStorage
	default:
		cfg.Logger.Error("delivery failed", append(logArgs, "err", err)...)
		return errLocal
	}
	cfg.Logger.Info("message accepted", append(logArgs, "size", res.Size,
		"delivered", len(res.Delivered), "over_quota", res.OverQuota, "queued", res.Remote,
		"ms", time.Since(s.started).Milliseconds())...)
	return smtpErr(250, 2, 0, 0, "OK id="+s.id)
}

// postmasterAddress qualifies RFC 5321's domain-less "<Postmaster>"
// (§4.5.1: it must be accepted) with a local domain: this server's host
// name if it is one, else the domain the host name is in.
func (s *session) postmasterAddress(ctx context.Context) (string, bool) {
	host := strings.ToLower(strings.TrimSuffix(s.srv.cfg.Hostname, "."))
	_, parent, _ := strings.Cut(host, ".")
	for _, d := range []string{host, parent} {
		if local, err := s.srv.cfg.Pipeline.IsLocalDomain(ctx, d); d != "" && err == nil && local {
			return "postmaster@" + d, true
		}
	}
	return "", false
}

// clientGone tells a message cut short by the client's connection (closed,
// reset, idle timeout) from a failure of ours.
func clientGone(err error) bool {
	var oe *net.OpError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &oe)
}

// receivedHeader returns the Received field (RFC 5321 §4.4). The "for"
// clause names the recipient only when there is exactly one, so the same
// bytes serve every recipient and the body is stored once.
func (s *session) receivedHeader() string {
	var b strings.Builder
	helo := s.conn.Hostname()
	if helo == "" {
		helo = "unknown"
	}
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (Postern) with %s id %s",
		sanitize(helo), s.remote, s.srv.cfg.Hostname, s.withProtocol(), s.id)
	if len(s.rcpts) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", sanitize(s.rcpts[0]))
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", time.Now().Format(time.RFC1123Z))
	return b.String()
}

// withProtocol is the RFC 3848 "with" keyword.
func (s *session) withProtocol() string {
	p := "ESMTP"
	if _, ok := s.conn.TLSConnectionState(); ok {
		p += "S"
	}
	if s.account != nil {
		p += "A"
	}
	return p
}

// sanitize keeps client-supplied text from breaking the header.
func sanitize(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r == 0x7f || r == '(' || r == ')' || r == ';' {
			return '?'
		}
		return r
	}, v)
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns a transaction id unique enough to grep for: 60 random bits.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])[:12]
}

func (s *session) tlsOrPlaintextAllowed() bool {
	if _, ok := s.conn.TLSConnectionState(); ok {
		return true
	}
	allow := s.srv.cfg.AllowPlaintext
	return allow != nil && allow(s.conn.Conn().RemoteAddr())
}

// sanitizeReply makes a filter's reject reason fit one SMTP reply line.
func sanitizeReply(reason string) string {
	reason = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, reason)
	if len(reason) > 400 {
		reason = reason[:400]
	}
	if strings.TrimSpace(reason) == "" {
		return "Message rejected by the recipient's filter"
	}
	return reason
}
