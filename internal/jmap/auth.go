package jmap

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

// Principal is who a request is authenticated as, and the one account it
// may use.
type Principal struct {
	// AccountID is the JMAP account id (see AccountID for how a store
	// account maps to it).
	AccountID string
	// Username is shown as the session's "username" and the account name.
	Username string
}

// Authenticator authenticates an HTTP request. It returns ErrUnauthenticated
// (or an error wrapping it) when the request carries no valid credentials,
// a *ThrottledError when the source or account is throttled, and an error
// wrapping ErrForbidden for credentials that came the wrong way (403); any
// other error is answered 503.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// ErrUnauthenticated makes the HTTP layer answer 401 with Basic and Bearer
// challenges in WWW-Authenticate.
var ErrUnauthenticated = errors.New("jmap: authentication required")

// ThrottledError makes the HTTP layer answer 429 with Retry-After.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string { return "jmap: too many failed logins" }

// authenticate runs the Authenticator and answers the failure itself; ok is
// false when the request has been answered.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (p Principal, ok bool) {
	p, err := s.opts.Auth.Authenticate(r)
	if err == nil {
		if p.AccountID == "" {
			s.log.Error("jmap: authenticator returned no account id")
			httpProblem(w, http.StatusInternalServerError, "")
			return p, false
		}
		return p, true
	}
	s.authFailed(w, r, err)
	return p, false
}

// authFailed answers a failed authentication: 429 when throttled, 401 when
// the credentials are missing or wrong, 503 otherwise.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, err error) {
	var te *ThrottledError
	switch {
	case errors.As(err, &te):
		secs := int((te.RetryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		httpProblem(w, http.StatusTooManyRequests, "too many failed logins, try later")
	case errors.Is(err, ErrForbidden):
		httpProblem(w, http.StatusForbidden, err.Error())
	case errors.Is(err, ErrUnauthenticated):
		if !fromWebmail(r) {
			challenge(w, err)
		}
		httpProblem(w, http.StatusUnauthorized, "")
	default:
		s.log.Error("jmap: authentication", "err", err)
		httpProblem(w, http.StatusServiceUnavailable, "")
	}
}

// fromWebmail tells a request of the webmail's pages (its session cookie,
// or its CSRF header): a 401 answers it without challenges, since a
// browser would put up its own password dialog over the page.
func fromWebmail(r *http.Request) bool {
	if r.Header.Get("X-CSRF-Token") != "" {
		return true
	}
	_, err := r.Cookie(SessionCookie)
	return err == nil
}

// challenge sets the WWW-Authenticate challenges of a 401: Basic, and
// Bearer (RFC 6750 §3) with error="invalid_token" when a token was refused.
func challenge(w http.ResponseWriter, err error) {
	h := w.Header()
	h.Add("WWW-Authenticate", `Basic realm="Postern", charset="UTF-8"`)
	if errors.Is(err, errInvalidToken) {
		h.Add("WWW-Authenticate", `Bearer realm="Postern", error="invalid_token"`)
	} else {
		h.Add("WWW-Authenticate", `Bearer realm="Postern"`)
	}
}

// AccountID is the JMAP account id of a store account: "a" followed by the
// decimal store.Account.ID, e.g. "a42". It starts with a letter and uses
// only characters RFC 8620 §1.2 allows in an Id.
func AccountID(id int64) string { return "a" + strconv.FormatInt(id, 10) }

// ParseAccountID returns the store account id of a JMAP account id made by
// AccountID, or false.
func ParseAccountID(s string) (int64, bool) {
	rest, ok := strings.CutPrefix(s, "a")
	if !ok || rest == "" || rest[0] == '0' || rest[0] == '+' || rest[0] == '-' {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil && id > 0
}

// BasicAuth authenticates HTTP Basic credentials (RFC 7617) with an
// auth.Authenticator, so JMAP shares the password check, app passwords and
// login throttle of the other protocols.
type BasicAuth struct {
	Auth auth.Authenticator
	// RetryAfter is sent with a throttled answer; default 60 s.
	RetryAfter time.Duration
	// Remote returns the client address of a request; default: the host
	// of r.RemoteAddr (a proxy in front sets RemoteAddr before this runs).
	Remote func(r *http.Request) netip.Addr
}

// Authenticate implements Authenticator. A request without Basic
// credentials fails without counting as a failed login.
func (b BasicAuth) Authenticate(r *http.Request) (Principal, error) {
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" {
		return Principal{}, ErrUnauthenticated
	}
	acct, err := b.login(r, user, pass)
	if err != nil {
		return Principal{}, err
	}
	return principalOf(acct), nil
}

// login checks a password through the shared throttle and maps its errors
// to the ones the HTTP layer answers.
func (b BasicAuth) login(r *http.Request, user, pass string) (store.Account, error) {
	ctx := r.Context()
	if auth.Protocol(ctx) == "" {
		// The webmail's login passes here with its own name.
		ctx = auth.WithProtocol(ctx, "jmap")
	}
	acct, err := b.Auth.Login(ctx, b.remote(r), user, pass)
	switch {
	case err == nil:
		return acct, nil
	case errors.Is(err, auth.ErrThrottled):
		d := b.RetryAfter
		if d <= 0 {
			d = time.Minute
		}
		return acct, &ThrottledError{RetryAfter: d}
	case errors.Is(err, auth.ErrFailed), errors.Is(err, context.Canceled):
		return acct, ErrUnauthenticated
	default:
		return acct, err
	}
}

func (b BasicAuth) remote(r *http.Request) netip.Addr {
	if b.Remote != nil {
		return b.Remote(r)
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(r.RemoteAddr)
	return a.Unmap()
}

func principalOf(a store.Account) Principal {
	return Principal{AccountID: AccountID(a.ID), Username: a.Address}
}
