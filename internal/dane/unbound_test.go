package dane

import (
	"context"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"postern/internal/queue/queuetest"
)

// TestUnboundValidatingResolver: through Debian's unbound validating a
// signed zone, DANE is on, the MX RRset and the TLSA records come out
// secure, a missing TLSA RRset is a secure "none", a TLSA RRset with a bad
// signature is an error (never "no records"), and the zone's own answers,
// unvalidated, are not trusted.
func TestUnboundValidatingResolver(t *testing.T) {
	z := queuetest.StartSignedDNS(t, "dane.test.")
	z.Add(t, "dane.test. 300 IN MX 10 mx.dane.test.", "mx.dane.test. 300 IN A 127.0.0.1",
		"_25._tcp.mx.dane.test. 300 IN TLSA 3 1 1 "+strings.Repeat("ab", 32),
		"_25._tcp.bad.dane.test. 300 IN TLSA 3 1 1 "+strings.Repeat("cd", 32))
	z.Break("_25._tcp.bad.dane.test.")
	addr := queuetest.StartUnbound(t, z)
	ctx := context.Background()

	r := NewResolver([]string{addr}, nil)
	r.SetProbe("dane.test.")
	if !r.Enabled(ctx) {
		t.Fatal("DANE off behind a validating unbound")
	}
	if ok, err := r.MXSecure(ctx, "dane.test"); !ok || err != nil {
		t.Fatalf("MXSecure = %v, %v", ok, err)
	}
	recs, secure, err := r.Lookup(ctx, "mx.dane.test", 25)
	if err != nil || !secure || len(recs) != 1 || recs[0].Usage != 3 || len(recs[0].Data) != 32 {
		t.Fatalf("Lookup = %v, %v, %v", recs, secure, err)
	}
	if recs, secure, err := r.Lookup(ctx, "none.dane.test", 25); err != nil || !secure || len(recs) != 0 {
		t.Fatalf("Lookup of a name without TLSA = %v, %v, %v", recs, secure, err)
	}
	if recs, _, err := r.Lookup(ctx, "bad.dane.test", 25); err == nil {
		t.Fatalf("bogus TLSA gave %v and no error", recs)
	}

	// The authoritative server itself sets no AD bit: nothing is trusted.
	direct := NewResolver([]string{z.Addr}, nil)
	direct.SetProbe("dane.test.")
	if direct.Enabled(ctx) {
		t.Fatal("DANE on without a validating resolver")
	}
	if recs, secure, err := direct.Lookup(ctx, "mx.dane.test", 25); err != nil || secure || len(recs) != 0 {
		t.Fatalf("unvalidated Lookup = %v, %v, %v", recs, secure, err)
	}
}

// TestAddrSecureThroughUnbound: through unbound, an MX host whose address
// is in the signed zone is secure; one that is a CNAME into an unsigned
// zone is not, though its TLSA record is in the signed zone (RFC 7672
// §2.2.2: DANE then does not apply to it); a bogus A RRset is an error.
func TestAddrSecureThroughUnbound(t *testing.T) {
	plain := queuetest.StartDNS(t)
	plain.Add(t, "host.plain.test. 300 IN A 127.0.0.1")
	z := queuetest.StartSignedDNS(t, "dane.test.")
	z.Add(t, "mx.dane.test. 300 IN A 127.0.0.1", "alias.dane.test. 300 IN CNAME host.plain.test.",
		"_25._tcp.alias.dane.test. 300 IN TLSA 3 1 1 "+strings.Repeat("ab", 32), "bogus.dane.test. 300 IN A 127.0.0.3")
	z.Break("bogus.dane.test.")
	addr := queuetest.StartUnbound(t, z, queuetest.PlainZone{Origin: "plain.test.", Addr: plain.Addr})
	ctx := context.Background()
	r := NewResolver([]string{addr}, nil)
	if ok, err := r.AddrSecure(ctx, "mx.dane.test"); !ok || err != nil {
		t.Errorf("AddrSecure of a host in the signed zone = %v, %v", ok, err)
	}
	// The alias leads to an address: it is insecure, not missing.
	m := new(dns.Msg)
	m.SetQuestion("alias.dane.test.", dns.TypeA)
	m.SetEdns0(4096, true)
	resp, _, err := new(dns.Client).Exchange(m, addr)
	if err != nil || len(resp.Answer) == 0 || resp.AuthenticatedData {
		t.Fatalf("A of the alias through unbound: %v, %v; want an address, without AD", resp, err)
	}
	if a, ok := resp.Answer[len(resp.Answer)-1].(*dns.A); !ok || a.A.String() != "127.0.0.1" {
		t.Fatalf("A of the alias through unbound: %v; want 127.0.0.1 at the end of the chain", resp)
	}
	if ok, err := r.AddrSecure(ctx, "alias.dane.test"); ok || err != nil {
		t.Errorf("AddrSecure of a CNAME into an unsigned zone = %v, %v; want insecure", ok, err)
	}
	if recs, secure, err := r.Lookup(ctx, "alias.dane.test", 25); err != nil || !secure || len(recs) != 1 {
		t.Errorf("its TLSA record: %v, %v, %v; want one, secure", recs, secure, err)
	}
	if ok, err := r.AddrSecure(ctx, "bogus.dane.test"); ok || err == nil {
		t.Errorf("AddrSecure of a bogus A RRset = %v, %v; want an error", ok, err)
	}
}
