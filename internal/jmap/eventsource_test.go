package jmap

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

type sseEvent struct{ name, data string }

// openEvents opens an event stream as alice and returns a channel of its
// events, closed when the stream ends.
func (e *testEnv) openEvents(ctx context.Context, query string) (*http.Response, <-chan sseEvent) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.http.URL+"/jmap/eventsource?"+query, nil)
	req.SetBasicAuth(alice, "secret")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	ch := make(chan sseEvent, 16)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				ch <- ev
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			}
		}
	}()
	return resp, ch
}

func next(t *testing.T, ch <-chan sseEvent, d time.Duration) (sseEvent, bool) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		return ev, ok
	case <-time.After(d):
		t.Fatal("no event in time")
	}
	return sseEvent{}, false
}

func TestEventSource(t *testing.T) {
	e := newEnv(t, Limits{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, events := e.openEvents(ctx, "types=Email,Mailbox&closeafter=no&ping=0")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	// Another account's change and a type not asked for are not sent.
	e.hub.publish(StateChange{Changed: map[string]map[string]string{"a2": {"Email": "s9"}}})
	e.hub.publish(StateChange{Changed: map[string]map[string]string{"a1": {"Thread": "s1"}}})
	e.hub.publish(StateChange{Changed: map[string]map[string]string{"a1": {"Email": "s2", "Thread": "s2"}, "a2": {"Email": "s3"}}})
	ev, _ := next(t, events, 5*time.Second)
	if ev.name != "state" || ev.data != `{"@type":"StateChange","changed":{"a1":{"Email":"s2"}}}` {
		t.Fatalf("event %+v", ev)
	}
	cancel()
	// The subscription ends with the client.
	for deadline := time.Now().Add(5 * time.Second); e.hub.count() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("subscription left behind")
		}
	}
}

func TestEventSourceCloseAfterAndPing(t *testing.T) {
	e := newEnv(t, Limits{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// ping=1 is below no minimum here (MinPing is 1 s in tests).
	_, events := e.openEvents(ctx, "types=*&closeafter=state&ping=1")
	ev, _ := next(t, events, 5*time.Second)
	if ev.name != "ping" || ev.data != `{"interval":1}` {
		t.Fatalf("event %+v", ev)
	}
	e.hub.publish(StateChange{Changed: map[string]map[string]string{"a1": {"Mailbox": "s5"}}})
	for {
		ev, ok := next(t, events, 5*time.Second)
		if !ok {
			t.Fatal("stream closed before the state event")
		}
		if ev.name == "state" {
			if ev.data != `{"@type":"StateChange","changed":{"a1":{"Mailbox":"s5"}}}` {
				t.Fatalf("event %+v", ev)
			}
			break
		}
	}
	// closeafter=state: the server ends the stream.
	if _, ok := next(t, events, 5*time.Second); ok {
		t.Fatal("stream still open after closeafter=state")
	}
}

func TestEventSourcePingClamp(t *testing.T) {
	e := &testEnv{t: t, hub: &hub{}}
	e.srv = New(Options{Auth: fakeAuth{}, Changes: e.hub, MinPing: 2 * time.Second})
	e.http = newServer(t, e.srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, events := e.openEvents(ctx, "types=*&closeafter=no&ping=1")
	if ev, _ := next(t, events, 5*time.Second); ev.name != "ping" || ev.data != `{"interval":2}` {
		t.Fatalf("event %+v", ev)
	}
	for _, q := range []string{"types=*&closeafter=maybe", "types=*&ping=-3", "types=*&ping=x"} {
		if resp, _ := e.do("GET", "/jmap/eventsource?"+q, alice, nil); resp.StatusCode != 400 {
			t.Errorf("%s: %d", q, resp.StatusCode)
		}
	}
}
