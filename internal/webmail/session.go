package webmail

// Sessions: a login trades the password for a JMAP bearer token (through
// the login throttle every protocol shares), kept by the browser in an
// HttpOnly, Secure, SameSite=Strict cookie; the CSRF token, an HMAC of
// it, goes to the script, which sends it back in X-CSRF-Token.

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"postern/internal/auth"
	"postern/internal/jmap"
	"postern/internal/store"
)

// sessionInfo is the answer of login and session.
type sessionInfo struct {
	CSRF      string `json:"csrf"`
	Username  string `json:"username"`
	AccountID string `json:"accountId"`
	Lang      string `json:"lang"`
}

func (h *Handler) info(r *http.Request, tok string, acct store.Account) sessionInfo {
	in := sessionInfo{CSRF: h.tokens.CSRF(tok), Username: acct.Address, AccountID: jmap.AccountID(acct.ID)}
	if p, err := h.st.WebmailPrefs(r.Context(), acct.ID); err == nil {
		in.Lang = p.Lang
	}
	return in
}

// setCookie sets (or, with an empty token, clears) the session cookie.
// Secure always: browsers keep Secure cookies of http://localhost and
// 127.0.0.1 too, and anything else must be TLS.
func (h *Handler) setCookie(w http.ResponseWriter, tok string) {
	c := &http.Cookie{Name: jmap.SessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode}
	if tok == "" {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(h.tokens.Idle() / time.Second)
	}
	http.SetCookie(w, c)
}

func (h *Handler) serveLogin(w http.ResponseWriter, r *http.Request) {
	// A JSON body cannot be posted by another site's form, and a script
	// of another origin must pass a CORS preflight we never grant: no
	// one logs a victim's browser into an attacker's account.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" || jmap.CrossSite(r) {
		jsonError(w, http.StatusForbidden, "log in from the webmail's own page")
		return
	}
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.Username == "" || body.Password == "" {
		jsonError(w, http.StatusBadRequest, "give a username and a password")
		return
	}
	r = r.WithContext(auth.WithProtocol(r.Context(), "webmail"))
	tok, _, acct, err := h.tokens.Login(r, body.Username, body.Password)
	var te *jmap.ThrottledError
	switch {
	case err == nil:
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((te.RetryAfter+time.Second-1)/time.Second))))
		jsonError(w, http.StatusTooManyRequests, "too many failed logins, try again later")
		return
	case errors.Is(err, jmap.ErrUnauthenticated):
		jsonError(w, http.StatusUnauthorized, "wrong username or password")
		return
	default:
		h.log.Error("webmail: login", "err", err)
		jsonError(w, http.StatusServiceUnavailable, "try again later")
		return
	}
	h.setCookie(w, tok)
	writeJSON(w, http.StatusOK, h.info(r, tok, acct))
}

// serveSession answers who is logged in, and renews the cookie's
// lifetime: the token's expiry moves with use, the cookie's with this.
func (h *Handler) serveSession(w http.ResponseWriter, r *http.Request, s session) {
	h.setCookie(w, s.token)
	writeJSON(w, http.StatusOK, h.info(r, s.token, s.acct))
}

func (h *Handler) serveLogout(w http.ResponseWriter, r *http.Request, s session) {
	if err := h.tokens.Revoke(r.Context(), s.token); err != nil {
		h.log.Error("webmail: logout", "account", s.acct.Address, "err", err)
		jsonError(w, http.StatusServiceUnavailable, "try again later")
		return
	}
	h.setCookie(w, "")
	w.WriteHeader(http.StatusNoContent)
}
