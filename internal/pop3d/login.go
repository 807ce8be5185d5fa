package pop3d

import (
	"errors"
	"strings"

	"postern/internal/auth"
	"postern/internal/store"
)

// Replies that refuse a password on a connection that may be overheard.
// RFC 3206 has no code for "encryption required"; SYS/PERM tells the client
// to show the text to the user rather than ask for another password, which
// [AUTH] would do.
const (
	msgUseSTLS = "Use STLS first: password login needs an encrypted connection"
	msgNoTLS   = "Password login needs an encrypted connection (port 995)"
)

// passwordAllowed reports whether this session may send a password: over
// TLS, or in the clear where the config allows it (RFC 2595 §2.1 asks
// servers to refuse plaintext passwords on unprotected links).
func (s *session) passwordAllowed() bool {
	if s.isTLS {
		return true
	}
	f := s.srv.cfg.AllowPlaintext
	return f != nil && f(s.raw.RemoteAddr())
}

func (s *session) refusePlaintext() error {
	if s.srv.cfg.TLS != nil {
		return perr("SYS/PERM", msgUseSTLS)
	}
	return perr("SYS/PERM", msgNoTLS)
}

// cmdCAPA lists the capabilities of the current state (RFC 2449 §5, §6).
func (s *session) cmdCAPA(command) error {
	w := s.w
	w.WriteString("+OK Capability list follows\r\n")
	w.WriteString("TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n")
	// We never remove messages on our own (RFC 2449 §6.7).
	w.WriteString("EXPIRE NEVER\r\n")
	// RFC 2449 §5: what AUTHORIZATION offers is announced in both states.
	if s.passwordAllowed() {
		w.WriteString("USER\r\nSASL PLAIN\r\n")
	}
	// STLS is only valid before login (RFC 2595 §4), so it is not listed
	// where it would be refused.
	if s.state == stateAuthorization && s.srv.cfg.TLS != nil && !s.isTLS {
		w.WriteString("STLS\r\n")
	}
	w.WriteString("IMPLEMENTATION Postern\r\n.\r\n")
	return nil
}

// cmdUSER remembers the name for PASS (RFC 1939 §7). It never says whether
// the account exists.
func (s *session) cmdUSER(c command) error {
	if !s.passwordAllowed() {
		return s.refusePlaintext()
	}
	if len(c.Args) != 1 {
		return badCmd("Usage: USER name")
	}
	s.user = c.Args[0]
	s.w.WriteString("+OK Send PASS\r\n")
	return nil
}

// cmdPASS logs in with the name given by USER. The password is the rest of
// the line, spaces included (RFC 1939 §7).
func (s *session) cmdPASS(c command) error {
	if !s.passwordAllowed() {
		return s.refusePlaintext()
	}
	if s.user == "" {
		return badCmd("Send USER first")
	}
	user := s.user
	s.user = ""
	if c.Rest == "" {
		return badCmd("Usage: PASS password")
	}
	return s.login(user, c.Rest, "USER")
}

// cmdAUTH implements SASL PLAIN (RFC 5034, RFC 4616), with or without an
// initial response, and the bare "AUTH" that lists mechanisms, which older
// clients send before RFC 2449's CAPA.
func (s *session) cmdAUTH(c command) error {
	if len(c.Args) == 0 {
		s.w.WriteString("+OK\r\n")
		if s.passwordAllowed() {
			s.w.WriteString("PLAIN\r\n")
		}
		s.w.WriteString(".\r\n")
		return nil
	}
	if len(c.Args) > 2 {
		return badCmd("Usage: AUTH mechanism [initial-response]")
	}
	if !strings.EqualFold(c.Args[0], "PLAIN") {
		return perr("", "Unsupported authentication mechanism")
	}
	if !s.passwordAllowed() {
		return s.refusePlaintext()
	}
	var resp string
	if len(c.Args) == 2 {
		resp = c.Args[1]
	} else {
		// RFC 5034 §4: an empty challenge, "+ " and nothing else.
		s.w.WriteString("+ \r\n")
		if err := s.w.Flush(); err != nil {
			return err
		}
		if err := s.arm(s.srv.cfg.IdleTimeout); err != nil {
			return err
		}
		line, err := readLine(s.r, maxAuthLine)
		switch {
		case err == errLineTooLong:
			return badCmd("Authentication response too long")
		case err != nil:
			s.closing = true
			return err
		case line == "*":
			return perr("", "Authentication cancelled")
		}
		resp = line
	}
	if resp == "=" { // RFC 5034 §4: "=" is an empty initial response
		resp = ""
	}
	_, user, pass, err := auth.DecodePlain(resp)
	switch {
	case errors.Is(err, auth.ErrAuthzid):
		// We log in as authcid only; acting as someone else is a failed
		// login, not a syntax error.
		s.log.Warn("login failed: authzid differs from user", "mech", "PLAIN")
		s.authFailed()
		return perr("AUTH", "Authentication failed")
	case err != nil:
		return badCmd("Invalid SASL PLAIN response")
	}
	return s.login(user, pass, "PLAIN")
}

// cmdSTLS starts TLS (RFC 2595 §4), only in AUTHORIZATION state before any
// TLS.
func (s *session) cmdSTLS(c command) error {
	if s.srv.cfg.TLS == nil {
		return badCmd("STLS not available")
	}
	if s.isTLS {
		return perr("", "Already using TLS")
	}
	if len(c.Args) != 0 {
		return badCmd("Usage: STLS")
	}
	s.w.WriteString("+OK Begin TLS negotiation\r\n")
	if err := s.w.Flush(); err != nil {
		s.closing = true
		return nil
	}
	if !s.startTLS() {
		s.closing = true
		return nil
	}
	s.user = ""
	s.log.Info("STLS done")
	return nil
}

// login checks the credentials, locks the maildrop and takes the snapshot
// that fixes message numbers for the session (RFC 1939 §4).
func (s *session) login(user, pass, mech string) error {
	acct, err := s.srv.cfg.Auth.Login(s.ctx, s.ip, user, pass)
	switch {
	case errors.Is(err, auth.ErrThrottled):
		// The throttle refuses even the right password, so the client
		// should keep it and retry later: SYS/TEMP, not AUTH (RFC 3206 §4).
		s.log.Warn("login throttled", "user", user, "mech", mech)
		s.authFailed()
		return perr("SYS/TEMP", "Too many failed logins, try again later")
	case errors.Is(err, auth.ErrFailed):
		s.log.Warn("login failed", "user", user, "mech", mech)
		s.authFailed()
		return perr("AUTH", "Authentication failed")
	case err != nil:
		s.log.Error("login error", "user", user, "mech", mech, "err", err)
		return perr("SYS/TEMP", "Authentication unavailable, try again later")
	}
	if !s.srv.lock(acct.ID) {
		s.log.Info("login refused: maildrop in use", "user", acct.Address, "mech", mech)
		return perr("IN-USE", "Maildrop already in use by another session") // RFC 2449 §8.1.2
	}
	if err := s.openMaildrop(acct); err != nil {
		s.srv.unlock(acct.ID)
		s.log.Error("cannot open maildrop", "user", acct.Address, "err", err)
		return perr("SYS/TEMP", "Cannot open maildrop, try again later")
	}
	var size int64
	for _, m := range s.msgs {
		size += m.Size
	}
	s.log.Info("login", "user", acct.Address, "mech", mech, "tls", s.isTLS, "messages", len(s.msgs))
	s.writef("+OK Logged in, %d messages (%d octets)\r\n", len(s.msgs), size)
	return nil
}

func (s *session) authFailed() {
	s.authFailures++
	if s.authFailures >= maxAuthFailures {
		s.closing = true
	}
}

// openMaildrop snapshots the INBOX and enters TRANSACTION state.
func (s *session) openMaildrop(acct store.Account) error {
	mb, err := s.srv.cfg.Store.Mailbox(s.ctx, acct.ID, "INBOX")
	if err != nil {
		return err
	}
	msgs, err := s.srv.cfg.Store.Messages(s.ctx, mb.ID, 1, 0)
	if err != nil {
		return err
	}
	s.account, s.mailbox, s.msgs = acct, mb, msgs
	s.deleted = make([]bool, len(msgs))
	s.retrieved = make([]bool, len(msgs))
	s.state = stateTransaction
	return nil
}
