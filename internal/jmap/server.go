// Package jmap is the JMAP core protocol (RFC 8620) over HTTP and over
// WebSocket (RFC 8887): the session resource, the API endpoint with its
// request-level and method-level errors, result references, limits, blob
// upload and download, push over EventSource and WebSocket, and bearer
// tokens. It knows nothing of mail: data types (RFC 8621 Mailbox, Email,
// ...) plug in as Methods registered with Server.Handle under their
// capability.
//
// What it owns:
//   - server.go: Options, Limits, Server, the routes, Cache-Control and
//     Shutdown (which ends the streams http.Server.Shutdown does not).
//   - errors.go: Error (method-level errors and SetErrors) and the RFC 7807
//     request-level problems.
//   - request.go: the API endpoint (RFC 8620 §3.3–§3.6), execute (one
//     Request object, shared by both transports and their per-account
//     maxConcurrentRequests slots), Call (with Invoke, one method running
//     another of the same request), Core/echo.
//   - resultref.go: result references and their JSON pointers (§3.7).
//   - session.go: the session resource (§2) and its state.
//   - auth.go: Authenticator and Principal; BasicAuth over internal/auth.
//   - token.go: Tokens, bearer tokens (RFC 6750) traded for a password at
//     /jmap/auth/token, through the same login throttle; 32 random bytes,
//     kept as SHA-256 digests in store.AccessTokens, idle expiry (7 days
//     by default), revoked by DELETE, and by the store when the password
//     changes or the account is disabled or deleted; a WebSocket or event
//     stream opened with a token ends within WebSocketPing of that.
//   - cookie.go: the webmail's session cookie (postern_session, a bearer
//     token) as a credential when no Authorization header is sent; a
//     state change with it needs X-CSRF-Token (HMAC-SHA256 of the token
//     under TokenOptions.CSRFKey), and no request from another site
//     (Sec-Fetch-Site, Origin) is accepted with it: 403. Tokens.Login,
//     Check, Revoke and CheckPassword serve internal/webmail.
//   - blobs.go: upload and download (§6.1, §6.2) over Blobs.
//   - eventsource.go: push over EventSource (§7.3) from Changes.
//   - websocket.go: RFC 8887 over github.com/coder/websocket: Request,
//     Response and RequestError frames with "@type" and ids, the "jmap"
//     subprotocol, WebSocketPushEnable/Disable with pushState; limits:
//     maxSizeRequest per frame, the account's request slots, ping and idle
//     timeouts, close 1001 at shutdown.
//   - storechanges.go: StoreChanges, the Changes of a store.Notifier, with
//     the account modseq as the state of every type (internal/jmapmail's
//     state strings).
//
// Routes, all answered with "Cache-Control: no-store", all behind
// authentication (HTTP Basic, "Authorization: Bearer" or the webmail's
// session cookie) except the token
// endpoint, which takes a password:
//
//	GET  /.well-known/jmap and /jmap/session   the session resource
//	POST /jmap/api                              API requests
//	POST /jmap/upload/{accountId}/              blob upload
//	GET  /jmap/download/{accountId}/{blobId}/{name}?accept={type}
//	GET  /jmap/eventsource?types=&closeafter=&ping=
//	GET  /jmap/ws                               WebSocket (subprotocol "jmap")
//	POST /jmap/auth/token                       password → {accessToken, expiresAt}
//	DELETE /jmap/auth/token                     revokes the Bearer token sent
//
// The web listener mounts the Server at "/jmap/" and "/.well-known/jmap".
package jmap

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// CapabilityCore is the core capability, always advertised and always
// enabled for a request whether "using" names it or not.
const CapabilityCore = "urn:ietf:params:jmap:core"

// Limits are the core capability's limits (RFC 8620 §2). A zero field takes
// its default.
type Limits struct {
	MaxSizeUpload         int64    `json:"maxSizeUpload"`         // default 50 MiB
	MaxConcurrentUpload   int      `json:"maxConcurrentUpload"`   // per account, default 4
	MaxSizeRequest        int64    `json:"maxSizeRequest"`        // default 10 MB
	MaxConcurrentRequests int      `json:"maxConcurrentRequests"` // per account, default 4
	MaxCallsInRequest     int      `json:"maxCallsInRequest"`     // default 16
	MaxObjectsInGet       int      `json:"maxObjectsInGet"`       // default 500
	MaxObjectsInSet       int      `json:"maxObjectsInSet"`       // default 500
	CollationAlgorithms   []string `json:"collationAlgorithms"`   // default i;ascii-numeric, i;ascii-casemap, i;unicode-casemap
}

func (l Limits) withDefaults() Limits {
	if l.MaxSizeUpload <= 0 {
		l.MaxSizeUpload = 50 << 20
	}
	if l.MaxConcurrentUpload <= 0 {
		l.MaxConcurrentUpload = 4
	}
	if l.MaxSizeRequest <= 0 {
		l.MaxSizeRequest = 10_000_000
	}
	if l.MaxConcurrentRequests <= 0 {
		l.MaxConcurrentRequests = 4
	}
	if l.MaxCallsInRequest <= 0 {
		l.MaxCallsInRequest = 16
	}
	if l.MaxObjectsInGet <= 0 {
		l.MaxObjectsInGet = 500
	}
	if l.MaxObjectsInSet <= 0 {
		l.MaxObjectsInSet = 500
	}
	if l.CollationAlgorithms == nil {
		l.CollationAlgorithms = []string{"i;ascii-numeric", "i;ascii-casemap", "i;unicode-casemap"}
	}
	return l
}

// Options configure a Server. Auth is required; Blobs and Changes may be nil,
// and then their endpoints answer 404.
type Options struct {
	Auth Authenticator
	// Tokens serves /jmap/auth/token when not nil; it is usually Auth too,
	// so the tokens it issues are accepted.
	Tokens  *Tokens
	Blobs   Blobs
	Changes Changes
	Limits  Limits
	// BaseURL is the scheme and host put before the paths in the session
	// resource, e.g. "https://mail.example.com". Empty: taken from each
	// request (https if it came over TLS, its Host header).
	BaseURL string
	// MinPing and MaxPing clamp the EventSource ping interval a client asks
	// for (RFC 8620 §7.3 lets the server choose). Defaults 30 s and 1 h.
	MinPing, MaxPing time.Duration
	// WebSocketPing is how often a WebSocket client is pinged, and how
	// long it has to answer; default 1 min. WebSocketIdle closes a
	// WebSocket that sent nothing for that long without push enabled;
	// default 30 min.
	WebSocketPing, WebSocketIdle time.Duration
	Logger                       *slog.Logger
}

// Capability is a capability a method package adds to the session (e.g.
// "urn:ietf:params:jmap:mail").
type Capability struct {
	URI string
	// Session is its value in the session's "capabilities"; nil means {}.
	Session any
	// Account returns its value in an account's "accountCapabilities"; nil
	// Account means {} for every account. Returning nil leaves the
	// capability out of that account (its methods then answer
	// accountNotSupportedByMethod through Call.CheckAccount).
	Account func(ctx context.Context, p Principal) any
}

// Server is the JMAP HTTP handler. Register methods and capabilities before
// serving; it is safe for concurrent requests afterwards.
type Server struct {
	opts   Options
	limits Limits
	log    *slog.Logger
	mux    *http.ServeMux

	caps    map[string]Capability
	capList []string // registration order, core first
	methods map[string]method

	mu       sync.Mutex
	requests map[string]int // in-flight API requests per account
	uploads  map[string]int // in-flight uploads per account
	closing  bool           // Shutdown has begun

	done     chan struct{} // closed by Shutdown: streams end
	sessions sync.WaitGroup
}

type method struct {
	capability string
	fn         Method
}

// New returns a Server with Core/echo registered.
func New(opts Options) *Server {
	if opts.MinPing <= 0 {
		opts.MinPing = 30 * time.Second
	}
	if opts.MaxPing <= 0 {
		opts.MaxPing = time.Hour
	}
	if opts.WebSocketPing <= 0 {
		opts.WebSocketPing = time.Minute
	}
	if opts.WebSocketIdle <= 0 {
		opts.WebSocketIdle = 30 * time.Minute
	}
	s := &Server{
		opts:     opts,
		limits:   opts.Limits.withDefaults(),
		log:      opts.Logger,
		caps:     make(map[string]Capability),
		methods:  make(map[string]method),
		requests: make(map[string]int),
		uploads:  make(map[string]int),
		done:     make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.AddCapability(Capability{URI: CapabilityCore, Session: s.limits})
	s.Handle("Core/echo", CapabilityCore, echo)
	// Its "url" depends on the request's host; Session fills it in.
	s.AddCapability(Capability{URI: CapabilityWebSocket})

	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/jmap", s.serveSession)
	mux.HandleFunc("/jmap/session", s.serveSession)
	mux.HandleFunc("/jmap/api", s.serveAPI)
	mux.HandleFunc("/jmap/upload/{account}/", s.serveUpload)
	mux.HandleFunc("/jmap/download/{account}/{blob}/{name}", s.serveDownload)
	mux.HandleFunc("/jmap/eventsource", s.serveEventSource)
	mux.HandleFunc("/jmap/auth/token", s.serveToken)
	mux.HandleFunc("/jmap/ws", s.serveWebSocket)
	s.mux = mux
	return s
}

// Limits returns the limits in force (defaults filled in), for methods that
// check maxObjectsInGet and maxObjectsInSet.
func (s *Server) Limits() Limits { return s.limits }

// AddCapability adds (or replaces) a capability in the session resource.
func (s *Server) AddCapability(c Capability) {
	if _, ok := s.caps[c.URI]; !ok {
		s.capList = append(s.capList, c.URI)
	}
	s.caps[c.URI] = c
}

// Handle registers method name under capability. A capability not yet added
// is added with an empty session object. A request whose "using" lacks the
// capability gets unknownMethod for the call.
func (s *Server) Handle(name, capability string, m Method) {
	if _, ok := s.caps[capability]; !ok {
		s.AddCapability(Capability{URI: capability})
	}
	s.methods[name] = method{capability: capability, fn: m}
}

// ServeHTTP answers every route; every response carries
// "Cache-Control: no-store" (RFC 8620 §2 asks it of the session; Postern
// asks it of everything it serves here).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// acquire takes one of max slots for account in counts, or reports false.
func (s *Server) acquire(counts map[string]int, account string, max int) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if counts[account] >= max {
		return nil, false
	}
	counts[account]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if counts[account]--; counts[account] <= 0 {
			delete(counts, account)
		}
	}, true
}

// sessionStarted counts a new stream (WebSocket), or reports false once
// Shutdown has begun.
func (s *Server) sessionStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions.Add(1)
	return true
}

// Shutdown ends the long-lived streams, which http.Server.Shutdown does not
// wait out (an EventSource never ends by itself, a WebSocket is hijacked):
// WebSockets get a close frame with 1001 (going away), EventSource streams
// end. It waits for the WebSocket sessions until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.done)
	}
	s.mu.Unlock()
	finished := make(chan struct{})
	go func() {
		s.sessions.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
