package queuetest

import (
	"crypto"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// SignedDNS is an authoritative server of one DNSSEC-signed zone (one
// ECDSA P-256 key; answers signed as they go out, with NSEC proofs for
// names and types it lacks), for a real validating resolver (StartUnbound)
// to check. The zone is flat: no delegations, every name in it.
type SignedDNS struct {
	// Addr is the UDP "127.0.0.1:port" it answers on.
	Addr   string
	Origin string
	Key    *dns.DNSKEY
	priv   crypto.Signer

	mu  sync.Mutex
	rrs map[string][]dns.RR
	// broken names get signatures that do not verify.
	broken map[string]bool
}

// StartSignedDNS serves the zone of origin (e.g. "." or "dane.test.") until
// the test ends; its SOA, NS and DNSKEY are there from the start.
func StartSignedDNS(t testing.TB, origin string) *SignedDNS {
	t.Helper()
	z := &SignedDNS{Origin: dns.Fqdn(origin), rrs: map[string][]dns.RR{}, broken: map[string]bool{}}
	z.Key = &dns.DNSKEY{Hdr: dns.RR_Header{Name: z.Origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 300},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := z.Key.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	z.priv = priv.(crypto.Signer)
	ns := "ns." + strings.TrimPrefix(z.Origin, ".")
	z.Add(t, z.Key.String(), z.Origin+" 300 IN SOA "+ns+" hostmaster."+strings.TrimPrefix(z.Origin, ".")+" 1 3600 600 86400 300",
		z.Origin+" 300 IN NS "+ns, ns+" 300 IN A 127.0.0.1")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z.Addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: z}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return z
}

// Add adds records in zone-file syntax.
func (z *SignedDNS) Add(t testing.TB, records ...string) {
	t.Helper()
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("dns record %q: %v", s, err)
		}
		name := strings.ToLower(rr.Header().Name)
		z.rrs[name] = append(z.rrs[name], rr)
	}
}

// Break makes the signatures of name's records fail validation.
func (z *SignedDNS) Break(name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.broken[strings.ToLower(dns.Fqdn(name))] = true
}

func (z *SignedDNS) sign(rrs []dns.RR, broken bool) dns.RR {
	h := rrs[0].Header()
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
		Algorithm: z.Key.Algorithm, KeyTag: z.Key.KeyTag(), SignerName: z.Origin,
		Inception: uint32(time.Now().Add(-time.Hour).Unix()), Expiration: uint32(time.Now().Add(24 * time.Hour).Unix())}
	if err := sig.Sign(z.priv, rrs); err != nil {
		panic(err)
	}
	if broken {
		sig.Signature = strings.Repeat("A", len(sig.Signature)-4) + "AAA="
	}
	return sig
}

// canonicalLess orders names as RFC 4034 §6.1 does: label by label from
// the right, lower case.
func canonicalLess(a, b string) bool {
	la, lb := dns.SplitDomainName(strings.ToLower(a)), dns.SplitDomainName(strings.ToLower(b))
	for i := 0; ; i++ {
		if i == len(la) || i == len(lb) {
			return len(la) < len(lb)
		}
		x, y := la[len(la)-1-i], lb[len(lb)-1-i]
		if x != y {
			return x < y
		}
	}
}

// nsec returns the NSEC record of owner (whose types are listed), or the
// one covering a name that does not exist: the greatest owner before it.
func (z *SignedDNS) nsec(name string) dns.RR {
	names := make([]string, 0, len(z.rrs))
	for n := range z.rrs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return canonicalLess(names[i], names[j]) })
	i := sort.Search(len(names), func(i int) bool { return !canonicalLess(names[i], name) })
	if i == len(names) || names[i] != name {
		i-- // the owner before name covers it
	}
	if i < 0 {
		i = len(names) - 1
	}
	owner, next := names[i], names[(i+1)%len(names)]
	types := map[uint16]bool{dns.TypeNSEC: true, dns.TypeRRSIG: true}
	for _, rr := range z.rrs[owner] {
		types[rr.Header().Rrtype] = true
	}
	bitmap := make([]uint16, 0, len(types))
	for t := range types {
		bitmap = append(bitmap, t)
	}
	sort.Slice(bitmap, func(i, j int) bool { return bitmap[i] < bitmap[j] })
	return &dns.NSEC{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 300},
		NextDomain: next, TypeBitMap: bitmap}
}

// closestEncloser is the longest ancestor of name in the zone.
func (z *SignedDNS) closestEncloser(name string) string {
	labels := dns.SplitDomainName(name)
	for i := 1; i <= len(labels); i++ {
		anc := dns.Fqdn(strings.Join(labels[i:], "."))
		if _, ok := z.rrs[anc]; ok {
			return anc
		}
	}
	return z.Origin
}

// ServeDNS implements dns.Handler.
func (z *SignedDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	do := false
	if opt := req.IsEdns0(); opt != nil {
		do = opt.Do()
		resp.SetEdns0(4096, do)
	}
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		w.WriteMsg(resp)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	z.mu.Lock()
	defer z.mu.Unlock()
	rrs, exists := z.rrs[name]
	var ans []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype {
			ans = append(ans, dns.Copy(rr))
		}
	}
	for _, rr := range rrs {
		// A CNAME answers any type its name lacks; the resolver follows it.
		if len(ans) == 0 && rr.Header().Rrtype == dns.TypeCNAME {
			ans = append(ans, dns.Copy(rr))
		}
	}
	if len(ans) > 0 {
		resp.Answer = ans
		if do {
			resp.Answer = append(resp.Answer, z.sign(ans, z.broken[name]))
		}
		w.WriteMsg(resp)
		return
	}
	// No data, or no such name: the SOA and, signed, the NSEC proofs.
	var soa []dns.RR
	for _, rr := range z.rrs[z.Origin] {
		if rr.Header().Rrtype == dns.TypeSOA {
			soa = append(soa, dns.Copy(rr))
		}
	}
	resp.Ns = soa
	if !exists {
		resp.Rcode = dns.RcodeNameError
	}
	if do {
		resp.Ns = append(resp.Ns, z.sign(soa, false))
		proofs := []dns.RR{z.nsec(name)}
		if !exists {
			wild := z.nsec("*." + z.closestEncloser(name))
			if wild.Header().Name != proofs[0].Header().Name {
				proofs = append(proofs, wild)
			}
		}
		for _, p := range proofs {
			resp.Ns = append(resp.Ns, p, z.sign([]dns.RR{p}, false))
		}
	}
	w.WriteMsg(resp)
}

// PlainZone is an unsigned zone and its server ("127.0.0.1:port"), for
// StartUnbound to ask too: outside the trust anchor, its answers are
// insecure.
type PlainZone struct{ Origin, Addr string }

// StartUnbound runs Debian's unbound (scripts/deps.sh installs it) as a
// validating resolver whose only trust anchor is the zone's key and which
// asks the zone's server for everything under the zone, and each plain
// zone's for its names. It returns its "127.0.0.1:port".
func StartUnbound(t testing.TB, z *SignedDNS, plain ...PlainZone) string {
	t.Helper()
	bin, err := exec.LookPath("unbound")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/unbound"); err != nil {
			t.Fatalf("unbound not installed (run scripts/deps.sh): %v", err)
		}
	}
	dir := t.TempDir()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	_, zport, _ := net.SplitHostPort(z.Addr)
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
`, port, dir, dir, z.Key.String(), z.Origin, zport)
	for _, p := range plain {
		_, pport, _ := net.SplitHostPort(p.Addr)
		conf += fmt.Sprintf("stub-zone:\n\tname: %q\n\tstub-addr: 127.0.0.1@%s\n", p.Origin, pport)
	}
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", path)
	out := &syncBuilder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(z.Origin, dns.TypeSOA)
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

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
