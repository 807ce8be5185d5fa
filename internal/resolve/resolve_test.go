package resolve

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"postern/internal/queue/queuetest"
)

func TestLookupAnswersAndNotFound(t *testing.T) {
	d := queuetest.StartDNS(t)
	d.Add(t,
		`example.test. 300 TXT "v=spf1 " "ip4:192.0.2.1 -all"`,
		`example.test. 300 MX 10 mx.example.test.`,
		`mx.example.test. 300 A 192.0.2.1`,
		`mx.example.test. 300 AAAA 2001:db8::1`,
		`1.2.0.192.in-addr.arpa. 300 PTR mx.example.test.`,
	)
	r := New(Options{Servers: []string{d.Addr}})
	ctx := context.Background()

	txt, err := r.LookupTXT(ctx, "Example.Test")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 ip4:192.0.2.1 -all" {
		t.Fatalf("TXT = %q, %v; want the strings joined", txt, err)
	}
	mx, err := r.LookupMX(ctx, "example.test")
	if err != nil || len(mx) != 1 || mx[0].Host != "mx.example.test." || mx[0].Pref != 10 {
		t.Fatalf("MX = %v, %v", mx, err)
	}
	ips, err := r.LookupIPAddr(ctx, "mx.example.test")
	if err != nil || len(ips) != 2 {
		t.Fatalf("IPs = %v, %v; want the A and the AAAA", ips, err)
	}
	names, err := r.LookupAddr(ctx, "192.0.2.1")
	if err != nil || len(names) != 1 || names[0] != "mx.example.test." {
		t.Fatalf("PTR = %v, %v", names, err)
	}

	_, err = r.LookupTXT(ctx, "nowhere.test")
	if !IsNotFound(err) || IsTemporary(err) {
		t.Errorf("NXDOMAIN: err %v; want not found, not temporary", err)
	}
	_, err = r.LookupTXT(ctx, "mx.example.test") // the name exists, no TXT
	if !IsNotFound(err) || IsTemporary(err) {
		t.Errorf("no data: err %v; want not found, not temporary", err)
	}
	if _, err := r.LookupTXT(ctx, "bad..name"); !IsNotFound(err) {
		t.Errorf("invalid name: err %v; want not found", err)
	}
}

func TestCacheHonoursTTLAndBound(t *testing.T) {
	d := queuetest.StartDNS(t)
	d.Add(t, `a.test. 60 TXT "one"`, `b.test. 60 TXT "b"`, `c.test. 60 TXT "c"`)
	now := time.Unix(1_000_000, 0)
	r := New(Options{Servers: []string{d.Addr}, MaxEntries: 2, Now: func() time.Time { return now }})
	ctx := context.Background()
	if txt, _ := r.LookupTXT(ctx, "a.test"); len(txt) != 1 {
		t.Fatalf("first lookup: %v", txt)
	}
	d.Add(t, `a.test. 60 TXT "two"`)
	if txt, _ := r.LookupTXT(ctx, "a.test"); len(txt) != 1 {
		t.Errorf("within the TTL: %v; want the cached answer (one record)", txt)
	}
	now = now.Add(61 * time.Second)
	if txt, _ := r.LookupTXT(ctx, "a.test"); len(txt) != 2 {
		t.Errorf("after the TTL: %v; want the new answer (two records)", txt)
	}
	for _, n := range []string{"b.test", "c.test", "nowhere.test"} {
		_, _ = r.LookupTXT(ctx, n)
	}
	if n := r.Len(); n != 2 {
		t.Errorf("cache holds %d answers; want the bound, 2", n)
	}
}

// silentDNS reads queries and never answers.
func silentDNS(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestTimeoutIsTemporaryWithinBudget(t *testing.T) {
	r := New(Options{Servers: []string{silentDNS(t)}, QueryTimeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.LookupTXT(ctx, "example.test")
	if !IsTemporary(err) || IsNotFound(err) {
		t.Errorf("err %v; want temporary", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("lookup took %v; the budget was 300ms", el)
	}
	if r.Len() != 0 {
		t.Errorf("a failure was cached")
	}
}

func TestServerFailureTriesNextServer(t *testing.T) {
	var asked atomic.Int32
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		asked.Add(1)
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	good := queuetest.StartDNS(t)
	good.Add(t, `example.test. 300 TXT "hello"`)

	r := New(Options{Servers: []string{pc.LocalAddr().String()}})
	if _, err := r.LookupTXT(context.Background(), "example.test"); !IsTemporary(err) {
		t.Errorf("SERVFAIL: err %v; want temporary", err)
	}
	r = New(Options{Servers: []string{pc.LocalAddr().String(), good.Addr}})
	txt, err := r.LookupTXT(context.Background(), "example.test")
	if err != nil || len(txt) != 1 {
		t.Errorf("with a second server: %v, %v", txt, err)
	}
	if asked.Load() < 2 {
		t.Errorf("the failing server was asked %d times", asked.Load())
	}
}
