package jmap

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// CapabilityWebSocket is JMAP over WebSocket (RFC 8887).
const CapabilityWebSocket = "urn:ietf:params:jmap:websocket"

// wsSubprotocol is the WebSocket subprotocol a client must offer (RFC 8887
// §4.1).
const wsSubprotocol = "jmap"

// wsWriteTimeout bounds one frame written to a client that stopped reading.
const wsWriteTimeout = 30 * time.Second

// wsCapability is the capability's value in the session (RFC 8887 §4).
type wsCapability struct {
	URL          string `json:"url"`
	SupportsPush bool   `json:"supportsPush"`
}

// CurrentStater is an optional part of Changes: the current state of every
// data type of an account. With it, a WebSocket StateChange carries a
// pushState and WebSocketPushEnable honours one (RFC 8887 §4.3.5).
type CurrentStater interface {
	CurrentState(ctx context.Context, accountID string) (map[string]string, error)
}

// requestError is a RequestError (RFC 8887 §4.3.4): a problem details
// object with "@type" and the request's id.
type requestError struct {
	Type      string  `json:"@type"`
	RequestID *string `json:"requestId,omitempty"`
	problem
}

// wsStateChange is a StateChange with its pushState (RFC 8887 §4.3.5.1).
type wsStateChange struct {
	Type      string                       `json:"@type"`
	Changed   map[string]map[string]string `json:"changed"`
	PushState string                       `json:"pushState,omitempty"`
}

// serveWebSocket answers GET /jmap/ws: the upgrade, authenticated like any
// request, then one session until either side closes, the client goes
// quiet or the server shuts down.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		httpProblem(w, http.StatusMethodNotAllowed, "")
		return
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		httpProblem(w, http.StatusUpgradeRequired, "this is the JMAP WebSocket endpoint (RFC 8887)")
		return
	}
	if !headerHasToken(r.Header, "Sec-WebSocket-Protocol", wsSubprotocol) {
		httpProblem(w, http.StatusBadRequest, `the WebSocket subprotocol "jmap" is required (RFC 8887)`)
		return
	}
	if !s.sessionStarted() {
		httpProblem(w, http.StatusServiceUnavailable, "the server is shutting down")
		return
	}
	defer s.sessions.Done()
	// The listener's read and write timeouts would cut a long session.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wsSubprotocol}})
	if err != nil {
		s.log.Debug("jmap: websocket upgrade", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws := &wsSession{
		srv: s, conn: conn, p: p, ctx: ctx,
		running: make(chan struct{}, 2*s.limits.MaxConcurrentRequests),
		// Only the request's host and TLS state are read later (session
		// URLs); its context ends with the upgrade.
		req: r.Clone(ctx),
	}
	if tok, ok := bearer(r); ok && s.opts.Tokens != nil {
		ws.token = tok
	}
	ws.run(cancel)
}

// headerHasToken reports whether a comma-separated header has token
// (case-insensitive, as both Upgrade and subprotocol tokens compare here).
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// wsSession is one WebSocket connection.
type wsSession struct {
	srv  *Server
	conn *websocket.Conn
	p    Principal
	ctx  context.Context
	req  *http.Request
	// token is the bearer token of the upgrade, checked again at every
	// ping so a revoked token does not keep its session.
	token string

	inflight sync.WaitGroup // requests being executed
	// running holds a slot per request goroutine: twice the account's
	// maxConcurrentRequests, so requests past the limit still get their
	// RequestError, yet a client that floods the connection waits for
	// its answers instead of piling up goroutines and request bodies.
	running chan struct{}

	mu         sync.Mutex
	stopPush   func() // ends the push subscription; nil when push is off
	lastActive time.Time
}

// run reads frames until the connection ends, with a pinger and an idle
// watch beside it; cancel ends them all.
func (ws *wsSession) run(cancel context.CancelFunc) {
	s := ws.srv
	// Past maxSizeRequest a frame is drained and refused with a
	// RequestError; a frame this large closes the connection (1009).
	ws.conn.SetReadLimit(2*s.limits.MaxSizeRequest + 64<<10)
	ws.touch()
	go ws.watch(cancel)
	defer func() {
		cancel()
		ws.inflight.Wait()
		ws.setPush(nil)
		ws.conn.CloseNow()
	}()
	for {
		typ, rd, err := ws.conn.Reader(ws.ctx)
		if err != nil {
			return
		}
		ws.touch()
		if typ != websocket.MessageText {
			ws.conn.Close(websocket.StatusUnsupportedData, "JMAP frames are text")
			return
		}
		body, err := io.ReadAll(io.LimitReader(rd, s.limits.MaxSizeRequest+1))
		if err != nil {
			return
		}
		if int64(len(body)) > s.limits.MaxSizeRequest {
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return
			}
			ws.writeProblem(nil, tooLargeProblem(s.limits.MaxSizeRequest))
			continue
		}
		ws.handle(body)
	}
}

// watch pings the client and closes a session that is gone, idle or no
// longer authorized: a client that does not answer a ping within the ping
// interval is gone; one that sends nothing for the idle timeout without
// push enabled is idle; a bearer token revoked (a password change, a
// DELETE) or expired ends the session at the next ping.
// It also closes every session when the server shuts down.
func (ws *wsSession) watch(cancel context.CancelFunc) {
	s := ws.srv
	tick := time.NewTicker(s.opts.WebSocketPing)
	defer tick.Stop()
	for {
		select {
		case <-ws.ctx.Done():
			return
		case <-s.done:
			ws.conn.Close(websocket.StatusGoingAway, "server shutting down")
			cancel()
			return
		case <-tick.C:
		}
		ws.mu.Lock()
		idle := ws.stopPush == nil && time.Since(ws.lastActive) >= s.opts.WebSocketIdle
		ws.mu.Unlock()
		if idle {
			ws.conn.Close(websocket.StatusPolicyViolation, "idle")
			cancel()
			return
		}
		if ws.token != "" {
			if _, _, err := s.opts.Tokens.check(ws.ctx, ws.token); errors.Is(err, ErrUnauthenticated) {
				ws.conn.Close(websocket.StatusPolicyViolation, "access token revoked or expired")
				cancel()
				return
			}
		}
		ctx, stop := context.WithTimeout(ws.ctx, s.opts.WebSocketPing)
		err := ws.conn.Ping(ctx)
		stop()
		if err != nil {
			cancel()
			ws.conn.CloseNow()
			return
		}
	}
}

func (ws *wsSession) touch() {
	ws.mu.Lock()
	ws.lastActive = time.Now()
	ws.mu.Unlock()
}

// handle answers one text frame.
func (ws *wsSession) handle(body []byte) {
	f, prob := decodeFrame(body)
	if prob != nil {
		ws.writeProblem(f.id, *prob)
		return
	}
	switch f.kind {
	case frameRequest:
		// Requests run concurrently (RFC 8887 §4.3.3 lets responses come
		// in any order), held to maxConcurrentRequests by execute.
		select {
		case ws.running <- struct{}{}:
		case <-ws.ctx.Done():
			return
		}
		ws.inflight.Add(1)
		go func() {
			defer func() { <-ws.running; ws.inflight.Done() }()
			frame := &apiResponse{Type: "Response", RequestID: f.id}
			b, prob := ws.srv.execute(ws.req, ws.p, body, frame)
			if prob != nil {
				ws.writeProblem(f.id, *prob)
				return
			}
			ws.write(b)
		}()
	case framePushEnable:
		ws.enablePush(f)
	case framePushDisable:
		ws.setPush(nil)
	}
}

// enablePush starts (or restarts, with new types) push over this
// connection (RFC 8887 §4.3.5.2).
func (ws *wsSession) enablePush(f frame) {
	changes := ws.srv.opts.Changes
	if changes == nil {
		ws.writeProblem(nil, problem{Type: "about:blank", Status: http.StatusBadRequest, Detail: "push is not supported"})
		return
	}
	var types map[string]bool
	if f.dataTypes != nil {
		types = make(map[string]bool, len(f.dataTypes))
		for _, t := range f.dataTypes {
			types[t] = true
		}
	}
	ch, unsubscribe := changes.Subscribe(ws.p.AccountID)
	ctx, cancel := context.WithCancel(ws.ctx)
	done := make(chan struct{})
	ws.setPush(func() {
		cancel()
		unsubscribe()
		<-done
	})
	// Subscribed before the state is read, so no change falls between.
	known := ws.currentState(ctx)
	go func() {
		defer close(done)
		if known != nil && f.pushState != "" && f.pushState != pushState(known) {
			if !ws.push(filterChange(StateChange{Changed: map[string]map[string]string{ws.p.AccountID: known}}, ws.p.AccountID, types), known) {
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case sc, open := <-ch:
				if !open {
					return
				}
				if known != nil {
					for t, st := range sc.Changed[ws.p.AccountID] {
						known[t] = st
					}
				}
				if !ws.push(filterChange(sc, ws.p.AccountID, types), known) {
					return
				}
			}
		}
	}()
}

// push sends sc unless it is empty; false when the connection failed.
func (ws *wsSession) push(sc StateChange, known map[string]string) bool {
	if sc.Changed == nil {
		return true
	}
	out := wsStateChange{Type: "StateChange", Changed: sc.Changed}
	if known != nil {
		out.PushState = pushState(known)
	}
	b, err := json.Marshal(out)
	return err == nil && ws.write(b)
}

func (ws *wsSession) currentState(ctx context.Context) map[string]string {
	cs, ok := ws.srv.opts.Changes.(CurrentStater)
	if !ok {
		return nil
	}
	m, err := cs.CurrentState(ctx, ws.p.AccountID)
	if err != nil {
		ws.srv.log.Warn("jmap: reading the push state", "account", ws.p.AccountID, "err", err)
		return nil
	}
	return m
}

// setPush replaces the push subscription's stop function, stopping the
// one before.
func (ws *wsSession) setPush(stop func()) {
	ws.mu.Lock()
	old := ws.stopPush
	ws.stopPush = stop
	ws.mu.Unlock()
	if old != nil {
		old()
	}
}

// pushState encodes the state of every type as one opaque string: equal
// states give equal strings.
func pushState(states map[string]string) string {
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "\x00" + states[k] + "\x00"))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:15])
}

func (ws *wsSession) write(b []byte) bool {
	ctx, cancel := context.WithTimeout(ws.ctx, wsWriteTimeout)
	defer cancel()
	return ws.conn.Write(ctx, websocket.MessageText, b) == nil
}

func (ws *wsSession) writeProblem(id *string, p problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	b, _ := json.Marshal(requestError{Type: "RequestError", RequestID: id, problem: p})
	ws.write(b)
}

// Frame kinds a client sends (RFC 8887 §4.3).
const (
	frameRequest     = "Request"
	framePushEnable  = "WebSocketPushEnable"
	framePushDisable = "WebSocketPushDisable"
)

// frame is a decoded client frame. A Request's body is parsed again by
// execute, which ignores "@type" and "id".
type frame struct {
	kind      string
	id        *string  // a Request's id
	dataTypes []string // nil: every type
	pushState string
}

// decodeFrame reads a client frame's type and, for push frames, their
// arguments; a problem is what the RequestError says.
func decodeFrame(body []byte) (frame, *problem) {
	var f frame
	if !json.Valid(body) {
		return f, &problem{Type: ProblemNotJSON, Status: http.StatusBadRequest, Detail: "the frame is not valid I-JSON"}
	}
	notRequest := func(detail string) (frame, *problem) {
		return f, &problem{Type: ProblemNotRequest, Status: http.StatusBadRequest, Detail: detail}
	}
	var top map[string]json.RawMessage
	if firstByte(body) != '{' || json.Unmarshal(body, &top) != nil {
		return notRequest("the frame is not a JSON object")
	}
	if raw, ok := top["id"]; ok {
		var id string
		if firstByte(raw) != '"' || json.Unmarshal(raw, &id) != nil {
			return notRequest(`"id" must be a string`)
		}
		f.id = &id
	}
	if firstByte(top["@type"]) != '"' || json.Unmarshal(top["@type"], &f.kind) != nil {
		return notRequest(`"@type" must be a string`)
	}
	switch f.kind {
	case frameRequest, framePushDisable:
	case framePushEnable:
		if raw, ok := top["dataTypes"]; ok && string(raw) != "null" {
			if firstByte(raw) != '[' || json.Unmarshal(raw, &f.dataTypes) != nil {
				return notRequest(`"dataTypes" must be null or an array of strings`)
			}
			if f.dataTypes == nil {
				f.dataTypes = []string{}
			}
			if slices.Contains(f.dataTypes, "*") {
				f.dataTypes = nil
			}
		}
		if raw, ok := top["pushState"]; ok && string(raw) != "null" {
			if firstByte(raw) != '"' || json.Unmarshal(raw, &f.pushState) != nil {
				return notRequest(`"pushState" must be a string`)
			}
		}
	default:
		return notRequest(`unknown "@type"`)
	}
	return f, nil
}

// tooLargeProblem is the limit problem of a request over maxSizeRequest.
func tooLargeProblem(max int64) problem {
	return problem{Type: ProblemLimit, Status: http.StatusRequestEntityTooLarge, Limit: "maxSizeRequest",
		Detail: "the request is larger than " + strconv.FormatInt(max, 10) + " octets"}
}
