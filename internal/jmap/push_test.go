package jmap

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// storeAuth accepts every account of a store by address, password
// "secret".
type storeAuth struct{ st store.Store }

func (a storeAuth) Authenticate(r *http.Request) (Principal, error) {
	u, p, ok := r.BasicAuth()
	if !ok || p != "secret" {
		return Principal{}, ErrUnauthenticated
	}
	acct, err := a.st.Account(r.Context(), u)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	return principalOf(acct), nil
}

// pushEnv is a Server whose push comes from a real store's deliveries.
type pushEnv struct {
	st   *sqlstore.Store
	acct store.Account
	http *httptest.Server
	n    int
}

func newPushEnv(tb testing.TB) *pushEnv {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "example.org"); err != nil {
		tb.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, alice, store.Credentials{})
	if err != nil {
		tb.Fatal(err)
	}
	srv := New(Options{Auth: storeAuth{st}, Changes: &StoreChanges{
		Notifier: st.Notifier(), ModSeq: st.AccountModSeq,
		Types: []string{"Mailbox", "Email", "Thread"}, DeliveryTypes: []string{"EmailDelivery"},
	}})
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	tb.Cleanup(func() { srv.Shutdown(context.Background()) })
	return &pushEnv{st: st, acct: acct, http: hs}
}

func (e *pushEnv) deliver(tb testing.TB) {
	tb.Helper()
	e.n++
	body := fmt.Sprintf("Message-ID: <m%d@example.org>\r\nSubject: m%d\r\n\r\nbody %d\r\n", e.n, e.n, e.n)
	out, err := e.st.Deliver(context.Background(), store.Delivery{
		Blob:         store.NewBlob{Body: store.BytesBody(body), Meta: store.MessageMeta{SearchText: "body"}},
		InternalDate: time.Now(),
		Targets:      []store.DeliveryTarget{{AccountID: e.acct.ID, Mailbox: "INBOX"}},
	})
	if err != nil || out.Targets[0].Err != nil {
		tb.Fatalf("Deliver: %v %+v", err, out)
	}
}

func (e *pushEnv) modseq(tb testing.TB) string {
	tb.Helper()
	m, err := e.st.AccountModSeq(context.Background(), e.acct.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return strconv.FormatUint(m, 10)
}

func (e *pushEnv) testEnv(t *testing.T) *testEnv {
	return &testEnv{t: t, http: e.http}
}

func (e *pushEnv) dialWS(tb testing.TB) *websocket.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.http.URL, "http")+"/jmap/ws",
		&websocket.DialOptions{Subprotocols: []string{"jmap"}, HTTPHeader: basicHeader(alice)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	return c
}

// TestPushFromDelivery: a real delivery reaches an EventSource (with
// closeafter=state, over a real HTTP client) and a WebSocket, with the
// account's modseq as the state of every type.
func TestPushFromDelivery(t *testing.T) {
	pe := newPushEnv(t)
	aid := AccountID(pe.acct.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, events := pe.testEnv(t).openEvents(ctx, "types=Email,EmailDelivery&closeafter=state&ping=0")
	c := pe.dialWS(t)
	wsSend(t, c, `{"@type":"WebSocketPushEnable","dataTypes":["Mailbox","EmailDelivery"]}`)
	wsSync(t, c)
	time.Sleep(50 * time.Millisecond) // the event stream subscribes after its headers
	pe.deliver(t)
	state := pe.modseq(t)
	ev, _ := next(t, events, 5*time.Second)
	want := `{"@type":"StateChange","changed":{"` + aid + `":{"Email":"` + state + `","EmailDelivery":"` + state + `"}}}`
	if ev.name != "state" || ev.data != want {
		t.Fatalf("event %+v, want %s", ev, want)
	}
	if _, ok := next(t, events, 5*time.Second); ok {
		t.Error("closeafter=state left the stream open")
	}
	m := wsRead(t, c)
	wantWS := `{"` + aid + `":{"EmailDelivery":"` + state + `","Mailbox":"` + state + `"}}`
	if m["@type"] != "StateChange" || mustJSON(m["changed"]) != wantWS || m["pushState"] == "" {
		t.Fatalf("websocket %v, want %s", m, wantWS)
	}
	// A flag change moves the state without EmailDelivery.
	if _, err := pe.st.UpdateFlags(context.Background(), mustInbox(t, pe), []uint32{1},
		store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	m = wsRead(t, c)
	state = pe.modseq(t)
	if mustJSON(m["changed"]) != `{"`+aid+`":{"Mailbox":"`+state+`"}}` {
		t.Fatalf("flag change %v", m)
	}
}

func mustInbox(t *testing.T, pe *pushEnv) int64 {
	mb, err := pe.st.Mailbox(context.Background(), pe.acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return mb.ID
}

// BenchmarkPushLatency measures a delivery into a real store (SQLite,
// blobs on disk, fsync) until the StateChange reaches the client, over
// EventSource and over WebSocket; it reports the mean, p50, p99 and max in
// milliseconds, and the mean of the Deliver call alone. The goal is under
// 50 ms. Run: go test -run '^$' -bench PushLatency -benchtime 200x ./internal/jmap
func BenchmarkPushLatency(b *testing.B) {
	b.Run("eventsource", func(b *testing.B) {
		pe := newPushEnv(b)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", pe.http.URL+"/jmap/eventsource?types=Email&closeafter=no&ping=0", nil)
		req.SetBasicAuth(alice, "secret")
		resp, err := pe.http.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		got := make(chan struct{}, 16)
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := resp.Body.Read(buf)
				if err != nil {
					return
				}
				if strings.Contains(string(buf[:n]), "event: state") {
					got <- struct{}{}
				}
			}
		}()
		measure(b, pe, func() { waitFor(b, got) })
	})
	b.Run("websocket", func(b *testing.B) {
		pe := newPushEnv(b)
		c := pe.dialWS(b)
		ctx := context.Background()
		c.Write(ctx, websocket.MessageText, []byte(`{"@type":"WebSocketPushEnable","dataTypes":["Email"]}`))
		time.Sleep(50 * time.Millisecond)
		got := make(chan struct{}, 16)
		go func() {
			for {
				_, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				var m map[string]any
				if json.Unmarshal(msg, &m) == nil && m["@type"] == "StateChange" {
					got <- struct{}{}
				}
			}
		}()
		measure(b, pe, func() { waitFor(b, got) })
	})
}

func waitFor(b *testing.B, ch <-chan struct{}) {
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		b.Fatal("no StateChange within 10 s")
	}
}

// measure delivers b.N messages one after another, each timed from the
// Deliver call to its StateChange at the client.
func measure(b *testing.B, pe *pushEnv, wait func()) {
	time.Sleep(50 * time.Millisecond) // the stream is subscribed
	lat := make([]time.Duration, 0, b.N)
	var delivering time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		pe.deliver(b)
		delivering += time.Since(start)
		wait()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(sum/time.Duration(len(lat))), "ms-mean")
	b.ReportMetric(ms(lat[len(lat)/2]), "ms-p50")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "ms-p99")
	b.ReportMetric(ms(lat[len(lat)-1]), "ms-max")
	// How much of it is the delivery itself (commit and fsync).
	b.ReportMetric(ms(delivering/time.Duration(len(lat))), "ms-deliver-mean")
}
