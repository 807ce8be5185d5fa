package queuetest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// DNS is an authoritative DNS server on loopback (UDP and TCP) answering
// from the records set on it; names not set get NXDOMAIN.
type DNS struct {
	// Addr is "127.0.0.1:port", for [dns] servers.
	Addr string
	// Validating makes every answer carry the AD bit, as a DNSSEC-validating
	// resolver's answers for a signed zone do (for DANE tests).
	Validating bool

	mu  sync.Mutex
	rrs map[string][]dns.RR // by lower-case FQDN
	// insecure names are answered without AD even when Validating: what
	// a validating resolver says of a name in an unsigned zone.
	insecure map[string]bool

	queries atomic.Int64
}

// Queries is how many questions the server has answered: a benchmark
// with a warm cache should see it stand still.
func (d *DNS) Queries() int64 { return d.queries.Load() }

// StartDNS serves until the test ends.
func StartDNS(t testing.TB) *DNS {
	t.Helper()
	d := &DNS{rrs: map[string][]dns.RR{}}
	// UDP and TCP on the same port number: a random UDP port may be taken
	// for TCP, so try a few.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ln == nil; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		d.Addr = pc.LocalAddr().String()
		if ln, err = net.Listen("tcp", d.Addr); err != nil {
			pc.Close()
			if try == 20 {
				t.Fatal(err)
			}
		}
	}
	udp := &dns.Server{PacketConn: pc, Handler: d}
	tcp := &dns.Server{Listener: ln, Handler: d}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return d
}

// Add adds records in zone-file syntax, e.g. "example.test. MX 10 mx.example.test.".
func (d *DNS) Add(t testing.TB, records ...string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("dns record %q: %v", s, err)
		}
		name := strings.ToLower(rr.Header().Name)
		d.rrs[name] = append(d.rrs[name], rr)
	}
}

// Remove drops every record of name (a FQDN).
func (d *DNS) Remove(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.rrs, strings.ToLower(name))
}

// SetValidating turns the AD bit of the answers on or off.
func (d *DNS) SetValidating(on bool) {
	d.mu.Lock()
	d.Validating = on
	d.mu.Unlock()
}

// SetInsecure makes the answers for name carry no AD bit, as for a name
// in an unsigned zone, whatever Validating says.
func (d *DNS) SetInsecure(name string) {
	d.mu.Lock()
	if d.insecure == nil {
		d.insecure = map[string]bool{}
	}
	d.insecure[strings.ToLower(dns.Fqdn(name))] = true
	d.mu.Unlock()
}

// ServeDNS implements dns.Handler.
func (d *DNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	d.queries.Add(1)
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	d.mu.Lock()
	resp.AuthenticatedData = d.Validating
	if len(req.Question) == 1 && d.insecure[strings.ToLower(req.Question[0].Name)] {
		resp.AuthenticatedData = false
	}
	d.mu.Unlock()
	if len(req.Question) == 1 {
		q := req.Question[0]
		d.mu.Lock()
		rrs, known := d.rrs[strings.ToLower(q.Name)]
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				resp.Answer = append(resp.Answer, dns.Copy(rr))
			}
		}
		d.mu.Unlock()
		if !known {
			resp.Rcode = dns.RcodeNameError
		}
	}
	w.WriteMsg(resp)
}
