package smtpd

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postern/internal/antispam"
	"postern/internal/deliver"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// gateHarness is an MX on loopback with the antispam gate built by
// makeGate over the harness's store (example.org with alice).
func gateHarness(t *testing.T, makeGate func(st *sqlstore.Store, log *slog.Logger) *antispam.Gate) (addr string, st *sqlstore.Store, logs *logBuffer) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAccount(ctx, "alice@example.org", store.Credentials{}); err != nil {
		t.Fatal(err)
	}
	logs = &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	srv := New(Config{
		Hostname: "mx.example.org", Mode: ModeMX, MaxMessageBytes: 1 << 20, MaxRecipients: 10,
		MaxLineLength: 2000, MaxHeaderBytes: 64 << 10, IdleTimeout: time.Minute, ShutdownGrace: time.Second,
		Pipeline: deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: parseForTest, Logger: log}),
		Logger:   log, Gate: makeGate(st, log),
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, false)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return l.Addr().String(), st, logs
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestGreylistOnlyKnownRecipients: a new triplet waits with 451 4.7.1
// and a retry-after; unknown recipients and relay attempts get their
// permanent refusal at once, not a greylisting; after the delay the
// retry is accepted and delivered.
func TestGreylistOnlyKnownRecipients(t *testing.T) {
	clk := &testClock{t: time.Now()}
	addr, st, logs := gateHarness(t, func(st *sqlstore.Store, log *slog.Logger) *antispam.Gate {
		return antispam.New(antispam.Options{Now: clk.now, Logger: log, Greylist: &antispam.GreylistOptions{Store: st,
			Delay: time.Minute, Window: time.Hour, PassFor: 24 * time.Hour}})
	})
	rerr, _ := send(t, addr, "bob@remote.test", []string{"alice@example.org", "nobody@example.org", "x@remote.test"}, mxBody)
	if se, ok := rerr["alice@example.org"].(*smtp.SMTPError); !ok || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 7, 1}) || !strings.Contains(se.Message, "60 seconds") {
		t.Fatalf("first attempt: %v", rerr["alice@example.org"])
	}
	if c := smtpCodeOf(rerr["nobody@example.org"]); c != 550 {
		t.Errorf("unknown user: %v, want 550", rerr["nobody@example.org"])
	}
	if c := smtpCodeOf(rerr["x@remote.test"]); c != 554 {
		t.Errorf("relay attempt: %v, want 554", rerr["x@remote.test"])
	}
	clk.add(61 * time.Second)
	rerr, err := send(t, addr, "bob@remote.test", []string{"alice@example.org"}, mxBody)
	if rerr["alice@example.org"] != nil || err != nil {
		t.Fatalf("retry after the delay: %v, DATA %v", rerr["alice@example.org"], err)
	}
	first, pass, found, err := st.GreylistGet(context.Background(), "127.0.0.0/24", "bob@remote.test", "alice@example.org")
	if err != nil || !found || !pass.After(first) {
		t.Errorf("triplet on disk: found=%v first=%v pass=%v err=%v", found, first, pass, err)
	}
	if !strings.Contains(logs.String(), "greylist passed") {
		t.Errorf("no log line for the pass:\n%s", logs)
	}
}

// TestConnectionRateAtGreeting: past the connection rate the client is
// told 421 4.7.0 instead of the greeting and the connection closes.
func TestConnectionRateAtGreeting(t *testing.T) {
	var mu sync.Mutex
	var reasons []string
	addr, _, logs := gateHarness(t, func(_ *sqlstore.Store, log *slog.Logger) *antispam.Gate {
		return antispam.New(antispam.Options{ConnectionsPerMinute: 2, Logger: log,
			OnRefuse: func(r string) { mu.Lock(); reasons = append(reasons, r); mu.Unlock() }})
	})
	greeting := func() string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	rerr, err := send(t, addr, "bob@remote.test", []string{"alice@example.org"}, mxBody)
	if rerr["alice@example.org"] != nil || err != nil {
		t.Fatalf("first message: %v %v", rerr, err)
	}
	if g := greeting(); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("second connection: %q", g)
	}
	if g := greeting(); !strings.HasPrefix(g, "421 4.7.0 ") || !strings.Contains(g, "2 per minute") {
		t.Fatalf("third connection in a minute: %q", g)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 1 || reasons[0] != antispam.ReasonConnectionRate {
		t.Errorf("refusals: %v", reasons)
	}
	if !strings.Contains(logs.String(), "reason=rate_connections remote=127.0.0.1") {
		t.Errorf("no log line for the refusal:\n%s", logs)
	}
}
