package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emersion/go-smtp"
)

// BenchmarkJMAPPush: the latency of JMAP push on the real binary, from the
// start of an SMTP transaction to port 25 (DATA, delivery, fsync, 250) to
// the StateChange at a client, over EventSource (HTTP Basic) and over
// WebSocket (RFC 8887, with a bearer token from /jmap/auth/token), both
// listening at once. 200 messages, one after another. Goal: under 50 ms.
func BenchmarkJMAPPush(b *testing.B) {
	const messages = 200
	httpAddr := freePort(b)
	s := initServer(b, func(text string) string {
		text = setListen(text, map[string]string{"http": httpAddr})
		return setKey(text, "log", "level", `"warn"`)
	})
	s.http = httpAddr
	s.run("domain", "add", "bench.test")
	s.run("user", "add", "bench1@bench.test", "--password-stdin")
	s.serve(s.smtp, s.http)
	base := "http://" + httpAddr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// EventSource.
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/jmap/eventsource?types=Email&closeafter=no&ping=0", nil)
	req.SetBasicAuth("bench1@bench.test", "benchpass")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("eventsource: %v %v", err, resp)
	}
	defer resp.Body.Close()
	sse := make(chan time.Time, messages)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() == "event: state" {
				sse <- time.Now()
			}
		}
	}()

	// WebSocket with a bearer token.
	req, _ = http.NewRequest("POST", base+"/jmap/auth/token", nil)
	req.SetBasicAuth("bench1@bench.test", "benchpass")
	tresp, err := http.DefaultClient.Do(req)
	if err != nil || tresp.StatusCode != 200 {
		b.Fatalf("token: %v %v", err, tresp)
	}
	var tok struct{ AccessToken string }
	json.NewDecoder(tresp.Body).Decode(&tok)
	tresp.Body.Close()
	ws, _, err := websocket.Dial(ctx, "ws://"+httpAddr+"/jmap/ws", &websocket.DialOptions{
		Subprotocols: []string{"jmap"},
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + tok.AccessToken}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"@type":"WebSocketPushEnable","dataTypes":["Email"]}`)); err != nil {
		b.Fatal(err)
	}
	wsc := make(chan time.Time, messages)
	go func() {
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if strings.Contains(string(msg), `"StateChange"`) {
				wsc <- time.Now()
			}
		}
	}()
	time.Sleep(200 * time.Millisecond) // both streams subscribed

	c, err := smtp.Dial(s.smtp)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("loadgen.example.net"); err != nil {
		b.Fatal(err)
	}
	var viaSSE, viaWS, smtpTime []time.Duration
	b.ResetTimer()
	for i := 0; i < messages; i++ {
		start := time.Now()
		if err := c.SendMail("loadgen@example.net", []string{"bench1@bench.test"},
			strings.NewReader(string(genMessage(i, 4096, "bench1@bench.test")))); err != nil {
			b.Fatal(err)
		}
		smtpTime = append(smtpTime, time.Since(start))
		for _, w := range []struct {
			ch  <-chan time.Time
			out *[]time.Duration
		}{{sse, &viaSSE}, {wsc, &viaWS}} {
			select {
			case at := <-w.ch:
				*w.out = append(*w.out, at.Sub(start))
			case <-time.After(10 * time.Second):
				b.Fatalf("message %d: no StateChange within 10 s", i)
			}
		}
	}
	b.StopTimer()
	c.Quit()
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"eventsource", viaSSE}, {"websocket", viaWS}, {"smtp", smtpTime}} {
		slices.Sort(m.d)
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(m.d[len(m.d)/2]), m.name+"-ms-p50")
		b.ReportMetric(ms(m.d[len(m.d)*99/100]), m.name+"-ms-p99")
		b.ReportMetric(ms(m.d[len(m.d)-1]), m.name+"-ms-max")
	}
}
