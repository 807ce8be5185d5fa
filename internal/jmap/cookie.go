package jmap

// The webmail's session: the same bearer tokens, carried by a cookie the
// browser sends by itself. A cookie is sent with requests a hostile page
// makes too, so a request authenticated by it that changes state must
// prove it comes from the webmail's own script: the X-CSRF-Token header,
// an HMAC of the token that only a page able to read the login answer
// (same origin) knows. The server keeps no table for it.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"postern/internal/store"
)

// SessionCookie is the name of the webmail's session cookie; its value
// is a bearer token.
const SessionCookie = "postern_session"

// CSRFHeader carries the CSRF token of a cookie session.
const CSRFHeader = "X-CSRF-Token"

// ErrForbidden makes the HTTP layer answer 403: credentials that are
// valid but came the wrong way (a cookie without its CSRF token, or from
// another site).
var ErrForbidden = errors.New("jmap: request refused")

// errCSRF is a state change by cookie without a valid X-CSRF-Token.
var errCSRF = fmt.Errorf("%w: missing or wrong %s", ErrForbidden, CSRFHeader)

// errCrossSite is a cookie sent along by another site's request.
var errCrossSite = fmt.Errorf("%w: cross-site request with the session cookie", ErrForbidden)

// csrfKeyBytes is the size of a generated CSRF key.
const csrfKeyBytes = 32

func newCSRFKey() []byte {
	k := make([]byte, csrfKeyBytes)
	rand.Read(k)
	return k
}

// CSRF returns the CSRF token of a session token: base64url of
// HMAC-SHA256(key, token).
func (t *Tokens) CSRF(token string) string {
	m := hmac.New(sha256.New, t.csrfKey)
	m.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRF compares in constant time.
func (t *Tokens) validCSRF(token, got string) bool {
	return got != "" && hmac.Equal([]byte(t.CSRF(token)), []byte(got))
}

// CookieToken returns the token of the session cookie, if any.
func CookieToken(r *http.Request) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// safeMethod is a method that changes nothing (RFC 9110 §9.2.1), the
// only ones a cookie may authenticate without the CSRF header.
func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// CheckCookie authenticates a request by its session cookie: the token
// must be live; a request from another site is refused whatever its
// method (Sec-Fetch-Site, or an Origin of another host), and one that is
// not GET or HEAD needs the X-CSRF-Token of the token. It returns the
// token and its account; ErrUnauthenticated when there is no valid
// cookie, an error wrapping ErrForbidden when it came the wrong way.
func (t *Tokens) CheckCookie(r *http.Request) (string, store.Account, error) {
	tok, ok := CookieToken(r)
	if !ok {
		return "", store.Account{}, ErrUnauthenticated
	}
	_, acct, err := t.check(r.Context(), tok)
	if err != nil {
		return "", acct, err
	}
	if CrossSite(r) {
		return "", acct, errCrossSite
	}
	if !safeMethod(r.Method) && !t.validCSRF(tok, r.Header.Get(CSRFHeader)) {
		return "", acct, errCSRF
	}
	return tok, acct, nil
}

// CrossSite reports whether a browser says the request comes from a page
// of another site or origin. Sec-Fetch-Site decides when the browser
// sends it ("cross-site", or "same-site": a sibling host); a browser too
// old for it is judged by Origin, which must name the request's host (a
// reverse proxy must then pass Host on). A request with neither (not from
// a browser) is not cross-site.
func CrossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return false
	case "":
	default:
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	return err != nil || o == "null" || !strings.EqualFold(u.Host, r.Host)
}

// Login checks a password through the shared login throttle and issues a
// token for it: the webmail's login. Errors are those of Authenticate
// (ErrUnauthenticated, *ThrottledError, others).
func (t *Tokens) Login(r *http.Request, user, pass string) (token string, expires time.Time, acct store.Account, err error) {
	acct, err = t.basic.login(r, user, pass)
	if err != nil {
		return "", time.Time{}, acct, err
	}
	token, expires, err = t.issue(r.Context(), acct)
	return token, expires, acct, err
}

// Check returns the account of a live token, or ErrUnauthenticated.
func (t *Tokens) Check(ctx context.Context, token string) (store.Account, error) {
	_, acct, err := t.check(ctx, token)
	return acct, err
}

// Revoke deletes a token at once; one already gone is no error.
func (t *Tokens) Revoke(ctx context.Context, token string) error {
	hash, ok := hashToken(token)
	if !ok {
		return nil
	}
	err := t.st.DeleteAccessToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err == nil {
		t.log.Info("jmap: access token revoked (logout)")
	}
	return err
}

// Idle is how long a token lives unused: the cookie's lifetime.
func (t *Tokens) Idle() time.Duration { return t.idle }

// CheckPassword checks an account's password through the login throttle
// without issuing anything: the webmail asks for the current password
// before changing it.
func (t *Tokens) CheckPassword(r *http.Request, user, pass string) (store.Account, error) {
	return t.basic.login(r, user, pass)
}
