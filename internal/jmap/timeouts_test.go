package jmap

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestStreamsOutliveListenerTimeouts: the web listener has read and write
// timeouts (minutes); an EventSource stream and a WebSocket must outlive
// them.
func TestStreamsOutliveListenerTimeouts(t *testing.T) {
	e := &testEnv{t: t, hub: &hub{}}
	e.srv = New(Options{Auth: fakeAuth{}, Changes: e.hub, MinPing: 100 * time.Millisecond})
	hs := httptest.NewUnstartedServer(e.srv)
	hs.Config.ReadTimeout = 300 * time.Millisecond
	hs.Config.WriteTimeout = 300 * time.Millisecond
	hs.Start()
	t.Cleanup(hs.Close)
	e.http = hs

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, events := e.openEvents(ctx, "types=*&closeafter=no&ping=1")
	c := e.dialWS(nil)
	time.Sleep(time.Second)
	e.hub.publish(StateChange{Changed: map[string]map[string]string{"a1": {"Email": "late"}}})
	for {
		ev, ok := next(t, events, 5*time.Second)
		if !ok {
			t.Fatal("event stream cut by the listener's timeouts")
		}
		if ev.name == "state" {
			break
		}
	}
	wsSend(t, c, `{"@type":"Request","id":"late","using":[],"methodCalls":[]}`)
	if m := wsRead(t, c); m["requestId"] != "late" {
		t.Fatalf("websocket after the timeouts: %v", m)
	}
	c.Close(websocket.StatusNormalClosure, "")
}
