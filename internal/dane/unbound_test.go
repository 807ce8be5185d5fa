package dane

import (
	"context"
	"crypto"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// signedZone is an authoritative server of a DNSSEC-signed zone (one
// ECDSA P-256 key, answers signed as they go out), for a real validating
// resolver to check.
type signedZone struct {
	origin string
	key    *dns.DNSKEY
	priv   crypto.Signer
	mu     sync.Mutex
	rrs    map[string][]dns.RR
	// broken names get signatures that do not verify.
	broken map[string]bool
	addr   string
}

func startSignedZone(t *testing.T, origin string) *signedZone {
	t.Helper()
	z := &signedZone{origin: origin, rrs: map[string][]dns.RR{}, broken: map[string]bool{}}
	z.key = &dns.DNSKEY{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 300},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := z.key.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	z.priv = priv.(crypto.Signer)
	z.add(t, z.key.String(),
		origin+" 300 IN SOA ns."+origin+" hostmaster."+origin+" 1 3600 600 86400 300",
		origin+" 300 IN NS ns."+origin, "ns."+origin+" 300 IN A 127.0.0.1")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z.addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: z}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return z
}

func (z *signedZone) add(t *testing.T, records ...string) {
	t.Helper()
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		name := strings.ToLower(rr.Header().Name)
		z.rrs[name] = append(z.rrs[name], rr)
	}
}

func (z *signedZone) sign(rrs []dns.RR, broken bool) dns.RR {
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: rrs[0].Header().Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: rrs[0].Header().Ttl},
		Algorithm: z.key.Algorithm, KeyTag: z.key.KeyTag(), SignerName: z.origin,
		Inception: uint32(time.Now().Add(-time.Hour).Unix()), Expiration: uint32(time.Now().Add(time.Hour).Unix())}
	if err := sig.Sign(z.priv, rrs); err != nil {
		panic(err)
	}
	if broken {
		sig.Signature = strings.Repeat("A", len(sig.Signature)-4) + "AAA="
	}
	return sig
}

func (z *signedZone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	do := false
	if opt := req.IsEdns0(); opt != nil {
		do = opt.Do()
		resp.SetEdns0(4096, do)
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	z.mu.Lock()
	var ans []dns.RR
	for _, rr := range z.rrs[name] {
		if rr.Header().Rrtype == q.Qtype {
			ans = append(ans, dns.Copy(rr))
		}
	}
	broken := z.broken[name]
	z.mu.Unlock()
	if len(ans) == 0 {
		// Only names and types the test asks for are served: a denial
		// would need NSEC proofs.
		resp.Rcode = dns.RcodeServerFailure
		w.WriteMsg(resp)
		return
	}
	resp.Answer = ans
	if do {
		resp.Answer = append(resp.Answer, z.sign(ans, broken))
	}
	w.WriteMsg(resp)
}

func freeUDPPort(t *testing.T) int {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// startUnbound runs Debian's unbound as a validating resolver whose only
// trust anchor is the zone's key and which asks the zone's server.
func startUnbound(t *testing.T, z *signedZone) string {
	t.Helper()
	bin, err := exec.LookPath("unbound")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/unbound"); err != nil {
			t.Fatalf("unbound not installed (run scripts/deps.sh): %v", err)
		}
	}
	dir := t.TempDir()
	port := freeUDPPort(t)
	_, zport, _ := net.SplitHostPort(z.addr)
	conf := fmt.Sprintf(`server:
	interface: 127.0.0.1
	port: %d
	do-tcp: no
	username: ""
	chroot: ""
	directory: "%s"
	pidfile: "%s/unbound.pid"
	use-syslog: no
	logfile: ""
	verbosity: 1
	do-daemonize: no
	do-not-query-localhost: no
	qname-minimisation: no
	access-control: 127.0.0.0/8 allow
	module-config: "validator iterator"
	trust-anchor: "%s"
	val-log-level: 2
	# unbound answers the special-use "test." itself (RFC 6761) unless told not to
	local-zone: "test." nodefault
stub-zone:
	name: "%s"
	stub-addr: 127.0.0.1@%s
`, port, dir, dir, z.key.String(), z.origin, zport)
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", path)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(z.origin, dns.TypeSOA)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, _, err := c.Exchange(m, addr); err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("unbound did not answer: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestUnboundValidatingResolver: through a real validating resolver over a
// signed zone, DANE is on, the MX RRset and the TLSA records come out
// secure, a TLSA RRset with a bad signature is an error (never "no
// records"), and the zone's own unvalidated answers are not trusted.
func TestUnboundValidatingResolver(t *testing.T) {
	z := startSignedZone(t, "dane.test.")
	z.add(t, "dane.test. 300 IN MX 10 mx.dane.test.", "mx.dane.test. 300 IN A 127.0.0.1",
		"_25._tcp.mx.dane.test. 300 IN TLSA 3 1 1 "+strings.Repeat("ab", 32),
		"_25._tcp.bad.dane.test. 300 IN TLSA 3 1 1 "+strings.Repeat("cd", 32))
	z.broken["_25._tcp.bad.dane.test."] = true
	addr := startUnbound(t, z)
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
	if recs, _, err := r.Lookup(ctx, "bad.dane.test", 25); err == nil {
		t.Fatalf("bogus TLSA gave %v and no error", recs)
	}

	// The authoritative server itself sets no AD bit: nothing is trusted.
	direct := NewResolver([]string{z.addr}, nil)
	direct.SetProbe("dane.test.")
	if direct.Enabled(ctx) {
		t.Fatal("DANE on without a validating resolver")
	}
	if recs, secure, err := direct.Lookup(ctx, "mx.dane.test", 25); err != nil || secure || len(recs) != 0 {
		t.Fatalf("unvalidated Lookup = %v, %v, %v", recs, secure, err)
	}
}
