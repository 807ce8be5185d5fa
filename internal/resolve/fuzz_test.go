package resolve

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzAnswer: whatever a server sends back, reading it gives records of
// the type asked, or a clear error, and never a panic.
func FuzzAnswer(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeTXT)
	m.Response = true
	rr, _ := dns.NewRR(`example.test. 60 TXT "v=spf1 -all"`)
	m.Answer = append(m.Answer, rr)
	wire, _ := m.Pack()
	f.Add(wire)
	m.Rcode = dns.RcodeNameError
	m.Answer = nil
	soa, _ := dns.NewRR("example.test. 60 SOA ns.test. h.test. 1 2 3 4 30")
	m.Ns = append(m.Ns, soa)
	wire, _ = m.Pack()
	f.Add(wire)
	f.Fuzz(func(t *testing.T, wire []byte) {
		resp := new(dns.Msg)
		if resp.Unpack(wire) != nil {
			return
		}
		rrs, ttl, err := answer(resp, "example.test.", dns.TypeTXT, "test")
		if err == nil && len(rrs) == 0 {
			t.Fatal("no error and no records")
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype != dns.TypeTXT {
				t.Fatalf("record of type %d", rr.Header().Rrtype)
			}
		}
		if ttl < 0 || ttl > maxTTL {
			t.Fatalf("ttl %v", ttl)
		}
	})
}
