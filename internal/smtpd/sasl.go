package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"net/netip"
	"strings"

	"github.com/emersion/go-sasl"

	"postern/internal/auth"
)

// SCRAM is what SCRAM-SHA-256[-PLUS] needs; *auth.Service has it.
type SCRAM interface {
	NewSCRAMServer(ctx context.Context, remote netip.Addr, mech string, cb auth.ChannelBinding) *auth.SCRAMServer
}

// mechLogin is the LOGIN mechanism (draft-murchison-sasl-login): go-sasl
// has only its client, and Outlook and old phones still use it.
const mechLogin = "LOGIN"

// maxSASLField bounds a LOGIN username or password.
const maxSASLField = 1024

// AuthMechanisms implements smtpserver.AuthSession: none on port 25, and none
// before TLS unless plaintext is allowed (RFC 4954 §4: no passwords in
// clear). -PLUS only where there is a TLS channel to bind to.
func (s *session) AuthMechanisms() []string {
	if s.srv.cfg.Mode != ModeSubmission || s.srv.cfg.Auth == nil || !s.tlsOrPlaintextAllowed() {
		return nil
	}
	mechs := []string{sasl.Plain, mechLogin}
	if s.srv.cfg.SCRAM != nil {
		mechs = append(mechs, auth.MechSCRAM)
		if _, ok := s.conn.TLSConnectionState(); ok {
			mechs = append(mechs, auth.MechSCRAMPlus)
		}
	}
	return mechs
}

// Auth implements smtpserver.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if s.srv.cfg.Mode != ModeSubmission {
		return nil, smtpErr(503, 5, 5, 1, "AUTH not available on this port")
	}
	if !s.tlsOrPlaintextAllowed() {
		return nil, errNeedTLS
	}
	ctx := auth.WithProtocol(s.srv.ctx, "submission")
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && !strings.EqualFold(identity, username) {
				return errAuthFailed
			}
			return s.login(ctx, username, password)
		}), nil
	case mechLogin:
		return &loginServer{check: func(u, p string) error { return s.login(ctx, u, p) }}, nil
	case auth.MechSCRAM, auth.MechSCRAMPlus:
		if s.srv.cfg.SCRAM == nil {
			break
		}
		cb, ok := s.channelBinding()
		if !ok && strings.EqualFold(mech, auth.MechSCRAMPlus) {
			return nil, errNeedTLS
		}
		return &scramServer{sess: s, x: s.srv.cfg.SCRAM.NewSCRAMServer(ctx, s.remote, strings.ToUpper(mech), cb)}, nil
	}
	return nil, smtpErr(504, 5, 5, 4, "Unsupported authentication mechanism")
}

// login checks a password (the account's or an app password) and makes the
// session authenticated.
func (s *session) login(ctx context.Context, username, password string) error {
	acct, err := s.srv.cfg.Auth.Login(ctx, s.remote, username, password)
	if err != nil {
		return authError(err)
	}
	s.account = &acct
	return nil
}

func authError(err error) error {
	if errors.Is(err, auth.ErrThrottled) {
		return errAuthThrottled
	}
	return errAuthFailed
}

// channelBinding returns the TLS data SCRAM-PLUS binds to: the connection
// state and the certificate this server presented.
func (s *session) channelBinding() (auth.ChannelBinding, bool) {
	cs, ok := s.conn.TLSConnectionState()
	if !ok {
		return auth.ChannelBinding{}, false
	}
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

// loginServer is the server side of LOGIN: "Username:" and "Password:"
// challenges, each answered in base64 (smtpserver does the base64). A client
// may send the username as the initial response.
type loginServer struct {
	check    func(username, password string) error
	username string
	step     int
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	if len(response) > maxSASLField {
		return nil, true, errAuthFailed
	}
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.username, string(response))
	}
	return nil, true, errAuthFailed
}

// scramServer adapts auth.SCRAMServer to smtpserver: its errors become SMTP
// replies, and its account the session's.
type scramServer struct {
	sess *session
	x    *auth.SCRAMServer
}

func (a *scramServer) Next(response []byte) ([]byte, bool, error) {
	ch, done, err := a.x.Next(response)
	if err != nil {
		return nil, true, authError(err)
	}
	if done {
		acct := a.x.Account
		a.sess.account = &acct
	}
	return ch, done, nil
}
