package webmail

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"postern/internal/admin"
	"postern/internal/jmap"
	"postern/internal/store"
)

// Options build the webmail's Handler.
type Options struct {
	// Tokens issues, checks and revokes the session tokens (the JMAP
	// server's, so the cookie works on /jmap/ too).
	Tokens *jmap.Tokens
	// Store holds the messages shown and the preferences.
	Store store.Store
	// Admin changes passwords and app passwords, by its rules.
	Admin *admin.Service
	// MobileConfig, when set, builds the handler of the account's Apple
	// configuration profile (autoconfig.Server.MobileConfigHandler),
	// served at GET /webmail/mobileconfig behind the session.
	MobileConfig func(address func(*http.Request) string) http.Handler
	Logger       *slog.Logger
}

// Handler serves the webmail: the shell, its assets and the /webmail/
// endpoints.
type Handler struct {
	tokens *jmap.Tokens
	st     store.Store
	admin  *admin.Service
	log    *slog.Logger
	assets *assetSet
	mux    *http.ServeMux
	// inlineEach and inlineTotal bound the cid: images inlined in one
	// message view (maxInlineImage, maxInlineImages; tests lower them).
	inlineEach, inlineTotal int64
}

// New returns the webmail's handler. It prepares the assets (hashes, gzip)
// once, here.
func New(o Options) (*Handler, error) {
	h := &Handler{tokens: o.Tokens, st: o.Store, admin: o.Admin, log: o.Logger,
		inlineEach: maxInlineImage, inlineTotal: maxInlineImages}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.tokens == nil || h.st == nil || h.admin == nil {
		return nil, errors.New("webmail: Tokens, Store and Admin are required")
	}
	var err error
	if h.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, route := range shellRoutes {
		mux.HandleFunc("GET "+route, h.serveShell)
	}
	mux.HandleFunc("GET /assets/{path...}", h.serveAsset)
	mux.HandleFunc("POST /webmail/login", h.serveLogin)
	mux.HandleFunc("GET /webmail/session", h.withSession(h.serveSession))
	mux.HandleFunc("POST /webmail/logout", h.withSession(h.serveLogout))
	mux.HandleFunc("GET /webmail/html/{emailId}", h.withSession(h.serveHTML))
	mux.HandleFunc("GET /webmail/raw/{emailId}", h.withSession(h.serveRaw))
	mux.HandleFunc("GET /webmail/prefs", h.withSession(h.servePrefs))
	mux.HandleFunc("POST /webmail/prefs", h.withSession(h.setPrefs))
	mux.HandleFunc("POST /webmail/password", h.withSession(h.changePassword))
	mux.HandleFunc("GET /webmail/app-passwords", h.withSession(h.listAppPasswords))
	mux.HandleFunc("POST /webmail/app-passwords", h.withSession(h.addAppPassword))
	mux.HandleFunc("DELETE /webmail/app-passwords/{id}", h.withSession(h.deleteAppPassword))
	if o.MobileConfig != nil {
		profile := o.MobileConfig(sessionAddress)
		mux.HandleFunc("GET /webmail/mobileconfig", h.withSession(func(w http.ResponseWriter, r *http.Request, s session) {
			profile.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
		}))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		jsonError(w, http.StatusNotFound, "not found")
	})
	h.mux = mux
	return h, nil
}

// shellRoutes are the SPA's URLs: each serves the shell, and app.js
// routes by location.pathname.
var shellRoutes = []string{"/{$}", "/f/{mailboxId}", "/m/{emailId}", "/t/{threadId}", "/compose", "/settings",
	"/settings/{page}", "/search", "/login"}

// shellCSP is the Content-Security-Policy of everything but the message
// HTML (which has its own, stricter one): scripts and styles only from
// the server's files, no inline ones.
const shellCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ServeHTTP sets the security headers every response carries, then
// routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", shellCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	// Links in a message must not make the browser look their hosts up
	// before a click: a DNS query is a request that leaves too.
	hd.Set("X-DNS-Prefetch-Control", "off")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// session is the logged-in account of a request.
type session struct {
	token string
	acct  store.Account
}

type sessionKey struct{}

// withSession runs next for a request with a valid session cookie (and,
// for a state change, its CSRF header); it answers 401 or 403 itself.
func (h *Handler) withSession(next func(w http.ResponseWriter, r *http.Request, s session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, acct, err := h.tokens.CheckCookie(r)
		switch {
		case err == nil:
			next(w, r, session{token: tok, acct: acct})
		case errors.Is(err, jmap.ErrForbidden):
			jsonError(w, http.StatusForbidden, "missing or invalid CSRF token")
		case errors.Is(err, jmap.ErrUnauthenticated):
			jsonError(w, http.StatusUnauthorized, "not logged in")
		default:
			h.log.Error("webmail: checking a session", "err", err)
			jsonError(w, http.StatusServiceUnavailable, "try again later")
		}
	}
}

// sessionAddress is the address of the session withSession put in the
// request's context; "" without one.
func sessionAddress(r *http.Request) string {
	s, _ := r.Context().Value(sessionKey{}).(session)
	return s.acct.Address
}

// actor is who makes a change through admin: the account itself.
func actor(ctx context.Context, r *http.Request, s session) context.Context {
	return admin.WithActor(ctx, admin.Actor{Name: "webmail:" + s.acct.Address, Remote: r.RemoteAddr})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// maxJSONBody bounds the JSON bodies of the endpoints.
const maxJSONBody = 16 << 10

// readJSON decodes a small JSON body; false when it answered 400.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err := dec.Decode(v); err != nil {
		jsonError(w, http.StatusBadRequest, "send a JSON object")
		return false
	}
	return true
}
