// Package web is the `http` listener: JMAP (RFC 8620/8621) for the webmail
// and any JMAP client at /jmap/, the webmail (internal/webmail) at / and
// /webmail/, client autoconfiguration and the MTA-STS policy (package
// autoconfig), /healthz and /readyz (package health). The admin UI and API
// have their own loopback listener.
//
// Passwords cross this listener in HTTP Basic authentication, at the
// token endpoint and at the webmail's login, and bearer tokens in every
// JMAP request and the webmail's session cookie, so a request
// that carries credentials is served only over TLS or from loopback (a
// reverse proxy on the same machine, or `postern dev`). Shutdown first ends
// the JMAP push streams (EventSource, WebSocket), then the requests.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Options build a Server.
type Options struct {
	// JMAP serves /jmap/ and /.well-known/jmap; nil leaves them out.
	JMAP http.Handler
	// Webmail serves everything else (the webmail's pages, /assets/,
	// /webmail/); nil answers 404 there.
	Webmail http.Handler
	// Streams ends the long-lived streams (EventSource, WebSocket) at
	// Shutdown, which http.Server.Shutdown does not wait out; may be nil.
	Streams interface {
		Shutdown(ctx context.Context) error
	}
	// Autoconfig serves autoconfig.Paths (Thunderbird autoconfig,
	// Autodiscover, MTA-STS) for any Host; nil leaves them out.
	Autoconfig http.Handler
	// Healthz and Readyz answer /healthz and /readyz (package health);
	// nil leaves them out.
	Healthz, Readyz http.Handler
	Logger          *slog.Logger
}

// Server is the HTTP service; it may Serve several listeners.
type Server struct {
	srv     *http.Server
	log     *slog.Logger
	streams interface{ Shutdown(context.Context) error }
}

// Timeouts of a connection: a slow client cannot hold one open forever;
// EventSource streams clear the write deadline for themselves.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 5 * time.Minute
	writeTimeout      = 5 * time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// New returns the server.
func New(o Options) *Server {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	if o.JMAP != nil {
		j := secureCredentials(o.JMAP)
		mux.Handle("/jmap/", j)
		mux.Handle("/.well-known/jmap", j)
	}
	if o.Autoconfig != nil {
		for _, p := range autoconfigPaths {
			mux.Handle(p, o.Autoconfig)
		}
	}
	if o.Healthz != nil {
		mux.Handle("/healthz", o.Healthz)
	}
	if o.Readyz != nil {
		mux.Handle("/readyz", o.Readyz)
	}
	if o.Webmail != nil {
		mux.Handle("/", secureCredentials(o.Webmail))
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "not found", http.StatusNotFound)
		})
	}
	s := &Server{log: log, streams: o.Streams}
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// Serve serves HTTP on l until Shutdown. The http listener has no
// implicit TLS of its own yet: put TLS in front of it (or keep it on
// loopback).
func (s *Server) Serve(l net.Listener, implicitTLS bool) error {
	if implicitTLS {
		return errors.New("web: implicit TLS is not supported on the http listener")
	}
	err := s.srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown ends the streams, stops accepting and waits for requests in
// flight.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.streams != nil {
		if err := s.streams.Shutdown(ctx); err != nil {
			s.log.Warn("http: streams still open at shutdown", "err", err)
		}
	}
	return s.srv.Shutdown(ctx)
}

// autoconfigPaths are the paths package autoconfig answers (its Paths;
// listed here so that web does not import it).
var autoconfigPaths = []string{
	"/.well-known/autoconfig/mail/config-v1.1.xml",
	"/mail/config-v1.1.xml",
	"/autodiscover/autodiscover.xml",
	"/Autodiscover/Autodiscover.xml",
	"/.well-known/mta-sts.txt",
}

// tokenPath is where a client trades its password for a bearer token; the
// password may come in the body, so the path itself needs TLS. The
// webmail's login is the same for the browser.
const (
	tokenPath        = "/jmap/auth/token"
	webmailLoginPath = "/webmail/login"
)

// sessionCookie is the webmail's cookie (jmap.SessionCookie): a bearer
// token too.
const sessionCookie = "postern_session"

// secureCredentials refuses a request with credentials (a password or a
// bearer token, in a header, in the session cookie, or posted to the
// token endpoint or the webmail's login) that came in clear from another
// machine: they would have crossed the network.
func secureCredentials(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, cookieErr := r.Cookie(sessionCookie)
		carries := r.Header.Get("Authorization") != "" || cookieErr == nil ||
			r.URL.Path == tokenPath || r.URL.Path == webmailLoginPath
		if carries && r.TLS == nil && !fromLoopback(r) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "credentials are accepted only over TLS", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func fromLoopback(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
