package jmap

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// newWSEnv is newEnv with options changed by set.
func newWSEnv(t *testing.T, set func(*Options), register func(*Server)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, blobs: &memBlobs{}, hub: &hub{}}
	o := Options{Auth: fakeAuth{}, Blobs: e.blobs, Changes: e.hub, MinPing: time.Second}
	if set != nil {
		set(&o)
	}
	e.srv = New(o)
	if register != nil {
		register(e.srv)
	}
	e.http = newServer(t, e.srv)
	return e
}

func basicHeader(user string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":secret")))
	return h
}

// dialWS opens a WebSocket as alice with the jmap subprotocol.
func (e *testEnv) dialWS(hdr http.Header) *websocket.Conn {
	e.t.Helper()
	if hdr == nil {
		hdr = basicHeader(alice)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.http.URL, "http")+"/jmap/ws",
		&websocket.DialOptions{Subprotocols: []string{"jmap"}, HTTPHeader: hdr})
	if err != nil {
		e.t.Fatalf("dial: %v %v", err, resp)
	}
	if c.Subprotocol() != "jmap" {
		e.t.Fatalf("subprotocol %q", c.Subprotocol())
	}
	c.SetReadLimit(1 << 20)
	e.t.Cleanup(func() { c.CloseNow() })
	return c
}

func wsSend(t *testing.T, c *websocket.Conn, frame string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatal(err)
	}
}

func wsRead(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if typ != websocket.MessageText || json.Unmarshal(b, &m) != nil {
		t.Fatalf("frame %v %s", typ, b)
	}
	return m
}

func TestWebSocketSessionCapability(t *testing.T) {
	e := newEnv(t, Limits{}, nil)
	_, b := e.do("GET", "/jmap/session", alice, nil)
	var sess struct {
		Capabilities map[string]json.RawMessage
	}
	json.Unmarshal(b, &sess)
	want := `{"url":"ws` + strings.TrimPrefix(e.http.URL, "http") + `/jmap/ws","supportsPush":true}`
	if got := string(sess.Capabilities[CapabilityWebSocket]); got != want {
		t.Errorf("capability %s, want %s", got, want)
	}
	if wsURL("https://mail.example.org") != "wss://mail.example.org" {
		t.Error("https base")
	}
	// Without Changes there is no push.
	e2 := &testEnv{t: t}
	e2.srv = New(Options{Auth: fakeAuth{}})
	e2.http = newServer(t, e2.srv)
	_, b = e2.do("GET", "/jmap/session", alice, nil)
	if !strings.Contains(string(b), `"supportsPush":false`) {
		t.Errorf("session without Changes: %s", b)
	}
}

func TestWebSocketRequests(t *testing.T) {
	e := newEnv(t, Limits{MaxCallsInRequest: 2, MaxSizeRequest: 2000}, register)
	c := e.dialWS(nil)
	// RFC 8887 §4.3.1 and §4.3.3: the id comes back as requestId.
	wsSend(t, c, `{"@type":"Request","id":"R1","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"hello":true},"c1"]]}`)
	m := wsRead(t, c)
	b, _ := json.Marshal(m["methodResponses"])
	if m["@type"] != "Response" || m["requestId"] != "R1" || string(b) != `[["Core/echo",{"hello":true},"c1"]]` || m["sessionState"] == "" {
		t.Fatalf("response %v", m)
	}
	// No id, no requestId.
	wsSend(t, c, `{"@type":"Request","using":[],"methodCalls":[]}`)
	if m := wsRead(t, c); m["@type"] != "Response" || m["requestId"] != nil {
		t.Fatalf("response %v", m)
	}
	cases := []struct {
		name, frame, typ, limit string
		status                  float64
		id                      any
	}{
		{"notJSON", `{"@type":`, ProblemNotJSON, "", 400, nil},
		{"not an object", `[1]`, ProblemNotRequest, "", 400, nil},
		{"no @type", `{"using":[],"methodCalls":[]}`, ProblemNotRequest, "", 400, nil},
		{"unknown @type", `{"@type":"Nope","id":"x"}`, ProblemNotRequest, "", 400, "x"},
		{"id not a string", `{"@type":"Request","id":7,"using":[],"methodCalls":[]}`, ProblemNotRequest, "", 400, nil},
		{"notRequest", `{"@type":"Request","id":"R2","using":[]}`, ProblemNotRequest, "", 400, "R2"},
		{"unknownCapability", `{"@type":"Request","id":"R3","using":["urn:example:nope"],"methodCalls":[]}`, ProblemUnknownCapability, "", 400, "R3"},
		{"maxCallsInRequest", `{"@type":"Request","id":"R4","using":[],"methodCalls":[["Core/echo",{},"1"],["Core/echo",{},"2"],["Core/echo",{},"3"]]}`, ProblemLimit, "maxCallsInRequest", 400, "R4"},
		{"maxSizeRequest", `{"@type":"Request","id":"R5","using":[],"methodCalls":[["Core/echo",{"x":"` + strings.Repeat("x", 2000) + `"},"1"]]}`, ProblemLimit, "maxSizeRequest", 413, nil},
		{"bad dataTypes", `{"@type":"WebSocketPushEnable","dataTypes":"Email"}`, ProblemNotRequest, "", 400, nil},
		{"bad pushState", `{"@type":"WebSocketPushEnable","dataTypes":null,"pushState":1}`, ProblemNotRequest, "", 400, nil},
	}
	for _, tc := range cases {
		wsSend(t, c, tc.frame)
		m := wsRead(t, c)
		if m["@type"] != "RequestError" || m["type"] != tc.typ || m["status"] != tc.status || m["requestId"] != tc.id {
			t.Errorf("%s: %v", tc.name, m)
		}
		if tc.limit != "" && m["limit"] != tc.limit {
			t.Errorf("%s: limit %v", tc.name, m["limit"])
		}
	}
	// The connection still serves after every error.
	wsSend(t, c, `{"@type":"Request","id":"R6","using":[],"methodCalls":[["Core/echo",{},"z"]]}`)
	if m := wsRead(t, c); m["requestId"] != "R6" {
		t.Fatalf("after errors: %v", m)
	}
	// A method error stays a method error inside a Response.
	wsSend(t, c, `{"@type":"Request","id":"R7","using":["urn:example:test"],"methodCalls":[["Test/fail",{},"f"]]}`)
	if m := wsRead(t, c); !strings.Contains(mustJSON(m["methodResponses"]), `"error"`) {
		t.Fatalf("method error: %v", m)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func closeStatus(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal("connection not closed in time")
			}
			return websocket.CloseStatus(err)
		}
	}
}

func TestWebSocketFrameLimits(t *testing.T) {
	e := newEnv(t, Limits{MaxSizeRequest: 1000}, nil)
	// Binary frames are not JMAP: 1003.
	c := e.dialWS(nil)
	ctx := context.Background()
	c.Write(ctx, websocket.MessageBinary, []byte(`{}`))
	if st := closeStatus(t, c); st != websocket.StatusUnsupportedData {
		t.Errorf("binary frame: close %v", st)
	}
	// Far past maxSizeRequest the connection closes (1009) without the
	// server reading it all.
	c = e.dialWS(nil)
	c.Write(ctx, websocket.MessageText, []byte(strings.Repeat(" ", 200_000)))
	if st := closeStatus(t, c); st != websocket.StatusMessageTooBig {
		t.Errorf("huge frame: close %v", st)
	}
}

func TestWebSocketUpgradeRefused(t *testing.T) {
	e := newEnv(t, Limits{}, nil)
	url := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/jmap/ws"
	cases := []struct {
		name   string
		hdr    http.Header
		protos []string
		status int
	}{
		{"no credentials", nil, []string{"jmap"}, 401},
		{"wrong password", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(alice+":nope"))}}, []string{"jmap"}, 401},
		{"throttled", basicHeader("throttled"), []string{"jmap"}, 429},
		{"no jmap subprotocol", basicHeader(alice), []string{"chat"}, 400},
		{"no subprotocol", basicHeader(alice), nil, 400},
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: tc.protos, HTTPHeader: tc.hdr})
		cancel()
		if err == nil || resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %v %v", tc.name, err, resp)
			continue
		}
		if resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: headers %v", tc.name, resp.Header)
		}
		if tc.status == 401 && len(resp.Header.Values("WWW-Authenticate")) != 2 {
			t.Errorf("%s: challenges %v", tc.name, resp.Header.Values("WWW-Authenticate"))
		}
	}
	// POST to the WebSocket URL; a GET that is no upgrade.
	if resp, _ := e.do("POST", "/jmap/ws", alice, nil); resp.StatusCode != 405 {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if resp, b := e.do("GET", "/jmap/ws", alice, nil, "Sec-WebSocket-Protocol", "jmap"); resp.StatusCode != 426 ||
		resp.Header.Get("Upgrade") != "websocket" || !strings.Contains(string(b), `"status":426`) {
		t.Errorf("GET without upgrade: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	// An upgrade the library refuses (no key) still says no-store.
	if resp, _ := e.do("GET", "/jmap/ws", alice, nil, "Sec-WebSocket-Protocol", "jmap", "Upgrade", "websocket", "Connection", "Upgrade"); resp.StatusCode/100 != 4 {
		t.Errorf("upgrade without a key: %d", resp.StatusCode)
	}
}

// blocking registers Test/block, which waits for release.
func blocking(release <-chan struct{}, started chan<- struct{}) func(*Server) {
	return func(s *Server) {
		s.Handle("Test/block", CapabilityCore, func(ctx context.Context, c *Call) (any, error) {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return map[string]any{}, nil
		})
	}
}

func TestWebSocketConcurrentRequests(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{}, 4)
	e := newEnv(t, Limits{MaxConcurrentRequests: 1}, blocking(release, started))
	c := e.dialWS(nil)
	wsSend(t, c, `{"@type":"Request","id":"slow","using":[],"methodCalls":[["Test/block",{},"b"]]}`)
	<-started
	// The slot is the account's, shared with the HTTP API.
	wsSend(t, c, `{"@type":"Request","id":"second","using":[],"methodCalls":[]}`)
	m := wsRead(t, c)
	if m["@type"] != "RequestError" || m["limit"] != "maxConcurrentRequests" || m["requestId"] != "second" || m["status"] != float64(429) {
		t.Fatalf("second request: %v", m)
	}
	if status, m := e.api(`{"using":[],"methodCalls":[]}`); status != 429 || m["limit"] != "maxConcurrentRequests" {
		t.Fatalf("HTTP during a WebSocket request: %d %v", status, m)
	}
	close(release)
	if m := wsRead(t, c); m["requestId"] != "slow" {
		t.Fatalf("slow request: %v", m)
	}
	if status, _ := e.api(`{"using":[],"methodCalls":[]}`); status != 200 {
		t.Fatalf("slot not released: %d", status)
	}
}

func TestWebSocketPush(t *testing.T) {
	e := newEnv(t, Limits{}, nil)
	c := e.dialWS(nil)
	wsSend(t, c, `{"@type":"WebSocketPushEnable","dataTypes":["Email"]}`)
	waitSubs(t, e.hub, 1)
	e.hub.publish(StateChange{Changed: map[string]map[string]string{"a2": {"Email": "x"}}})
	e.hub.publish(StateChange{Changed: map[string]map[string]string{"a1": {"Mailbox": "m1"}}})
	e.hub.publish(StateChange{Changed: map[string]map[string]string{"a1": {"Email": "e1", "Mailbox": "m2"}}})
	m := wsRead(t, c)
	if mustJSON(m) != `{"@type":"StateChange","changed":{"a1":{"Email":"e1"}}}` {
		t.Fatalf("push %v", m)
	}
	// Enabling again replaces the types.
	wsSend(t, c, `{"@type":"WebSocketPushEnable","dataTypes":null}`)
	wsSync(t, c)
	e.hub.publish(StateChange{Changed: map[string]map[string]string{"a1": {"Mailbox": "m3"}}})
	if m := wsRead(t, c); mustJSON(m) != `{"@type":"StateChange","changed":{"a1":{"Mailbox":"m3"}}}` {
		t.Fatalf("push %v", m)
	}
	wsSend(t, c, `{"@type":"WebSocketPushDisable"}`)
	waitSubs(t, e.hub, 0)
	e.hub.publish(StateChange{Changed: map[string]map[string]string{"a1": {"Mailbox": "m4"}}})
	wsSend(t, c, `{"@type":"Request","id":"after","using":[],"methodCalls":[]}`)
	if m := wsRead(t, c); m["requestId"] != "after" {
		t.Fatalf("a change came after disable: %v", m)
	}
	// The subscription ends with the connection.
	wsSend(t, c, `{"@type":"WebSocketPushEnable"}`)
	waitSubs(t, e.hub, 1)
	c.Close(websocket.StatusNormalClosure, "")
	waitSubs(t, e.hub, 0)
}

// wsSync waits until the server has handled the frames sent before: they
// are handled in order, and a Request's Response comes after.
func wsSync(t *testing.T, c *websocket.Conn) {
	t.Helper()
	wsSend(t, c, `{"@type":"Request","id":"sync","using":[],"methodCalls":[]}`)
	if m := wsRead(t, c); m["requestId"] != "sync" {
		t.Fatalf("sync: %v", m)
	}
}

func waitSubs(t *testing.T, h *hub, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); h.count() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions, want %d", h.count(), n)
		}
	}
}

// statefulHub is a hub that knows the current states (CurrentStater).
type statefulHub struct {
	hub
	mu     sync.Mutex
	states map[string]string
}

func (h *statefulHub) CurrentState(_ context.Context, account string) (map[string]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if account != "a1" {
		return nil, errors.New("unknown account")
	}
	m := make(map[string]string, len(h.states))
	for k, v := range h.states {
		m[k] = v
	}
	return m, nil
}

func TestWebSocketPushState(t *testing.T) {
	h := &statefulHub{states: map[string]string{"Email": "e1", "Mailbox": "m1"}}
	e := newWSEnv(t, func(o *Options) { o.Changes = h }, nil)
	c := e.dialWS(nil)
	// A stale pushState gets the current states at once (RFC 8887 §4.3.5.2).
	wsSend(t, c, `{"@type":"WebSocketPushEnable","dataTypes":["Email"],"pushState":"old"}`)
	m := wsRead(t, c)
	current := pushState(map[string]string{"Email": "e1", "Mailbox": "m1"})
	if mustJSON(m["changed"]) != `{"a1":{"Email":"e1"}}` || m["pushState"] != current {
		t.Fatalf("catch-up %v", m)
	}
	// The pushState of a change covers every type.
	h.publish(StateChange{Changed: map[string]map[string]string{"a1": {"Email": "e2"}}})
	m = wsRead(t, c)
	if m["pushState"] != pushState(map[string]string{"Email": "e2", "Mailbox": "m1"}) {
		t.Fatalf("change %v", m)
	}
	// An up-to-date pushState gets nothing.
	c2 := e.dialWS(nil)
	wsSend(t, c2, `{"@type":"WebSocketPushEnable","pushState":"`+current+`"}`)
	wsSend(t, c2, `{"@type":"Request","id":"next","using":[],"methodCalls":[]}`)
	if m := wsRead(t, c2); m["requestId"] != "next" {
		t.Fatalf("push with a current pushState: %v", m)
	}
}

func TestWebSocketPushUnsupported(t *testing.T) {
	e := newWSEnv(t, func(o *Options) { o.Changes = nil }, nil)
	c := e.dialWS(nil)
	wsSend(t, c, `{"@type":"WebSocketPushEnable"}`)
	if m := wsRead(t, c); m["@type"] != "RequestError" || m["status"] != float64(400) {
		t.Fatalf("%v", m)
	}
}

func TestWebSocketPingAndIdle(t *testing.T) {
	e := newWSEnv(t, func(o *Options) {
		// Margins for a loaded machine under -race: a pong may come
		// late there (CI once lost one within 100 ms).
		o.WebSocketPing = 400 * time.Millisecond
		o.WebSocketIdle = 1200 * time.Millisecond
	}, nil)
	// A client that reads answers pings; sending nothing, it is idle.
	c := e.dialWS(nil)
	start := time.Now()
	if st := closeStatus(t, c); st != websocket.StatusPolicyViolation || time.Since(start) < 1100*time.Millisecond {
		t.Errorf("idle: close %v after %v", st, time.Since(start))
	}
	// With push enabled it is not idle.
	c = e.dialWS(nil)
	wsSend(t, c, `{"@type":"WebSocketPushEnable"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	_, _, err := c.Read(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("push-enabled connection closed: %v", err)
	}
	// A client that does not read does not answer pings: it is cut off.
	c = e.dialWS(nil)
	time.Sleep(1600 * time.Millisecond)
	if st := closeStatus(t, c); st == websocket.StatusNormalClosure {
		t.Errorf("silent client: %v", st)
	}
}

func TestWebSocketShutdown(t *testing.T) {
	e := newEnv(t, Limits{}, nil)
	c := e.dialWS(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, events := e.openEvents(ctx, "types=*&closeafter=no")
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(ctx) }()
	if st := closeStatus(t, c); st != websocket.StatusGoingAway {
		t.Errorf("close status %v", st)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	// The event stream ended too.
	for range events {
	}
	// A new upgrade is refused.
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.http.URL, "http")+"/jmap/ws",
		&websocket.DialOptions{Subprotocols: []string{"jmap"}, HTTPHeader: basicHeader(alice)})
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("upgrade after shutdown: %v %v", err, resp)
	}
}
