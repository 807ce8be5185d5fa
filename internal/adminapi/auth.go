package adminapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"postern/internal/admin"
	"postern/internal/auth"
)

// cookieName is the session cookie; its Path keeps it off every other
// path of the listener.
const (
	cookieName = "postern_admin"
	cookiePath = "/admin/"
	csrfHeader = "X-CSRF-Token"
)

type api struct {
	svc  *admin.Service
	auth *auth.Service
	log  *slog.Logger
}

// call is one authenticated request.
type call struct {
	r     *http.Request
	ctx   context.Context // carries the actor
	admin admin.Administrator
	// bearer is true for an API token, false for a session.
	bearer bool
}

// handler answers one authenticated request: a body sent with 200, a
// created{body} with 201, or nil with 204.
type handler func(c *call) (any, error)

// created marks a handler's answer as a new thing: 201.
type created struct{ v any }

func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// authed runs h for an authenticated administrator: a bearer API token, or
// a session cookie with, on anything but GET and HEAD, its CSRF token.
func (a *api) authed(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.authenticate(r)
		if err != nil {
			writeError(w, toAPIErrorLogged(a.log, r, err))
			return
		}
		a.answer(w, c, h)
	})
}

// authedServer serves h to a server administrator only, with the actor in
// the request's context.
func (a *api) authedServer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.authenticate(r)
		if err == nil {
			err = c.admin.CheckServerScope(r.URL.Path)
		}
		if err != nil {
			writeError(w, toAPIErrorLogged(a.log, r, err))
			return
		}
		h.ServeHTTP(w, r.WithContext(c.ctx))
	})
}

func (a *api) authenticate(r *http.Request) (*call, error) {
	ctx := r.Context()
	c := &call{r: r}
	var err error
	if authz := r.Header.Get("Authorization"); authz != "" {
		scheme, tok, _ := strings.Cut(authz, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			// Basic (a mail account's password) and anything else.
			return nil, errUnauthorized
		}
		c.bearer = true
		c.admin, err = a.svc.APITokenAdmin(ctx, strings.TrimSpace(tok))
	} else {
		ck, cerr := r.Cookie(cookieName)
		if cerr != nil {
			return nil, errUnauthorized
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			got := r.Header.Get(csrfHeader)
			if subtle.ConstantTimeCompare([]byte(got), []byte(admin.CSRFToken(ck.Value))) != 1 {
				return nil, errCSRF
			}
		}
		c.admin, err = a.svc.SessionAdmin(ctx, ck.Value)
	}
	if admin.IsNoSession(err) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	c.ctx = admin.WithActor(ctx, admin.Actor{Name: c.admin.ActorName(), Remote: remoteAddr(r).String()})
	return c, nil
}

// answer runs h and writes its result or error; a refusal for scope is
// logged with who asked.
func (a *api) answer(w http.ResponseWriter, c *call, h handler) {
	v, err := h(c)
	if err != nil {
		e := toAPIError(err)
		switch {
		case e.Kind == "forbidden":
			a.log.Warn("admin request forbidden", "admin", c.admin.Name, "role", c.admin.Role,
				"method", c.r.Method, "path", c.r.URL.Path, "remote", remoteAddr(c.r).String(), "reason", e.Msg)
		case e == errInternal:
			a.log.Error("admin request failed", "admin", c.admin.Name, "method", c.r.Method, "path", c.r.URL.Path, "err", err)
		}
		writeError(w, e)
		return
	}
	switch v := v.(type) {
	case nil:
		w.WriteHeader(http.StatusNoContent)
	case created:
		writeJSON(w, http.StatusCreated, v.v)
	case unprocessable:
		writeJSON(w, http.StatusUnprocessableEntity, v.v)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

func toAPIErrorLogged(log *slog.Logger, r *http.Request, err error) *apiError {
	e := toAPIError(err)
	if e == errInternal {
		log.Error("admin authentication failed", "path", r.URL.Path, "err", err)
	}
	return e
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
}

type sessionView struct {
	Admin   adminJSON `json:"admin"`
	CSRF    string    `json:"csrf_token,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

// login checks the password (and TOTP code) under the shared throttle and
// opens a session: the cookie, and the CSRF token in the body.
func (a *api) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, toAPIError(err))
		return
	}
	ctx := auth.WithProtocol(r.Context(), "admin")
	var name string // as auth normalised it
	err := a.auth.LoginPrincipal(ctx, remoteAddr(r), "admin", req.Username, req.Password,
		func(ctx context.Context, n string) (auth.Principal, error) {
			name = n
			return a.svc.AdminPrincipal(ctx, n, req.TOTP)
		})
	switch {
	case errors.Is(err, auth.ErrThrottled):
		writeError(w, errThrottled)
		return
	case errors.Is(err, auth.ErrFailed):
		writeError(w, errLoginFailed)
		return
	case err != nil:
		writeError(w, toAPIErrorLogged(a.log, r, err))
		return
	}
	sess, err := a.svc.StartSession(ctx, name)
	if err != nil {
		writeError(w, toAPIErrorLogged(a.log, r, err))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: sess.Token, Path: cookiePath,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, sessionView{Admin: toAdminJSON(sess.Admin), CSRF: sess.CSRF, Expires: sess.Expires})
}

// logout revokes the session and clears the cookie.
func (a *api) logout(c *call) (any, error) {
	if c.bearer {
		return nil, badRequest("logout ends a session; revoke an API token with DELETE /admin/api/tokens/{id}")
	}
	ck, _ := c.r.Cookie(cookieName)
	return nil, a.svc.EndSession(c.ctx, ck.Value)
}

func (a *api) logoutHandler() http.Handler {
	inner := a.authed(a.logout)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: cookiePath, MaxAge: -1,
				HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
		}
		inner.ServeHTTP(w, r)
	})
}

// session tells the UI who is logged in, with the CSRF token again (a
// reloaded page has lost it).
func (a *api) session(c *call) (any, error) {
	v := sessionView{Admin: toAdminJSON(c.admin)}
	if !c.bearer {
		ck, _ := c.r.Cookie(cookieName)
		v.CSRF = admin.CSRFToken(ck.Value)
	}
	return v, nil
}

type tokenRequest struct {
	Name string `json:"name"`
}

type tokenJSON struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Token     string    `json:"token,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	LastUsed  time.Time `json:"last_used,omitzero"`
}

func toTokenJSON(t admin.APIToken) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, LastUsed: t.LastUsed}
}

// addToken makes an API token of the caller; the token is in this answer
// only.
func (a *api) addToken(c *call) (any, error) {
	var req tokenRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	t, secret, err := a.svc.AddAPIToken(c.ctx, c.admin.Name, req.Name)
	if err != nil {
		return nil, err
	}
	v := toTokenJSON(t)
	v.Token = secret
	return created{v}, nil
}

func (a *api) listTokens(c *call) (any, error) {
	list, err := a.svc.APITokens(c.ctx, c.admin.Name)
	out := make([]tokenJSON, len(list))
	for i, t := range list {
		out[i] = toTokenJSON(t)
	}
	return map[string]any{"tokens": out}, err
}

func (a *api) revokeToken(c *call) (any, error) {
	id, err := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, badRequest("token id %q is not a number", c.r.PathValue("id"))
	}
	return nil, a.svc.RevokeAPIToken(c.ctx, c.admin.Name, id)
}

type adminJSON struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Domains   []string  `json:"domains"`
	TOTP      bool      `json:"totp"`
	CreatedAt time.Time `json:"created_at"`
	LastLogin time.Time `json:"last_login,omitzero"`
}

func toAdminJSON(a admin.Administrator) adminJSON {
	d := a.Domains
	if d == nil {
		d = []string{}
	}
	return adminJSON{Name: a.Name, Role: a.Role, Domains: d, TOTP: a.TOTP, CreatedAt: a.CreatedAt, LastLogin: a.LastLogin}
}
