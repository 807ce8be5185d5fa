package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postern/internal/queue/queuetest"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeLocal takes bounces for addresses in local.test and queues the
// others, as the delivery pipeline does.
type fakeLocal struct {
	st   *sqlstore.Store
	now  func() time.Time
	mu   sync.Mutex
	got  map[string][][]byte
	fail bool
}

func (l *fakeLocal) Bounce(ctx context.Context, rcpt string, body []byte) (string, error) {
	if !strings.HasSuffix(rcpt, "@local.test") {
		out, err := l.st.Deliver(ctx, store.Delivery{Blob: store.NewBlob{Body: store.BytesBody(body)}, InternalDate: l.now(),
			Queue: []store.QueuedCopy{{NewQueueMessage: store.NewQueueMessage{IsDSN: true, Recipients: []store.NewQueueRecipient{{Rcpt: rcpt}}}}}})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("queue %d", out.QueueIDs[0]), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.got == nil {
		l.got = map[string][][]byte{}
	}
	l.got[rcpt] = append(l.got[rcpt], body)
	return "mailbox of " + rcpt, nil
}

func (l *fakeLocal) bounces(rcpt string) [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.got[rcpt]
}

// syncBuffer is a log sink safe for the workers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	t     testing.TB
	st    *sqlstore.Store
	q     *Queue
	clock *fakeClock
	dns   *queuetest.DNS
	local *fakeLocal
	logs  *syncBuffer
}

// newFixture builds a queue whose MX port is the peer's; the DNS server
// knows remote.test with the peer as its MX.
func newFixture(t testing.TB, peer *queuetest.Peer, mutate func(*Options)) *fixture {
	t.Helper()
	st, err := sqlstore.OpenDir(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := queuetest.StartDNS(t)
	d.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1")
	opts := Options{
		Hostname: "postern.local.test", Port: 1, RelayTLS: "starttls",
		FirstRetry: 5 * time.Minute, MaxRetry: 2 * time.Hour, MaxAge: 120 * time.Hour, DelayWarning: 4 * time.Hour,
		MaxPerDomain: 4, MaxConnections: 20, ConnectTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second,
	}
	if peer != nil {
		opts.Port = peer.Port
		opts.RootCAs = peer.Roots
	}
	if mutate != nil {
		mutate(&opts)
	}
	f := &fixture{t: t, st: st, clock: &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, dns: d, logs: &syncBuffer{}}
	f.local = &fakeLocal{st: st, now: f.clock.now}
	logger := slog.New(slog.NewTextHandler(f.logs, nil))
	f.q = New(st, f.local, NewResolver([]string{d.Addr}), opts, logger, f.clock.now)
	t.Cleanup(f.q.Close)
	return f
}

const testBody = "From: a@local.test\r\nTo: b@remote.test\r\nSubject: hello\r\nMessage-ID: <1@local.test>\r\n\r\nHello there.\r\n"

func (f *fixture) enqueue(from, body string, to ...string) int64 {
	f.t.Helper()
	// The way the pipeline queues: behind a Return-Path line the queued
	// copy skips.
	rp := "Return-Path: <" + from + ">\r\n"
	m := store.NewQueueMessage{Sender: from}
	for _, r := range to {
		m.Recipients = append(m.Recipients, store.NewQueueRecipient{Rcpt: r})
	}
	out, err := f.st.Deliver(context.Background(), store.Delivery{Blob: store.NewBlob{Body: store.BytesBody(rp + body)},
		InternalDate: f.clock.now(), Queue: []store.QueuedCopy{{Skip: int64(len(rp)), NewQueueMessage: m}}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.q.Wake()
	return out.QueueIDs[0]
}

func (f *fixture) flush() { f.q.Flush(context.Background()) }

func (f *fixture) entry(id int64) (store.QueueMessage, bool) {
	m, err := f.st.QueueMessage(context.Background(), id)
	return m, err == nil
}

func (f *fixture) wantLog(substr ...string) {
	f.t.Helper()
	logs := f.logs.String()
	for _, s := range substr {
		if !strings.Contains(logs, s) {
			f.t.Fatalf("log lacks %q:\n%s", s, logs)
		}
	}
}

func TestRelayedOverVerifiedTLSSharingAConnection(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(t)
	f := newFixture(t, peer, nil)
	id := f.enqueue("a@local.test", testBody, "b@remote.test", "c@remote.test")
	f.flush()
	mails := peer.Mails()
	if len(mails) != 1 || len(mails[0].To) != 2 || !mails[0].TLS || mails[0].From != "a@local.test" {
		t.Fatalf("peer got %+v", mails)
	}
	if !bytes.Equal(mails[0].Body, []byte(testBody)) {
		t.Fatalf("body changed in transit:\n%q", mails[0].Body)
	}
	if _, ok := f.entry(id); ok {
		t.Fatal("delivered entry still queued")
	}
	f.wantLog("msg=relayed", "queue_id="+FormatID(id), "tls=true", "tls_verified=true", "peer=mx.remote.test[127.0.0.1:")
	// The next message reuses the idle connection.
	f.enqueue("a@local.test", testBody, "d@remote.test")
	f.flush()
	if n := peer.Sessions(); n != 1 {
		t.Fatalf("peer saw %d sessions, want 1 (connection reuse)", n)
	}
}

func TestUnverifiedAndPlaintextPeers(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "other.name"}).Start(t)
	f := newFixture(t, peer, nil)
	f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 || !m[0].TLS {
		t.Fatalf("peer got %+v", m)
	}
	f.wantLog("tls=true", "tls_verified=false")

	plain := (&queuetest.Peer{Hostname: "mx.remote.test", NoSTARTTLS: true}).Start(t)
	g := newFixture(t, plain, nil)
	g.enqueue("a@local.test", testBody, "b@remote.test")
	g.flush()
	if m := plain.Mails(); len(m) != 1 || m[0].TLS {
		t.Fatalf("plain peer got %+v", m)
	}
	g.wantLog("msg=relayed", "tls=false")
}

func TestPerRecipientReplies(t *testing.T) {
	peer := (&queuetest.Peer{Rcpt: func(to string) error {
		switch {
		case strings.HasPrefix(to, "gone"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case strings.HasPrefix(to, "full"):
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
		}
		return nil
	}}).Start(t)
	f := newFixture(t, peer, nil)
	id := f.enqueue("a@local.test", testBody, "ok@remote.test", "gone@remote.test", "full@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 || len(m[0].To) != 1 || m[0].To[0] != "ok@remote.test" {
		t.Fatalf("peer got %+v", m)
	}
	e, ok := f.entry(id)
	if !ok {
		t.Fatal("entry gone while a recipient is deferred")
	}
	for _, r := range e.Recipients {
		want := map[string]store.QueueStatus{"ok@remote.test": store.QueueDelivered, "gone@remote.test": store.QueueFailed, "full@remote.test": store.QueuePending}[r.Rcpt]
		if r.Status != want {
			t.Errorf("%s: %s, want %s (%s)", r.Rcpt, r.Status, want, r.LastError)
		}
		if r.Rcpt == "full@remote.test" && !r.NextAttempt.Equal(f.clock.now().Add(5*time.Minute).Truncate(time.Second)) {
			t.Errorf("next attempt %v, want now+5m", r.NextAttempt)
		}
		// The attempt's connection is kept with the recipient: the peer and
		// how it was encrypted (STARTTLS to a self-signed test peer).
		if !strings.HasPrefix(r.LastPeer, "mx.remote.test[") || r.LastTLS != "tls" {
			t.Errorf("%s: last peer %q tls %q", r.Rcpt, r.LastPeer, r.LastTLS)
		}
	}
	b := f.local.bounces("a@local.test")
	if len(b) != 1 {
		t.Fatalf("%d bounces, want 1", len(b))
	}
	dsn := string(b[0])
	for _, want := range []string{"multipart/report; report-type=delivery-status", "Content-Type: message/delivery-status",
		"Content-Type: text/rfc822-headers", "Final-Recipient: rfc822; gone@remote.test", "Action: failed",
		"Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1 no such user", "Subject: hello", "Remote-MTA: dns; mx.remote.test"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN lacks %q", want)
		}
	}
	if strings.Contains(dsn, "ok@remote.test") || strings.Contains(dsn, "Final-Recipient: rfc822; full@") {
		t.Error("DSN names recipients that did not fail")
	}
	f.wantLog("msg=bounced", "msg=deferred", "reason=\"452 4.2.2 mailbox full\"")
}

func TestRetryScheduleDelayWarningAndExpiry(t *testing.T) {
	attempts := 0
	var mu sync.Mutex
	peer := (&queuetest.Peer{Rcpt: func(string) error {
		mu.Lock()
		attempts++
		mu.Unlock()
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}}).Start(t)
	f := newFixture(t, peer, nil)
	id := f.enqueue("a@local.test", testBody, "b@remote.test")
	count := func() int { mu.Lock(); defer mu.Unlock(); return attempts }
	// Attempts at 0, 5m, 15m, 35m, 75m, 155m, then at 4h when the delay
	// DSN is due (not at the backoff's 275m), then every 2h (the cap).
	var at []time.Duration
	var warnedAt time.Duration
	start := f.clock.now()
	for f.clock.now().Sub(start) < 10*time.Hour {
		before := count()
		f.flush()
		if count() > before {
			at = append(at, f.clock.now().Sub(start))
		}
		if warnedAt == 0 && len(f.local.bounces("a@local.test")) > 0 {
			warnedAt = f.clock.now().Sub(start)
		}
		f.clock.advance(time.Minute)
	}
	if warnedAt != 4*time.Hour {
		t.Errorf("delay DSN sent at %v, want when due at 4h", warnedAt)
	}
	want := []time.Duration{0, 5 * time.Minute, 15 * time.Minute, 35 * time.Minute, 75 * time.Minute, 155 * time.Minute, 240 * time.Minute, 360 * time.Minute, 480 * time.Minute}
	if fmt.Sprint(at) != fmt.Sprint(want) {
		t.Fatalf("attempts at %v, want %v", at, want)
	}
	b := f.local.bounces("a@local.test")
	if len(b) != 1 || !strings.Contains(string(b[0]), "Action: delayed") || !strings.Contains(string(b[0]), "Will-Retry-Until:") {
		t.Fatalf("want one delay DSN, got %d: %s", len(b), b)
	}
	// Past max_age the next attempt gives up and bounces.
	f.clock.advance(120 * time.Hour)
	f.flush()
	b = f.local.bounces("a@local.test")
	if len(b) != 2 || !strings.Contains(string(b[1]), "Action: failed") || !strings.Contains(string(b[1]), "Status: 4.4.7") {
		t.Fatalf("want a failure DSN after expiry, got %d", len(b))
	}
	if _, ok := f.entry(id); ok {
		t.Fatal("expired entry still queued")
	}
}

func TestNoBounceToNullSenderOrOfABounce(t *testing.T) {
	peer := (&queuetest.Peer{Rcpt: func(string) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no"}
	}}).Start(t)
	f := newFixture(t, peer, nil)
	f.enqueue("", testBody, "b@remote.test")
	f.flush()
	// A remote sender's bounce is queued; when it fails, nothing more.
	f.enqueue("x@remote.test", testBody, "b@remote.test")
	f.flush() // the bounce to x@remote.test is queued...
	f.flush() // ...and fails too: dropped
	list, err := f.st.QueueList(context.Background())
	if err != nil || len(list) != 0 {
		t.Fatalf("queue not empty: %+v %v", list, err)
	}
	if n := strings.Count(f.logs.String(), "msg=\"dsn sent\""); n != 1 {
		t.Fatalf("%d DSNs queued, want 1\n%s", n, f.logs)
	}
	if n := strings.Count(f.logs.String(), "msg=\"dsn suppressed\""); n != 2 {
		t.Fatalf("%d DSNs suppressed, want 2", n)
	}
}

func TestDNSOutcomes(t *testing.T) {
	peer := (&queuetest.Peer{}).Start(t)
	f := newFixture(t, peer, nil)
	f.dns.Add(t, "nullmx.test. MX 0 .", "implicit.test. A 127.0.0.1", "nomail.test. TXT \"v=spf1 -all\"")
	f.enqueue("a@local.test", testBody, "x@nullmx.test", "y@implicit.test", "z@nowhere.test", "w@nomail.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 || m[0].To[0] != "y@implicit.test" {
		t.Fatalf("peer got %+v", m)
	}
	dsn := string(f.local.bounces("a@local.test")[0])
	for _, want := range []string{"Status: 5.1.10", "null MX", "x@nullmx.test", "Status: 5.1.2", "z@nowhere.test", "w@nomail.test"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN lacks %q", want)
		}
	}
	if peer.Sessions() != 1 {
		t.Errorf("%d sessions", peer.Sessions())
	}
}

func TestMXPreferenceFallback(t *testing.T) {
	peer := (&queuetest.Peer{}).Start(t)
	f := newFixture(t, peer, nil)
	// The preferred MX is an address where nothing listens.
	f.dns.Add(t, "fallback.test. MX 20 good.fallback.test.", "fallback.test. MX 10 dead.fallback.test.",
		"dead.fallback.test. A 127.0.0.2", "good.fallback.test. A 127.0.0.1")
	f.enqueue("a@local.test", testBody, "b@fallback.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 {
		t.Fatalf("peer got %+v\n%s", m, f.logs)
	}
}

func TestSMTPUTF8NeededButMissing(t *testing.T) {
	peer := (&queuetest.Peer{NoUTF8: true}).Start(t)
	f := newFixture(t, peer, nil)
	f.enqueue("a@local.test", "Subject: caf\xc3\xa9\r\n\r\nx\r\n", "b@remote.test")
	f.flush()
	if len(peer.Mails()) != 0 {
		t.Fatal("sent a UTF-8 message to a peer without SMTPUTF8")
	}
	dsn := string(f.local.bounces("a@local.test")[0])
	if !strings.Contains(dsn, "Status: 5.6.7") || !strings.Contains(dsn, "does not support SMTPUTF8") {
		t.Fatalf("DSN: %s", dsn)
	}
	// With SMTPUTF8 at the peer it goes, declared.
	good := (&queuetest.Peer{}).Start(t)
	g := newFixture(t, good, nil)
	g.enqueue("a@local.test", "Subject: caf\xc3\xa9\r\n\r\nx\r\n", "b@remote.test")
	g.flush()
	if m := good.Mails(); len(m) != 1 || !m[0].UTF8 {
		t.Fatalf("peer got %+v", m)
	}
}

func TestDroppedAndStalledConnectionsAreDeferred(t *testing.T) {
	peer := (&queuetest.Peer{DropInData: true}).Start(t)
	f := newFixture(t, peer, nil)
	id := f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	e, ok := f.entry(id)
	if !ok || e.Recipients[0].Status != store.QueuePending || e.Recipients[0].Attempts != 1 {
		t.Fatalf("after a drop: %+v", e)
	}
	f.wantLog("msg=deferred")

	slow := (&queuetest.Peer{Stall: 2 * time.Second}).Start(t)
	g := newFixture(t, slow, func(o *Options) { o.CommandTimeout = 300 * time.Millisecond })
	id = g.enqueue("a@local.test", testBody, "b@remote.test")
	g.flush()
	if e, ok := g.entry(id); !ok || e.Recipients[0].Status != store.QueuePending {
		t.Fatalf("after a stall: %+v", e)
	}
	g.wantLog("msg=deferred", "timeout")
}

func TestLoopDetection(t *testing.T) {
	peer := (&queuetest.Peer{}).Start(t)
	f := newFixture(t, peer, nil)
	body := strings.Repeat("Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\r\n", maxHops+1) + testBody
	f.enqueue("a@local.test", body, "b@remote.test")
	f.flush()
	if len(peer.Mails()) != 0 || peer.Sessions() != 0 {
		t.Fatal("a looping message was sent")
	}
	if b := f.local.bounces("a@local.test"); len(b) != 1 || !strings.Contains(string(b[0]), "Status: 5.4.6") {
		t.Fatalf("bounces %q", b)
	}
}

func TestSmarthostWithAuth(t *testing.T) {
	relay := (&queuetest.Peer{Hostname: "relay.test", Users: map[string]string{"me": "secret"}}).Start(t)
	f := newFixture(t, relay, func(o *Options) {
		o.RelayHost = "relay.test:" + fmt.Sprint(relay.Port)
		o.RelayUsername, o.RelayPassword = "me", "secret"
	})
	f.dns.Add(t, "relay.test. A 127.0.0.1")
	// Recipients anywhere go to the relay, no MX lookup.
	f.enqueue("a@local.test", testBody, "b@remote.test", "c@elsewhere.test")
	f.flush()
	m := relay.Mails()
	if len(m) != 1 || len(m[0].To) != 2 || m[0].Auth != "me" || !m[0].TLS {
		t.Fatalf("relay got %+v\n%s", m, f.logs)
	}

	implicit := (&queuetest.Peer{Hostname: "localhost", Implicit: true}).Start(t)
	g := newFixture(t, implicit, func(o *Options) {
		o.RelayHost = "localhost:" + fmt.Sprint(implicit.Port)
		o.RelayTLS = "implicit"
	})
	g.enqueue("a@local.test", testBody, "b@remote.test")
	g.flush()
	if m := implicit.Mails(); len(m) != 1 {
		t.Fatalf("implicit-TLS relay got %+v\n%s", m, g.logs)
	}
}

func TestRelayRefusesWrongPassword(t *testing.T) {
	relay := (&queuetest.Peer{Hostname: "localhost", Users: map[string]string{"me": "secret"}}).Start(t)
	f := newFixture(t, relay, func(o *Options) {
		o.RelayHost = "localhost:" + fmt.Sprint(relay.Port)
		o.RelayUsername, o.RelayPassword = "me", "wrong"
	})
	id := f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	if e, ok := f.entry(id); !ok || e.Recipients[0].Status != store.QueuePending || !strings.Contains(e.Recipients[0].LastError, "relay AUTH") {
		t.Fatalf("entry %+v", e)
	}
}

func TestConcurrencyCapPerDomain(t *testing.T) {
	var mu sync.Mutex
	cur, peak := 0, 0
	peer := (&queuetest.Peer{Data: func(queuetest.Mail) error {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		cur--
		mu.Unlock()
		return nil
	}}).Start(t)
	f := newFixture(t, peer, func(o *Options) { o.MaxPerDomain = 2 })
	for range 12 {
		f.enqueue("a@local.test", testBody, "b@remote.test")
	}
	f.flush()
	if n := len(peer.Mails()); n != 12 {
		t.Fatalf("peer got %d", n)
	}
	if peak != 2 || peer.Sessions() > 2 {
		t.Fatalf("peak concurrency %d over %d connections, want 2 over at most 2", peak, peer.Sessions())
	}
}

func TestEightBitNeeds8BITMIME(t *testing.T) {
	got := make(chan []string, 1)
	port := rawPeerNo8bit(t, got)
	f := newFixture(t, nil, func(o *Options) { o.Port = port })
	f.enqueue("a@local.test", "Subject: x\r\n\r\nna\xefve body\r\n", "b@remote.test")
	f.flush()
	b := f.local.bounces("a@local.test")
	if len(b) != 1 || !strings.Contains(string(b[0]), "Status: 5.6.3") || !strings.Contains(string(b[0]), "8BITMIME") {
		t.Fatalf("bounces %q", b)
	}
	select {
	case cmds := <-got:
		t.Fatalf("sent anyway: %q", cmds)
	default:
	}
}

// TestResolverErrorNamesConfiguredServers: with [dns] servers set, a
// lookup failure names those servers, not the system resolver it never
// asked (issue 13).
func TestResolverErrorNamesConfiguredServers(t *testing.T) {
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // nothing answers there now
	server := l.LocalAddr().String()
	r := NewResolver([]string{server})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = r.LookupMX(ctx, "example.invalid.test")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || dnsErr.Server != server || !strings.Contains(err.Error(), server) {
		t.Errorf("lookup error %v: want it to name %s", err, server)
	}
}

// TestMXConcurrencySlowStart: 200 messages to 20 domains that share one
// MX host, which takes at most 3 connections at once and answers 421
// beyond: the queue caps its connections to the host (slow start, then
// the cap it learnt), and a message refused while others are open waits
// for one instead of the retry backoff, so all arrive in one Flush (issue
// 13).
func TestMXConcurrencySlowStart(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test", MaxConcurrent: 3}).Start(t)
	f := newFixture(t, peer, func(o *Options) { o.MaxPerDomain = 10; o.MaxConnections = 50 })
	for d := range 20 {
		f.dns.Add(t, fmt.Sprintf("d%d.test. MX 10 mx.remote.test.", d))
	}
	for i := range 200 {
		f.enqueue("a@local.test", testBody, fmt.Sprintf("user%d@d%d.test", i, i%20))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for round := 0; round < 20 && len(peer.Mails()) < 200 && ctx.Err() == nil; round++ {
		f.q.Flush(ctx) // no clock move: a message sent to the backoff would stay
	}
	peak, refused := peer.Concurrency()
	if n := len(peer.Mails()); n != 200 {
		t.Fatalf("%d of 200 messages arrived without a retry (peak %d connections, %d refused)", n, peak, refused)
	}
	if peak > 3 {
		t.Errorf("peer saw %d connections at once", peak)
	}
	t.Logf("peak %d connections, %d refused, %d sessions", peak, refused, peer.Sessions())
}
