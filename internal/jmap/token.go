package jmap

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"postern/internal/store"
)

// errInvalidToken is a Bearer token that is unknown, expired or of a
// disabled account; it answers 401 like any failed authentication.
var errInvalidToken = fmt.Errorf("%w: invalid access token", ErrUnauthenticated)

// tokenBytes is the entropy of an access token: far past guessing, so a
// refused token costs no login throttle.
const tokenBytes = 32

// touchEvery is how stale a token's last use may get before a request
// records it: the idle expiry moves with it, and a request does not cost a
// database write each time.
const touchEvery = time.Minute

// maxTokenRequest bounds the JSON body of a token request.
const maxTokenRequest = 4 << 10

// TokenOptions configure Tokens.
type TokenOptions struct {
	// Idle is how long a token lives unused; default 7 days.
	Idle   time.Duration
	Logger *slog.Logger
	// Now is the clock; default time.Now (tests move it).
	Now func() time.Time
	// CSRFKey is the HMAC key of the webmail's CSRF tokens (see CSRF);
	// nil: a random key, good until the process ends.
	CSRFKey []byte
}

// Tokens issues, checks and revokes bearer tokens: a client logs in once
// with its password at POST /jmap/auth/token and then sends
// "Authorization: Bearer <token>". It is the Authenticator of the Server
// too, accepting a token or, through Basic, a password.
//
// A token is 32 random bytes (base64url, 43 characters), stored as its
// SHA-256 digest; it expires after Idle without use, and the store drops
// the account's tokens when its password changes or it is disabled or
// deleted (store.AccessTokens).
type Tokens struct {
	basic BasicAuth
	st    store.AccessTokens
	idle  time.Duration
	log   *slog.Logger
	now   func() time.Time
	// csrfKey signs the CSRF tokens of cookie sessions.
	csrfKey []byte
}

// NewTokens returns Tokens that check passwords with basic (and so share
// the login throttle of every protocol) and keep tokens in st.
func NewTokens(basic BasicAuth, st store.AccessTokens, o TokenOptions) *Tokens {
	t := &Tokens{basic: basic, st: st, idle: o.Idle, log: o.Logger, now: o.Now, csrfKey: o.CSRFKey}
	if len(t.csrfKey) == 0 {
		t.csrfKey = newCSRFKey()
	}
	if t.idle <= 0 {
		t.idle = 7 * 24 * time.Hour
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t
}

// Authenticate implements Authenticator: a Bearer token if the request has
// one, else Basic; with no Authorization header at all, the webmail's
// session cookie (CheckCookie: CSRF header on state changes).
func (t *Tokens) Authenticate(r *http.Request) (Principal, error) {
	if r.Header.Get("Authorization") == "" {
		if _, ok := CookieToken(r); ok {
			_, acct, err := t.CheckCookie(r)
			if err != nil {
				return Principal{}, err
			}
			return principalOf(acct), nil
		}
	}
	tok, ok := bearer(r)
	if !ok {
		return t.basic.Authenticate(r)
	}
	_, acct, err := t.check(r.Context(), tok)
	if err != nil {
		return Principal{}, err
	}
	return principalOf(acct), nil
}

// bearer returns the token of an "Authorization: Bearer" header (RFC 6750
// §2.1; the scheme is case-insensitive).
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// hashToken returns the digest the store keeps, or false for a string
// that is no token of ours (it then never reaches the database).
func hashToken(tok string) ([]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != tokenBytes {
		return nil, false
	}
	sum := sha256.Sum256(raw)
	return sum[:], true
}

// check returns the live token and its account, or errInvalidToken.
func (t *Tokens) check(ctx context.Context, tok string) (store.AccessToken, store.Account, error) {
	hash, ok := hashToken(tok)
	if !ok {
		return store.AccessToken{}, store.Account{}, errInvalidToken
	}
	at, acct, err := t.st.AccessToken(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return at, acct, errInvalidToken
	case err != nil:
		return at, acct, err
	}
	now := t.now()
	if !now.Before(at.ExpiresAt) || acct.Disabled {
		return at, acct, errInvalidToken
	}
	if now.Sub(at.LastUsed) >= touchEvery {
		// Recording the use must not fail the request, nor be cut short
		// by the client going away.
		if err := t.st.TouchAccessToken(context.WithoutCancel(ctx), at.ID, now, now.Add(t.idle)); err != nil {
			t.log.Warn("jmap: recording token use", "account", acct.Address, "err", err)
		}
	}
	return at, acct, nil
}

// issue makes a token for acct.
func (t *Tokens) issue(ctx context.Context, acct store.Account) (string, time.Time, error) {
	raw := make([]byte, tokenBytes)
	rand.Read(raw)
	sum := sha256.Sum256(raw)
	expires := t.now().Add(t.idle).Truncate(time.Second)
	at, err := t.st.AddAccessToken(ctx, store.AccessToken{AccountID: acct.ID, Hash: sum[:], ExpiresAt: expires})
	if err != nil {
		return "", time.Time{}, err
	}
	t.log.Info("jmap: access token issued", "account", acct.Address, "token_id", at.ID, "expires", expires.UTC())
	return base64.RawURLEncoding.EncodeToString(raw), expires, nil
}

// tokenResponse answers a successful login at the token endpoint.
type tokenResponse struct {
	AccessToken string    `json:"accessToken"`
	TokenType   string    `json:"tokenType"`
	ExpiresAt   time.Time `json:"expiresAt"`
	AccountID   string    `json:"accountId"`
	Username    string    `json:"username"`
}

// serveToken answers /jmap/auth/token: POST logs in (HTTP Basic, or a JSON
// body {"username","password"}) and returns a token; DELETE with
// "Authorization: Bearer" revokes that token.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	t := s.opts.Tokens
	if t == nil {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.issueToken(w, r, t)
	case http.MethodDelete:
		s.revokeToken(w, r, t)
	default:
		w.Header().Set("Allow", "POST, DELETE")
		httpProblem(w, http.StatusMethodNotAllowed, "")
	}
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, t *Tokens) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		var body struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxTokenRequest+1))
		if err != nil || len(raw) > maxTokenRequest || !isJSONType(r.Header.Get("Content-Type")) ||
			json.Unmarshal(raw, &body) != nil || body.Username == "" {
			httpProblem(w, http.StatusBadRequest, `send HTTP Basic credentials or a JSON body {"username","password"}`)
			return
		}
		user, pass = body.Username, body.Password
	}
	acct, err := t.basic.login(r, user, pass)
	if err != nil {
		s.authFailed(w, r, err)
		return
	}
	tok, expires, err := t.issue(r.Context(), acct)
	if err != nil {
		s.log.Error("jmap: issuing a token", "account", acct.Address, "err", err)
		httpProblem(w, http.StatusServiceUnavailable, "")
		return
	}
	b, _ := json.Marshal(tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresAt: expires.UTC(),
		AccountID: AccountID(acct.ID), Username: acct.Address})
	writeJSON(w, b)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, t *Tokens) {
	tok, ok := bearer(r)
	if !ok {
		s.authFailed(w, r, ErrUnauthenticated)
		return
	}
	at, acct, err := t.check(r.Context(), tok)
	if err == nil {
		err = t.st.DeleteAccessToken(r.Context(), at.Hash)
		if errors.Is(err, store.ErrNotFound) {
			err = errInvalidToken // revoked meanwhile
		}
	}
	if err != nil {
		s.authFailed(w, r, err)
		return
	}
	t.log.Info("jmap: access token revoked", "account", acct.Address, "token_id", at.ID)
	w.WriteHeader(http.StatusNoContent)
}
