package imapd

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// RFC 9051 §6.2.1: after the OK the TLS negotiation begins at once; bytes
// the client pipelined after STARTTLS are discarded with the old reader.
func (s *session) cmdStartTLS(c *command) reply {
	if s.tls || s.srv.cfg.TLS == nil {
		return bad("", "TLS not available")
	}
	s.tagged(c.tag, ok("", "begin TLS negotiation now"))
	if s.w.flush() != nil {
		return reply{}
	}
	if n := s.br.Buffered(); n > 0 {
		s.log.Info("imap starttls: discarding pipelined plaintext", "bytes", n)
	}
	tc := tls.Server(s.conn, s.srv.cfg.TLS)
	tc.SetDeadline(time.Now().Add(time.Minute))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		s.log.Info("imap starttls handshake failed", "err", err)
		return reply{}
	}
	tc.SetDeadline(time.Time{})
	s.mu.Lock()
	s.setConn(tc)
	s.mu.Unlock()
	s.tls = true
	// The tagged OK went out already; no second tagged reply.
	return reply{status: "none"}
}

func (s *session) cmdLogin(c *command) reply {
	if !s.plaintextOK() {
		return no("PRIVACYREQUIRED", "LOGIN needs TLS")
	}
	return s.login(c.user, c.pass)
}

// login checks the password and enters the authenticated state.
func (s *session) login(user, pass string) reply {
	acct, err := s.srv.cfg.Auth.Login(auth.WithProtocol(s.ctx, "imap"), s.remote, user, pass)
	if err != nil {
		s.log.Info("imap login failed", "user", user, "err", err)
		if s.authFails++; s.authFails >= maxAuthFailures {
			s.w.line("* BYE too many authentication failures")
			s.state = stateLogout // the loop ends after the tagged NO
		}
		if errors.Is(err, auth.ErrThrottled) {
			return no("UNAVAILABLE", "too many failures, try later")
		}
		if !errors.Is(err, auth.ErrFailed) {
			return no("UNAVAILABLE", "temporary failure")
		}
		return no("AUTHENTICATIONFAILED", "invalid credentials")
	}
	s.acct = acct
	s.state = stateAuth
	s.log = s.log.With("account", acct.Address)
	s.log.Info("imap login")
	s.events, s.unsubscribe = s.srv.cfg.Store.Notifier().Subscribe(acct.ID)
	return ok("CAPABILITY "+s.capabilities(), "logged in")
}

// cmdAuthenticate supports PLAIN (RFC 4616) with an optional initial
// response (RFC 4959).
func (s *session) cmdAuthenticate(c *command) reply {
	if c.mech != "PLAIN" {
		return no("", "unsupported mechanism")
	}
	if !s.plaintextOK() {
		return no("PRIVACYREQUIRED", "authentication needs TLS")
	}
	var resp string
	if c.initial != nil {
		resp = *c.initial
	} else {
		s.w.str("+ \r\n")
		if s.w.flush() != nil {
			return reply{}
		}
		line, err := s.readLine(8 << 10)
		if err != nil {
			return reply{}
		}
		resp = line
	}
	if resp == "*" {
		return bad("", "authentication cancelled") // RFC 9051 §6.2.2
	}
	if resp == "=" {
		resp = ""
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return bad("", "invalid base64")
	}
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 {
		return bad("", "invalid PLAIN response")
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && !strings.EqualFold(authz, user) {
		return no("AUTHORIZATIONFAILED", "cannot act as another user")
	}
	return s.login(user, pass)
}

// readLine reads one CRLF-terminated line of at most max bytes.
func (s *session) readLine(max int) (string, error) {
	var b []byte
	for {
		frag, err := s.br.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > max {
			return "", errors.New("line too long")
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// RFC 5161 / RFC 9051 §6.3.1. Only IMAP4rev2 changes behaviour here.
func (s *session) cmdEnable(c *command) reply {
	var enabled []string
	for _, capName := range c.strs {
		if capName == "UTF8=ACCEPT" && !s.utf8 {
			// RFC 6855 §3: UTF-8 names and quoted strings from now on.
			s.utf8 = true
			enabled = append(enabled, "UTF8=ACCEPT")
			continue
		}
		if capName == "IMAP4REV2" && !s.rev2 {
			s.rev2 = true
			enabled = append(enabled, "IMAP4rev2")
		} else if name := s.enableCap(capName); name != "" {
			enabled = append(enabled, name)
		}
	}
	s.w.line("* ENABLED", prefixSpace(enabled))
	return ok("", "ENABLE completed")
}

func prefixSpace(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return " " + strings.Join(items, " ")
}

// RFC 2971: log what the client says it is, answer with our name.
func (s *session) cmdID(c *command) reply {
	var attrs []any
	for i := 0; i+1 < len(c.strs) && i/2 < len(c.nils); i += 2 {
		if !c.nils[i/2] && len(c.strs[i+1]) < 128 {
			attrs = append(attrs, strings.ToLower(c.strs[i]), c.strs[i+1])
		}
	}
	if len(attrs) > 0 {
		s.log.Debug("imap client id", attrs...)
	}
	s.w.line(`* ID ("name" "Postern")`)
	return ok("", "ID completed")
}

// mapStoreErr turns a store error into a NO with the RFC 5530 code; the
// cause goes to the log, never to the client.
func (s *session) mapStoreErr(err error, what string) reply {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return no("NONEXISTENT", what+": no such mailbox")
	case errors.Is(err, store.ErrExists):
		return no("ALREADYEXISTS", what+": already exists")
	case errors.Is(err, store.ErrOverQuota):
		return no("OVERQUOTA", what+": over quota")
	case errors.Is(err, store.ErrNotPermitted):
		return no("NOPERM", what+": not permitted")
	case errors.Is(err, store.ErrInvalid):
		return no("CANNOT", what+": not possible")
	case errors.Is(err, store.ErrMailboxInUse):
		return no("INUSE", what+": mailbox in use")
	case store.IsDiskFull(err):
		s.log.Error("imap store error: disk full", "op", what, "err", err)
		return no("LIMIT", what+": the server is out of storage, try again later")
	}
	s.log.Error("imap store error", "op", what, "err", err)
	return no("SERVERBUG", what+": internal error")
}
