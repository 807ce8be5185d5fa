package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"postern/internal/auth"
	"postern/internal/store"
)

// Sessions of the admin listener end after SessionIdle without a request,
// and SessionMax after login whatever happens.
const (
	SessionIdle = 30 * time.Minute
	SessionMax  = 12 * time.Hour
	// touchEvery spares a database write per request: a session's expiry
	// moves at most this often.
	touchEvery = time.Minute
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// AdminPrincipal is the lookup of auth.Service.LoginPrincipal for an
// administrator: its password hash and, when it has a TOTP secret, the
// check of code (RFC 6238, one step of clock skew either way).
func (s *Service) AdminPrincipal(ctx context.Context, name, code string) (auth.Principal, error) {
	a, err := s.st.Admin(ctx, name)
	if isNotFound(err) {
		return auth.Principal{}, nil
	}
	if err != nil {
		return auth.Principal{}, err
	}
	p := auth.Principal{Found: true, PasswordHash: a.PasswordHash}
	if a.TOTPSecret != "" {
		p.SecondFactor = func() bool { return s.checkTOTP(ctx, a, strings.TrimSpace(code), time.Now()) }
	}
	return p, nil
}

// totpPeriod is RFC 6238's default time step, what authenticator apps use.
const totpPeriod = 30

// checkTOTP accepts code when it is the one of the current time step or of
// a step either side (clock skew, RFC 6238 §5.2), and that step is newer
// than the last one used: a code seen once (over a shoulder, in a log) does
// not log in again.
func (s *Service) checkTOTP(ctx context.Context, a store.Admin, code string, now time.Time) bool {
	if len(code) != 6 {
		return false
	}
	for _, skew := range []int64{0, -1, 1} {
		at := now.Add(time.Duration(skew*totpPeriod) * time.Second)
		want, err := totp.GenerateCode(a.TOTPSecret, at)
		if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		ok, err := s.st.UseAdminTOTPStep(ctx, a.ID, at.Unix()/totpPeriod)
		if err != nil {
			s.log.Warn("recording a TOTP code's use", "admin", a.Name, "err", err)
		}
		if !ok {
			s.log.Warn("TOTP code used twice", "admin", a.Name)
		}
		return ok
	}
	return false
}

// newSecret is a token given to a client once: 32 random bytes.
func newSecret() (string, []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, digest(tok)
}

func digest(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// Session is a login of an administrator on the admin listener.
type Session struct {
	// Token goes in the session cookie; CSRF must come back in the
	// X-CSRF-Token header of every change.
	Token, CSRF string
	Expires     time.Time
	Admin       Administrator
}

// CSRFToken is the anti-forgery token of a session token: a page of
// another site can send the cookie but cannot read it, so it cannot
// compute this.
func CSRFToken(sessionToken string) string {
	h := sha256.Sum256([]byte("postern admin csrf\x00" + sessionToken))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// StartSession opens a session for an administrator whose login
// auth.LoginPrincipal has just accepted, and records the login time.
func (s *Service) StartSession(ctx context.Context, name string) (Session, error) {
	a, err := s.admin(ctx, name)
	if err != nil {
		return Session{}, err
	}
	tok, hash := newSecret()
	now := time.Now()
	t, err := s.st.AddAdminToken(ctx, store.AdminToken{AdminID: a.ID, Kind: store.AdminSession, Hash: hash,
		ExpiresAt: now.Add(SessionIdle)})
	if err != nil {
		return Session{}, err
	}
	if err := s.st.TouchAdminLogin(ctx, a.ID, now); err != nil {
		s.log.Warn("recording administrator login", "admin", a.Name, "err", err)
	}
	a.LastLogin = now
	s.log.InfoContext(ctx, "admin login", "admin", a.Name)
	return Session{Token: tok, CSRF: CSRFToken(tok), Expires: t.ExpiresAt, Admin: adminView(a)}, nil
}

// errNoSession is every refusal of a session or API token: unknown,
// expired, of the wrong kind. The face answers 401 without saying which.
var errNoSession = &Error{Kind: KindNotFound, Field: "token", Msg: "not logged in", Err: store.ErrNotFound}

// IsNoSession reports whether err is the refusal of SessionAdmin or
// APITokenAdmin.
func IsNoSession(err error) bool { return err == errNoSession }

// SessionAdmin returns the administrator of a session token and moves its
// idle expiry on.
func (s *Service) SessionAdmin(ctx context.Context, token string) (Administrator, error) {
	return s.tokenAdmin(ctx, token, store.AdminSession)
}

// APITokenAdmin returns the administrator of an API token.
func (s *Service) APITokenAdmin(ctx context.Context, token string) (Administrator, error) {
	return s.tokenAdmin(ctx, token, store.AdminAPI)
}

func (s *Service) tokenAdmin(ctx context.Context, token, kind string) (Administrator, error) {
	if token == "" || len(token) > 128 {
		return Administrator{}, errNoSession
	}
	t, a, err := s.st.AdminToken(ctx, digest(token))
	if isNotFound(err) {
		return Administrator{}, errNoSession
	}
	if err != nil {
		return Administrator{}, err
	}
	now := time.Now()
	if t.Kind != kind || (!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) ||
		(kind == store.AdminSession && now.Sub(t.CreatedAt) > SessionMax) {
		return Administrator{}, errNoSession
	}
	if now.Sub(t.LastUsed) >= touchEvery {
		var expires time.Time
		if kind == store.AdminSession {
			expires = now.Add(SessionIdle)
		}
		if err := s.st.TouchAdminToken(ctx, t.ID, now, expires); err != nil {
			s.log.Warn("recording admin token use", "admin", a.Name, "err", err)
		}
	}
	return adminView(a), nil
}

// EndSession revokes a session token (logout); an unknown one is not an
// error, so logging out twice is harmless.
func (s *Service) EndSession(ctx context.Context, token string) error {
	t, a, err := s.st.AdminToken(ctx, digest(token))
	if isNotFound(err) || (err == nil && t.Kind != store.AdminSession) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.st.DeleteAdminToken(ctx, a.ID, t.ID); err != nil && !isNotFound(err) {
		return err
	}
	s.log.InfoContext(ctx, "admin logout", "admin", a.Name)
	return nil
}

// APIToken is what the service shows of an API token: never the token.
type APIToken struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	LastUsed  time.Time
}

func apiTokenView(t store.AdminToken) APIToken {
	return APIToken{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, LastUsed: t.LastUsed}
}

// AddAPIToken makes a named API token of the administrator for scripts
// (Authorization: Bearer). The token is returned once; only its digest is
// kept.
func (s *Service) AddAPIToken(ctx context.Context, adminName, name string) (APIToken, string, error) {
	if err := needActor(ctx); err != nil {
		return APIToken{}, "", err
	}
	a, err := s.admin(ctx, adminName)
	if err != nil {
		return APIToken{}, "", err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxAppPasswordName || strings.ContainsAny(name, "\r\n\t") {
		return APIToken{}, "", invalid("name", name, nil,
			"API token name %q: give 1 to %d characters, no tabs or line breaks", name, maxAppPasswordName)
	}
	tok, hash := newSecret()
	t, err := s.st.AddAdminToken(ctx, store.AdminToken{AdminID: a.ID, Kind: store.AdminAPI, Name: name, Hash: hash})
	if err != nil {
		return APIToken{}, "", storeErr(err, "name", name, "API token "+name+" of "+a.Name)
	}
	s.audit(ctx, "admin.token.add", a.Name, "name", name)
	return apiTokenView(t), tok, nil
}

// APITokens lists the administrator's API tokens, oldest first.
func (s *Service) APITokens(ctx context.Context, adminName string) ([]APIToken, error) {
	a, err := s.admin(ctx, adminName)
	if err != nil {
		return nil, err
	}
	list, err := s.st.AdminTokens(ctx, a.ID, store.AdminAPI)
	out := make([]APIToken, len(list))
	for i, t := range list {
		out[i] = apiTokenView(t)
	}
	return out, err
}

// RevokeAPIToken deletes the administrator's API token id: it stops
// working at once.
func (s *Service) RevokeAPIToken(ctx context.Context, adminName string, id int64) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	a, err := s.admin(ctx, adminName)
	if err != nil {
		return err
	}
	if err := s.st.DeleteAdminToken(ctx, a.ID, id); err != nil {
		return storeErr(err, "id", fmt.Sprint(id), fmt.Sprintf("API token %d of %s", id, a.Name))
	}
	s.audit(ctx, "admin.token.revoke", a.Name, "id", id)
	return nil
}

// AuditLog lists the recorded admin changes, newest first.
func (s *Service) AuditLog(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	return s.st.Audit(ctx, f)
}
