package dane

import (
	"context"
	"strings"
	"testing"

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
