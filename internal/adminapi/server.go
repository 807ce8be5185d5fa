package adminapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"postern/internal/admin"
	"postern/internal/auth"
	"postern/internal/webmail"
)

// Options build a Server.
type Options struct {
	Admin *admin.Service
	// Auth checks administrators' passwords under the login throttle that
	// every protocol shares.
	Auth *auth.Service
	// TLS, when set, is served on every listener that is not loopback;
	// without it such a listener is refused.
	TLS *tls.Config
	// Extra are handlers other packages mount on this listener, by path
	// pattern of http.ServeMux ("/metrics", "/healthz", "/readyz"). They
	// get the security headers but no login: each guards itself.
	Extra map[string]http.Handler
	// Protected are handlers of other packages under /admin/api/ (the
	// delivery log, the queue, the dashboard), by ServeMux pattern: they
	// answer only a server administrator's session or API token, and see
	// the administrator as the actor of their context (admin.ActorFrom).
	Protected map[string]http.Handler
	// Assets are the files of the web admin, shared with the webmail;
	// New loads them when nil.
	Assets *webmail.Assets
	// Scoped are handlers of other packages under /admin/api/ for every
	// administrator, a domain administrator included: they must show
	// only the domains of AdministratorFrom(ctx).
	Scoped map[string]http.Handler
	Logger *slog.Logger
}

// Server is the admin listener's HTTP service.
type Server struct {
	srv *http.Server
	api *api
	tls *tls.Config
	log *slog.Logger
}

// Timeouts of a connection; every request here is short.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = time.Minute
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// New returns the server.
func New(o Options) *Server {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &api{svc: o.Admin, auth: o.Auth, log: log}
	mux := http.NewServeMux()
	a.routes(mux)
	assets := o.Assets
	if assets == nil {
		var err error
		if assets, err = webmail.LoadAssets(); err != nil {
			log.Error("web admin: loading the asset files", "err", err)
		}
	}
	mountUI(mux, assets, log)
	mux.Handle("/admin/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Kind: "notfound", Msg: "no such endpoint: " + r.Method + " " + r.URL.Path})
	}))
	for pattern, h := range o.Extra {
		mux.Handle(pattern, h)
	}
	for pattern, h := range o.Protected {
		mux.Handle(pattern, a.authedServer(h))
	}
	for pattern, h := range o.Scoped {
		mux.Handle(pattern, a.authedScoped(h))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || r.URL.Path == "/admin" {
			http.Redirect(w, r, "/admin/", http.StatusFound)
			return
		}
		http.Error(w, "not found", http.StatusNotFound)
	})
	s := &Server{api: a, tls: o.TLS, log: log}
	s.srv = &http.Server{
		Handler:           securityHeaders(mux),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler is the server's handler, for tests that serve it themselves.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// IsLoopback reports whether a listen address ("host:port") stays on this
// machine: 127.0.0.0/8, ::1 or localhost. An empty host listens on every
// interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// ErrNeedsTLS is Serve's refusal of a non-loopback listener without TLS.
var ErrNeedsTLS = errors.New("the admin listener is not on a loopback address and has no TLS; " +
	"set tls.cert and tls.key, or listen.admin on 127.0.0.1")

// Serve serves on l until Shutdown: plain HTTP on loopback, TLS elsewhere
// (or with implicitTLS), and not at all elsewhere without TLS: passwords
// and session cookies must not cross a network in clear.
func (s *Server) Serve(l net.Listener, implicitTLS bool) error {
	if !implicitTLS && !IsLoopback(l.Addr().String()) {
		implicitTLS = true
	}
	if implicitTLS {
		if s.tls == nil {
			return fmt.Errorf("admin on %s: %w", l.Addr(), ErrNeedsTLS)
		}
		l = tls.NewListener(l, s.tls)
	}
	err := s.srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// securityHeaders are those of every answer: no framing, no sniffing, no
// referrer, nothing cached, and a CSP that allows only this origin's own
// files (the UI has no inline script or style).
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
