package managesieve

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"

	"postern/internal/auth"
	"postern/internal/store"
)

const mechPlain = "PLAIN"

// authAllowed reports whether this session may authenticate: over TLS,
// or in the clear where the config allows it.
func (s *session) authAllowed() bool {
	if s.isTLS {
		return true
	}
	f := s.srv.cfg.AllowPlaintext
	return f != nil && f(s.raw.RemoteAddr())
}

// mechanisms lists the SASL mechanisms offered now: none before TLS
// unless plaintext is allowed (RFC 5804 §1.7 lets the list be empty when
// STARTTLS is offered), -PLUS only where there is a TLS channel to bind.
func (s *session) mechanisms() []string {
	if !s.authAllowed() || s.srv.cfg.Auth == nil {
		return nil
	}
	var mechs []string
	if s.srv.cfg.SCRAM != nil {
		if s.isTLS {
			mechs = append(mechs, auth.MechSCRAMPlus)
		}
		mechs = append(mechs, auth.MechSCRAM)
	}
	return append(mechs, mechPlain)
}

// cmdAuthenticate runs a SASL exchange (RFC 5804 §2.1): challenges are
// base64 strings on a line of their own, the client answers each with a
// string (quoted or literal), "*" cancels; success data rides on the OK
// as (SASL "...").
func (s *session) cmdAuthenticate(c command) error {
	switch {
	case s.account != nil:
		return badCmd("Already authenticated")
	case len(c.Args) < 1 || len(c.Args) > 2 || (len(c.Args) == 2 && !c.Args[1].isString()):
		return badCmd("Usage: AUTHENTICATE mechanism [initial-response]")
	case s.srv.cfg.Auth == nil:
		return no("", "Authentication not available")
	case !s.authAllowed():
		// RFC 5804 §1.3: ENCRYPT-NEEDED, the client should STARTTLS.
		return no("ENCRYPT-NEEDED", "Authentication needs an encrypted connection")
	}
	mech := strings.ToUpper(string(c.Args[0].val))
	var initial []byte
	hasInitial := len(c.Args) == 2
	if hasInitial {
		initial = c.Args[1].val
	}
	switch mech {
	case mechPlain:
		return s.authPlain(initial, hasInitial)
	case auth.MechSCRAM, auth.MechSCRAMPlus:
		if s.srv.cfg.SCRAM == nil {
			break
		}
		cb, ok := s.channelBinding()
		if !ok && mech == auth.MechSCRAMPlus {
			return no("ENCRYPT-NEEDED", "SCRAM-SHA-256-PLUS needs TLS")
		}
		return s.authSCRAM(mech, cb, initial, hasInitial)
	}
	return badCmd("Unsupported authentication mechanism")
}

// errAborted is the client's "*" (RFC 5804 §2.1).
var errAborted = no("", "Authentication aborted")

// challenge sends one server challenge and returns the client's answer,
// still in base64.
func (s *session) challenge(ch []byte) (string, error) {
	s.buf = appendString(s.buf[:0], base64.StdEncoding.EncodeToString(ch))
	s.buf = append(s.buf, "\r\n"...)
	_, _ = s.w.Write(s.buf)
	if err := s.w.Flush(); err != nil {
		s.closing = true
		return "", err
	}
	if err := s.arm(s.srv.cfg.IdleTimeout); err != nil {
		s.closing = true
		return "", err
	}
	resp, err := s.p.readContinuation()
	var pe *parseError
	switch {
	case errors.As(err, &pe):
		if pe.fatal {
			return "", &respError{bye: true, code: pe.code, msg: pe.msg}
		}
		return "", &respError{msg: "Invalid SASL response: " + pe.msg, bad: true}
	case err != nil:
		s.closing = true
		return "", err
	case string(resp) == "*":
		return "", errAborted
	}
	return string(resp), nil
}

// authPlain is SASL PLAIN (RFC 4616) with or without initial response.
func (s *session) authPlain(initial []byte, hasInitial bool) error {
	resp := string(initial)
	if !hasInitial {
		// An empty challenge asks for the response.
		var err error
		if resp, err = s.challenge(nil); err != nil {
			return err
		}
	}
	_, user, pass, err := auth.DecodePlain(resp)
	switch {
	case errors.Is(err, auth.ErrAuthzid):
		// We log in as authcid only; acting as someone else is a failed
		// login, not a syntax error.
		s.log.Warn("login failed: authzid differs from user", "mech", mechPlain)
		return s.authFailed(auth.ErrFailed)
	case err != nil:
		return badCmd("Invalid SASL PLAIN response")
	}
	acct, err := s.srv.cfg.Auth.Login(s.ctx, s.ip, user, pass)
	if err != nil {
		s.logAuthError(err, user, mechPlain)
		return s.authFailed(err)
	}
	return s.loggedIn(acct, mechPlain, nil)
}

// authSCRAM runs SCRAM-SHA-256[-PLUS] on auth.SCRAMServer. Its
// server-final message is sent as success data on the OK, so the client
// need not answer it (RFC 5804 §2.1).
func (s *session) authSCRAM(mech string, cb auth.ChannelBinding, initial []byte, hasInitial bool) error {
	x := s.srv.cfg.SCRAM.NewSCRAMServer(s.ctx, s.ip, mech, cb)
	resp := initial
	if hasInitial {
		var err error
		if resp, err = decodeB64(string(initial)); err != nil {
			return badCmd("Invalid base64 in SASL response")
		}
	}
	for range 4 {
		ch, done, err := x.Next(resp)
		if err != nil {
			s.logAuthError(err, "", mech)
			return s.authFailed(err)
		}
		if x.Account.ID != 0 {
			return s.loggedIn(x.Account, mech, ch)
		}
		if done {
			break
		}
		b64, err := s.challenge(ch)
		if err != nil {
			return err
		}
		if resp, err = decodeB64(b64); err != nil {
			return badCmd("Invalid base64 in SASL response")
		}
	}
	s.log.Warn("login failed: SCRAM exchange did not finish", "mech", mech)
	return s.authFailed(auth.ErrFailed)
}

func decodeB64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// Some clients leave out the padding.
		return base64.RawStdEncoding.DecodeString(s)
	}
	return b, nil
}

func (s *session) logAuthError(err error, user, mech string) {
	switch {
	case errors.Is(err, auth.ErrThrottled):
		s.log.Warn("login throttled", "user", user, "mech", mech)
	case errors.Is(err, auth.ErrFailed), errors.Is(err, auth.ErrSCRAM):
		s.log.Warn("login failed", "user", user, "mech", mech)
	default:
		s.log.Error("login error", "user", user, "mech", mech, "err", err)
	}
}

// authFailed answers a failed exchange and ends the session after
// maxAuthFailures of them.
func (s *session) authFailed(err error) error {
	var re *respError
	switch {
	case errors.Is(err, auth.ErrThrottled):
		// The throttle refuses even the right password, so the client
		// should keep it and retry later.
		re = &respError{code: "TRYLATER", msg: "Too many failed logins, try again later"}
	case errors.Is(err, auth.ErrFailed), errors.Is(err, auth.ErrSCRAM):
		re = &respError{msg: "Authentication failed"}
	default:
		return &respError{code: "TRYLATER", msg: "Authentication unavailable, try again later"}
	}
	s.authFailures++
	if s.authFailures >= maxAuthFailures {
		re.bye = true
		re.msg = "Too many failed authentications"
	}
	return re
}

// loggedIn enters the authenticated state.
func (s *session) loggedIn(acct store.Account, mech string, final []byte) error {
	s.account = &acct
	s.log.Info("login", "user", acct.Address, "mech", mech, "tls", s.isTLS)
	code := ""
	if len(final) > 0 {
		code = string(appendString([]byte("SASL "), base64.StdEncoding.EncodeToString(final)))
	}
	s.respond("OK", code, "Logged in")
	return nil
}

// cmdUnauthenticate returns to the non-authenticated state (RFC 5804
// §2.14.1); TLS stays.
func (s *session) cmdUnauthenticate(c command) error {
	if len(c.Args) != 0 {
		return badCmd("Usage: UNAUTHENTICATE")
	}
	s.log.Info("unauthenticated", "user", s.user())
	s.account = nil
	s.respond("OK", "", "Unauthenticated")
	return nil
}

// channelBinding returns the TLS data SCRAM-PLUS binds to: the connection
// state and the certificate this server presented.
func (s *session) channelBinding() (auth.ChannelBinding, bool) {
	tc, ok := s.conn.(*tls.Conn)
	if !ok {
		return auth.ChannelBinding{}, false
	}
	cs := tc.ConnectionState()
	cb := auth.ChannelBinding{State: &cs}
	if cfg := s.srv.cfg.TLS; cfg != nil {
		var cert *tls.Certificate
		if cfg.GetCertificate != nil {
			cert, _ = cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: cs.ServerName})
		} else if len(cfg.Certificates) > 0 {
			cert = &cfg.Certificates[0]
		}
		if cert != nil && len(cert.Certificate) > 0 {
			cb.ServerCert = cert.Certificate[0]
		}
	}
	return cb, true
}
