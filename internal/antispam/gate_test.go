package antispam

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/queue/queuetest"
)

// clock is a settable time for the limits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)} }

func loopbackResolver(addr string) *net.Resolver {
	var d net.Dialer
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
}

func TestDNSBLQueryNames(t *testing.T) {
	// RFC 5782 §2.1 and §2.4 examples.
	cases := map[string]string{
		"192.0.2.99":                "99.2.0.192.bl.test.",
		"::ffff:192.0.2.99":         "99.2.0.192.bl.test.",
		"2001:db8:1:2:3:4:567:89ab": "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test.",
	}
	for in, want := range cases {
		if got := dnsblQuery(netip.MustParseAddr(in), "bl.test."); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

func TestDNSBLListingRefusesAtRcpt(t *testing.T) {
	dns := queuetest.StartDNS(t)
	dns.Add(t,
		"2.2.0.192.zen.test. A 127.0.0.2",
		`2.2.0.192.zen.test. TXT "Listed in zen, see https://zen.test/q?ip=192.0.2.2"`,
		"3.2.0.192.zen.test. A 127.255.255.254", // "you query through a public resolver"
		"4.2.0.192.zen.test. A 10.0.0.1",        // an NXDOMAIN-rewriting resolver
		"5.2.0.192.other.test. A 127.0.0.4",
	)
	var reasons []string
	g := New(Options{DNSBL: []string{"zen.test", "other.test"}, Resolver: loopbackResolver(dns.Addr),
		DNSBLTimeout: 2 * time.Second, OnRefuse: func(r string) { reasons = append(reasons, r) }})
	ctx := context.Background()
	rcpt := func(ip string) *Refusal {
		c, r := g.Connect(netip.MustParseAddr(ip))
		if r != nil {
			t.Fatalf("connect %s: %v", ip, r)
		}
		return c.Rcpt(ctx, "a@ext.test", "b@example.test")
	}
	r := rcpt("192.0.2.2")
	if r == nil || r.Code != 554 || r.Enhanced != [3]int{5, 7, 1} || !strings.Contains(r.Text, "zen.test: Listed in zen, see https://zen.test/q?ip=192.0.2.2") {
		t.Fatalf("listed address: %v", r)
	}
	if r := rcpt("192.0.2.5"); r == nil || !strings.Contains(r.Text, "other.test") {
		t.Fatalf("address listed in the second zone: %v", r)
	}
	for _, ip := range []string{"192.0.2.3", "192.0.2.4", "192.0.2.9"} {
		if r := rcpt(ip); r != nil {
			t.Errorf("%s refused: %v", ip, r)
		}
	}
	if fmt.Sprint(reasons) != "[dnsbl dnsbl]" {
		t.Errorf("refusals counted: %v", reasons)
	}
	// The answer is cached: a second connection asks nothing.
	dns.Add(t, "9.2.0.192.zen.test. A 127.0.0.2")
	if r := rcpt("192.0.2.9"); r != nil {
		t.Errorf("cached clean answer not used: %v", r)
	}
}

// stuckResolver never answers: the lookup must give up at its timeout
// and let the client through.
type stuckResolver struct{}

func (stuckResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (stuckResolver) LookupTXT(ctx context.Context, _ string) ([]string, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestDNSBLFailureNeverRejects(t *testing.T) {
	g := New(Options{DNSBL: []string{"zen.test"}, Resolver: stuckResolver{}, DNSBLTimeout: 100 * time.Millisecond})
	c, _ := g.Connect(netip.MustParseAddr("192.0.2.2"))
	start := time.Now()
	if r := c.Rcpt(context.Background(), "a@ext.test", "b@example.test"); r != nil {
		t.Fatalf("refused on a lookup failure: %v", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the lookup took %v past its timeout", d)
	}
}

func TestTrustedSkipsEveryCheck(t *testing.T) {
	g := New(Options{DNSBL: []string{"zen.test"}, Resolver: stuckResolver{},
		Trusted:              []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		ConnectionsPerMinute: 1, MessagesPerHour: 1, RecipientsPerHour: 1})
	for range 3 {
		for _, ip := range []string{"127.0.0.1", "2001:db8::1"} {
			c, r := g.Connect(netip.MustParseAddr(ip))
			if r != nil || c.Mail("a@ext.test") != nil || c.Rcpt(context.Background(), "a@ext.test", "b@x.test") != nil {
				t.Fatalf("trusted %s limited", ip)
			}
		}
	}
}

func TestRateLimits(t *testing.T) {
	clk := newClock()
	var reasons []string
	g := New(Options{ConnectionsPerMinute: 3, MessagesPerHour: 2, RecipientsPerHour: 3, SenderDomainPerHour: 3,
		Now: clk.now, OnRefuse: func(r string) { reasons = append(reasons, r) }})
	ip := netip.MustParseAddr("192.0.2.7")
	for i := range 3 {
		if _, r := g.Connect(ip); r != nil {
			t.Fatalf("connection %d refused: %v", i+1, r)
		}
	}
	if _, r := g.Connect(ip); r == nil || r.Code != 421 || r.Enhanced != [3]int{4, 7, 0} || !strings.Contains(r.Text, "3 per minute") {
		t.Fatalf("4th connection in a minute: %v", r)
	}
	if _, r := g.Connect(netip.MustParseAddr("192.0.2.8")); r != nil {
		t.Fatalf("another address limited too: %v", r)
	}
	clk.add(20 * time.Second) // a third of a minute: one connection back
	c, r := g.Connect(ip)
	if r != nil {
		t.Fatalf("no refill after 20s: %v", r)
	}

	if c.Mail("a@one.test") != nil || c.Mail("") != nil {
		t.Fatal("messages within the limit refused")
	}
	if r := c.Mail("a@one.test"); r == nil || r.Code != 451 || r.Enhanced != [3]int{4, 7, 1} || !strings.Contains(r.Text, "messages from your address") {
		t.Fatalf("3rd message in an hour: %v", r)
	}
	for i := range 3 {
		if r := c.Rcpt(context.Background(), "a@one.test", "b@x.test"); r != nil {
			t.Fatalf("recipient %d refused: %v", i+1, r)
		}
	}
	if r := c.Rcpt(context.Background(), "a@one.test", "b@x.test"); r == nil || !strings.Contains(r.Text, "recipients") {
		t.Fatalf("4th recipient: %v", r)
	}

	// The sender domain counts across client addresses.
	for i := range 3 {
		c, _ := g.Connect(netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", i+1)))
		if r := c.Mail("x@Bulk.test"); r != nil {
			t.Fatalf("domain message %d: %v", i+1, r)
		}
	}
	c2, _ := g.Connect(netip.MustParseAddr("198.51.100.99"))
	if r := c2.Mail("y@bulk.TEST"); r == nil || !strings.Contains(r.Text, "sender domain bulk.test") {
		t.Fatalf("4th message of the domain: %v", r)
	}
	want := "[rate_connections rate_messages rate_recipients rate_sender_domain]"
	if fmt.Sprint(reasons) != want {
		t.Errorf("refusals: %v, want %s", reasons, want)
	}
}

func TestIPv6GroupedBy64(t *testing.T) {
	g := New(Options{ConnectionsPerMinute: 2, Now: newClock().now})
	g.Connect(netip.MustParseAddr("2001:db8:1:2::1"))
	g.Connect(netip.MustParseAddr("2001:db8:1:2::ffff"))
	if _, r := g.Connect(netip.MustParseAddr("2001:db8:1:2:abcd::9")); r == nil {
		t.Fatal("a third address of the same /64 was not limited")
	}
	if _, r := g.Connect(netip.MustParseAddr("2001:db8:1:3::1")); r != nil {
		t.Fatalf("the next /64 shares the limit: %v", r)
	}
}

func TestLimitMemoryBounded(t *testing.T) {
	s := newBucketSet[netip.Prefix](5, time.Minute, 100)
	now := newClock().now()
	for i := range 1000 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
		s.take(clientKey(ip), now)
	}
	if n := s.len(); n > 100 {
		t.Fatalf("%d keys held, cap 100", n)
	}
	// The most recent key is still counted.
	last := clientKey(netip.AddrFrom4([4]byte{10, 3, 231, 1}))
	for range 4 {
		s.take(last, now)
	}
	if s.take(last, now) {
		t.Fatal("the most recent key was forgotten")
	}
}

// memGreylist is a GreylistStore in memory.
type memGreylist struct {
	mu   sync.Mutex
	rows map[[3]string][2]time.Time
	puts int
}

func (m *memGreylist) GreylistGet(_ context.Context, n, s, r string) (time.Time, time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.rows[[3]string{n, s, r}]
	return v[0], v[1], ok, nil
}

func (m *memGreylist) GreylistPut(_ context.Context, n, s, r string, first, pass time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rows == nil {
		m.rows = map[[3]string][2]time.Time{}
	}
	m.rows[[3]string{n, s, r}] = [2]time.Time{first, pass}
	m.puts++
	return nil
}

func (m *memGreylist) GreylistPassed(_ context.Context, network string, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, v := range m.rows {
		if k[0] == network && v[1].After(now) {
			n++
		}
	}
	return n, nil
}

func (m *memGreylist) GreylistPrune(_ context.Context, stale, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, v := range m.rows {
		if (v[1].IsZero() && v[0].Before(stale)) || (!v[1].IsZero() && v[1].Before(now)) {
			delete(m.rows, k)
			n++
		}
	}
	return n, nil
}

func TestGreylisting(t *testing.T) {
	clk := newClock()
	st := &memGreylist{}
	g := New(Options{Now: clk.now, Greylist: &GreylistOptions{Store: st,
		Delay: 5 * time.Minute, Window: 24 * time.Hour, PassFor: 36 * 24 * time.Hour}})
	ctx := context.Background()
	try := func(ip, from, to string) *Refusal {
		c, _ := g.Connect(netip.MustParseAddr(ip))
		return c.Greylist(ctx, from, to)
	}
	r := try("192.0.2.10", "news-1234@list.test", "bob@example.test")
	if r == nil || r.Code != 451 || r.Enhanced != [3]int{4, 7, 1} || !strings.Contains(r.Text, "300 seconds") {
		t.Fatalf("first attempt: %v", r)
	}
	clk.add(2 * time.Minute)
	if r := try("192.0.2.10", "news-1234@list.test", "bob@example.test"); r == nil || !strings.Contains(r.Text, "180 seconds") {
		t.Fatalf("retry too early: %v", r)
	}
	clk.add(4 * time.Minute)
	// Another host of the same /24, a new VERP number: the same triplet.
	if r := try("192.0.2.77", "news-1299@list.test", "Bob@example.test"); r != nil {
		t.Fatalf("retry after the delay: %v", r)
	}
	if r := try("192.0.2.10", "other@list.test", "bob@example.test"); r == nil {
		t.Fatal("a new sender passed without waiting")
	}
	clk.add(30 * 24 * time.Hour)
	if r := try("192.0.2.10", "news-5@list.test", "bob@example.test"); r != nil {
		t.Fatalf("a passed triplet within 36 days: %v", r)
	}
	// A triplet that never came back within the window starts over.
	clk.add(25 * time.Hour)
	if r := try("192.0.2.10", "other@list.test", "bob@example.test"); r == nil || !strings.Contains(r.Text, "300 seconds") {
		t.Fatalf("retry after the window: %v", r)
	}
	// The sweep dropped nothing still needed, and stale rows go.
	clk.add(80 * 24 * time.Hour)
	try("198.51.100.1", "x@y.test", "bob@example.test")
	if len(st.rows) != 1 {
		t.Errorf("%d rows after the sweep, want only the fresh one", len(st.rows))
	}
}

// TestGreylistAutoPass: a client network with enough passed triplets no
// longer waits for new ones; another network still does.
func TestGreylistAutoPass(t *testing.T) {
	clk := newClock()
	g := New(Options{Now: clk.now, Greylist: &GreylistOptions{Store: &memGreylist{},
		Delay: time.Minute, Window: time.Hour, PassFor: 24 * time.Hour, AutoPass: 2}})
	ctx := context.Background()
	c, _ := g.Connect(netip.MustParseAddr("192.0.2.1"))
	for _, from := range []string{"a@x.test", "b@x.test"} {
		if c.Greylist(ctx, from, "bob@example.test") == nil {
			t.Fatalf("%s passed at once before the network was known", from)
		}
	}
	clk.add(2 * time.Minute)
	for _, from := range []string{"a@x.test", "b@x.test"} {
		if r := c.Greylist(ctx, from, "bob@example.test"); r != nil {
			t.Fatalf("%s after the wait: %v", from, r)
		}
	}
	if r := c.Greylist(ctx, "new@other.test", "carol@example.test"); r != nil {
		t.Fatalf("a known network waited for a new triplet: %v", r)
	}
	other, _ := g.Connect(netip.MustParseAddr("198.51.100.1"))
	if other.Greylist(ctx, "new@other.test", "carol@example.test") == nil {
		t.Fatal("an unknown network passed at once")
	}
}

func TestNormalizeSender(t *testing.T) {
	cases := map[string]string{
		"prvs=1234abcd=User@Example.test": "user@example.test",
		"bounce-42-17@list.test":          "bounce-#-#@list.test",
		"":                                "",
		"plain":                           "plain",
	}
	for in, want := range cases {
		if got := normalizeSender(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func FuzzGateInput(f *testing.F) {
	f.Add("Listed: see http://x.test/?ip=1.2.3.4", "prvs=0a=u@x.test")
	f.Add("\x00\r\n\xff€", "a1b22c333@d")
	f.Fuzz(func(t *testing.T, txt, sender string) {
		r := cleanReason(txt)
		if len(r) > maxReasonBytes+3 || strings.ContainsAny(r, "\r\n\x00") {
			t.Fatalf("reason %q not bounded or not one line", r)
		}
		// Invalid UTF-8 lower-cases to U+FFFD: up to three bytes for one.
		if n := normalizeSender(sender); len(n) > 3*len(sender)+1 {
			t.Fatalf("normalized sender grew: %q -> %q", sender, n)
		}
	})
}

// TestRefusalLogsBounded: a flood is counted in full but logged in brief:
// one line a minute per client refused at connect, one per reason and
// connection for refused commands.
func TestRefusalLogsBounded(t *testing.T) {
	clk := newClock()
	var logs strings.Builder
	refusals := 0
	g := New(Options{ConnectionsPerMinute: 1, MessagesPerHour: 1, Now: clk.now,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		OnRefuse: func(string) { refusals++ }})
	ip := netip.MustParseAddr("192.0.2.1")
	c, _ := g.Connect(ip)
	for range 100 {
		g.Connect(ip)
	}
	c.Mail("a@x.test")
	for range 100 {
		c.Mail("a@x.test")
	}
	clk.add(time.Minute)
	g.Connect(ip)
	g.Connect(ip)
	if refusals != 201 {
		t.Errorf("%d refusals counted, want 201", refusals)
	}
	if n := strings.Count(logs.String(), "reason=rate_connections"); n != 2 {
		t.Errorf("%d lines for the connection flood over two minutes, want 2", n)
	}
	if n := strings.Count(logs.String(), "reason=rate_messages"); n != 1 {
		t.Errorf("%d lines for 100 refused MAILs on one connection, want 1", n)
	}
}

// BenchmarkGateChecks: the cost of the limits on one message with one
// recipient from one of many client addresses (no blocklist, no greylist).
func BenchmarkGateChecks(b *testing.B) {
	g := New(Options{ConnectionsPerMinute: 120, MessagesPerHour: 3600, RecipientsPerHour: 10000, SenderDomainPerHour: 10000})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		c, _ := g.Connect(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		c.Mail("a@ext.test")
		c.Rcpt(ctx, "a@ext.test", "b@example.test")
	}
}
