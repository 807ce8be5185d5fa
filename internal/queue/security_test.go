package queue

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"postern/internal/dane"
	"postern/internal/mtasts"
	"postern/internal/queue/queuetest"
	"postern/internal/store"
)

// policyServer serves an MTA-STS policy over HTTPS for mta-sts.remote.test
// with a certificate of a test CA; fetches counts the requests.
type policyServer struct {
	srv     *httptest.Server
	roots   *x509.CertPool
	fetches atomic.Int32
	policy  atomic.Value // string
}

func startPolicyServer(t *testing.T, policy string) *policyServer {
	t.Helper()
	cert, roots, err := queuetest.SelfSigned("mta-sts.remote.test")
	if err != nil {
		t.Fatal(err)
	}
	ps := &policyServer{}
	ps.policy.Store(policy)
	ps.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.fetches.Add(1)
		if r.URL.Path != "/.well-known/mta-sts.txt" || r.Host != "mta-sts.remote.test" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, ps.policy.Load().(string))
	}))
	ps.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ps.srv.StartTLS()
	t.Cleanup(ps.srv.Close)
	ps.roots = roots
	return ps
}

// secureFixture is newFixture with MTA-STS (policies from ps, when not
// nil), DANE through the test DNS, and TLS results in the store.
func secureFixture(t *testing.T, peer *queuetest.Peer, ps *policyServer) *fixture {
	t.Helper()
	var opts Options
	f := newFixture(t, peer, func(o *Options) { opts = *o })
	f.dns.Add(t, "mta-sts.remote.test. A 127.0.0.1")
	f.q = f.newQueue(opts, ps)
	return f
}

func (f *fixture) newQueue(opts Options, ps *policyServer) *Queue {
	logger := slog.New(slog.NewTextHandler(f.logs, nil))
	r := NewResolver([]string{f.dns.Addr})
	var stsOpts mtasts.Options
	if ps != nil {
		stsOpts.RootCAs = ps.roots
		stsOpts.Port = portOf(ps.srv.URL)
	}
	opts.STS = mtasts.New(r, f.st, stsOpts, logger, f.clock.now)
	opts.DANE = dane.NewResolver([]string{f.dns.Addr}, logger)
	opts.TLSResults = f.st
	q := New(f.st, f.local, r, opts, logger, f.clock.now)
	f.t.Cleanup(q.Close)
	return q
}

func portOf(url string) int {
	var port int
	fmt.Sscanf(url[strings.LastIndexByte(url, ':')+1:], "%d", &port)
	return port
}

const enforcePolicy = "version: STSv1\r\nmode: enforce\r\nmx: mx.remote.test\r\nmax_age: 86400\r\n"

func (f *fixture) tlsResults() map[string]int64 {
	f.t.Helper()
	rs, err := f.st.TLSResults(context.Background(), f.clock.now().UTC().Format("2006-01-02"))
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range rs {
		k := r.PolicyType + "/" + r.MXHost + "/" + r.ResultType
		if r.ResultType == "" {
			k += "success"
		}
		out[k] += r.Sessions
	}
	return out
}

func (f *fixture) pending(id int64) store.QueueRecipient {
	f.t.Helper()
	m, ok := f.entry(id)
	if !ok || len(m.Recipients) != 1 || m.Recipients[0].Status != store.QueuePending {
		f.t.Fatalf("entry %d: %+v, want one pending recipient", id, m)
	}
	return m.Recipients[0]
}

// TestMTASTSEnforceBadCertificateDeferred: an enforce policy and an MX
// whose certificate is not valid for its name: the message is deferred,
// never sent in clear text or over the unverified TLS.
func TestMTASTSEnforceBadCertificateDeferred(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "other.name"}).Start(t)
	ps := startPolicyServer(t, enforcePolicy)
	f := secureFixture(t, peer, ps)
	f.dns.Add(t, `_mta-sts.remote.test. TXT "v=STSv1; id=20260101"`)
	id := f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 0 {
		t.Fatalf("sent despite the policy: %+v", m)
	}
	if n := peer.Sessions(); n != 1 {
		t.Fatalf("peer saw %d sessions, want 1 (no clear-text retry)", n)
	}
	r := f.pending(id)
	if !strings.Contains(r.LastError, "MTA-STS") {
		t.Fatalf("last error %q does not name MTA-STS", r.LastError)
	}
	f.wantLog("msg=deferred", "status=4.7.5", "msg=\"MTA-STS policy fetched\"", "mode=enforce")
	if got := f.tlsResults(); got["sts/mx.remote.test/certificate-host-mismatch"] != 1 {
		t.Fatalf("TLS results %v", got)
	}
}

// TestMTASTSEnforceGoodCertificateAndCache: a valid certificate gets the
// message; the policy is cached durably and still enforced after a
// restart when its server and record are gone.
func TestMTASTSEnforceGoodCertificateAndCache(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(t)
	ps := startPolicyServer(t, enforcePolicy)
	var opts Options
	f := newFixture(t, peer, func(o *Options) { opts = *o })
	f.dns.Add(t, "mta-sts.remote.test. A 127.0.0.1", `_mta-sts.remote.test. TXT "v=STSv1; id=1"`)
	f.q = f.newQueue(opts, ps)
	f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 || !m[0].TLS {
		t.Fatalf("peer got %+v", m)
	}
	f.enqueue("a@local.test", testBody, "c@remote.test")
	f.flush()
	if n := ps.fetches.Load(); n != 1 {
		t.Fatalf("policy fetched %d times, want 1 (cached by id)", n)
	}
	if got := f.tlsResults(); got["sts/mx.remote.test/success"] != 1 {
		t.Fatalf("TLS results %v", got)
	}
	cached, err := f.st.MTASTSPolicy(context.Background(), "remote.test")
	if err != nil || cached.ID != "1" || !strings.Contains(cached.Body, "mode: enforce") {
		t.Fatalf("cached policy %+v, %v", cached, err)
	}

	// Restart: a new queue over the same store, the policy server down
	// and the record gone; the MX now shows a certificate for another name.
	ps.srv.Close()
	f.dns.Remove("_mta-sts.remote.test.")
	bad := (&queuetest.Peer{Hostname: "other.name"}).Start(t)
	opts.Port = bad.Port
	f.q = f.newQueue(opts, nil)
	id := f.enqueue("a@local.test", testBody, "d@remote.test")
	f.flush()
	if m := bad.Mails(); len(m) != 0 {
		t.Fatalf("sent despite the cached policy: %+v", m)
	}
	f.pending(id)
}

// TestMTASTSMXNotInPolicy: an MX host the enforce policy does not list is
// not connected to at all.
func TestMTASTSMXNotInPolicy(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(t)
	ps := startPolicyServer(t, strings.Replace(enforcePolicy, "mx: mx.remote.test", "mx: *.elsewhere.test", 1))
	f := secureFixture(t, peer, ps)
	f.dns.Add(t, `_mta-sts.remote.test. TXT "v=STSv1; id=2"`)
	id := f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	if n := peer.Sessions(); n != 0 {
		t.Fatalf("peer saw %d sessions, want none", n)
	}
	if r := f.pending(id); !strings.Contains(r.LastError, "not in the MTA-STS policy") {
		t.Fatalf("last error %q", r.LastError)
	}
	if got := f.tlsResults(); got["sts/mx.remote.test/validation-failure"] != 1 {
		t.Fatalf("TLS results %v", got)
	}
}

// TestMTASTSTestingDeliversAndRecords: a testing policy delivers over the
// unverified TLS and records the failure for the report.
func TestMTASTSTestingDeliversAndRecords(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "other.name"}).Start(t)
	ps := startPolicyServer(t, strings.Replace(enforcePolicy, "enforce", "testing", 1))
	f := secureFixture(t, peer, ps)
	f.dns.Add(t, `_mta-sts.remote.test. TXT "v=STSv1; id=3"`)
	f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 {
		t.Fatalf("peer got %+v", m)
	}
	if got := f.tlsResults(); got["sts/mx.remote.test/certificate-host-mismatch"] != 1 {
		t.Fatalf("TLS results %v", got)
	}
}

// TestTLSRequiredNoIgnoresPolicy: "TLS-Required: No" (RFC 8689 §5) sets
// the enforce policy aside.
func TestTLSRequiredNoIgnoresPolicy(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "other.name"}).Start(t)
	ps := startPolicyServer(t, enforcePolicy)
	f := secureFixture(t, peer, ps)
	f.dns.Add(t, `_mta-sts.remote.test. TXT "v=STSv1; id=4"`)
	f.enqueue("a@local.test", "TLS-Required: No\r\n"+testBody, "b@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 {
		t.Fatalf("peer got %+v", m)
	}
	if n := ps.fetches.Load(); n != 0 {
		t.Fatalf("policy fetched %d times for a TLS-Required: No message", n)
	}
}

func tlsaOf(t *testing.T, peer *queuetest.Peer) string {
	sum := sha256.Sum256(peer.Cert.Leaf.RawSubjectPublicKeyInfo)
	return fmt.Sprintf("_%d._tcp.mx.remote.test. TLSA 3 1 1 %s", peer.Port, hex.EncodeToString(sum[:]))
}

// TestDANEMatchDelivers: with a validating resolver, a DANE-EE record
// matching the MX's key gets the message, whatever the certificate's name.
func TestDANEMatchDelivers(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "other.name"}).Start(t)
	f := secureFixture(t, peer, nil)
	f.dns.SetValidating(true)
	f.dns.Add(t, tlsaOf(t, peer))
	f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 || !m[0].TLS {
		t.Fatalf("peer got %+v", m)
	}
	f.wantLog("tls_verified=true", "DANE on")
	if got := f.tlsResults(); got["tlsa/mx.remote.test/success"] != 1 {
		t.Fatalf("TLS results %v", got)
	}
}

// TestDANEMismatchDefers: a TLSA record that matches nothing defers the
// message with no clear-text fallback.
func TestDANEMismatchDefers(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(t)
	f := secureFixture(t, peer, nil)
	f.dns.SetValidating(true)
	f.dns.Add(t, fmt.Sprintf("_%d._tcp.mx.remote.test. TLSA 3 1 1 %s", peer.Port, strings.Repeat("ab", 32)))
	id := f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 0 {
		t.Fatalf("sent despite the TLSA mismatch: %+v", m)
	}
	if n := peer.Sessions(); n != 1 {
		t.Fatalf("peer saw %d sessions, want 1", n)
	}
	if r := f.pending(id); !strings.Contains(r.LastError, "DANE") {
		t.Fatalf("last error %q", r.LastError)
	}
	if got := f.tlsResults(); got["tlsa/mx.remote.test/validation-failure"] != 1 {
		t.Fatalf("TLS results %v", got)
	}
}

// TestDANEOffWithoutValidatingResolver: answers without AD leave DANE
// off (said once in the log) and the TLSA record unused.
func TestDANEOffWithoutValidatingResolver(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(t)
	f := secureFixture(t, peer, nil)
	f.dns.Add(t, fmt.Sprintf("_%d._tcp.mx.remote.test. TLSA 3 1 1 %s", peer.Port, strings.Repeat("ab", 32)))
	f.enqueue("a@local.test", testBody, "b@remote.test")
	f.enqueue("a@local.test", testBody, "c@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 2 {
		t.Fatalf("peer got %d mails", len(m))
	}
	if n := strings.Count(f.logs.String(), "DANE off"); n != 1 {
		t.Fatalf("DANE off logged %d times:\n%s", n, f.logs.String())
	}
}

// TestDANEInsecureAddressesIgnoreTLSA: a host whose address records are
// not validated (RFC 7672 §2.2.2: an unsigned zone, or a CNAME into one)
// is delivered to as a host without TLSA records, even where its
// validated TLSA record would refuse it; a bogus address answer rules
// the host out.
func TestDANEInsecureAddressesIgnoreTLSA(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(t)
	f := secureFixture(t, peer, nil)
	f.dns.SetValidating(true)
	f.dns.SetInsecure("mx.remote.test")
	f.dns.Add(t, fmt.Sprintf("_%d._tcp.mx.remote.test. TLSA 3 1 1 %s", peer.Port, strings.Repeat("ab", 32)))
	f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 || !m[0].TLS {
		t.Fatalf("peer got %+v; want the message, over opportunistic TLS", m)
	}
	if got := f.tlsResults(); got["tlsa/mx.remote.test/validation-failure"] != 0 || got["no-policy-found/mx.remote.test/success"] != 1 {
		t.Fatalf("TLS results %v; want the host counted without a policy", got)
	}
}

func (f *fixture) enqueueRequireTLS(body string, to string) int64 {
	f.t.Helper()
	m := store.NewQueueMessage{Sender: "a@local.test", RequireTLS: true, Recipients: []store.NewQueueRecipient{{Rcpt: to}}}
	out, err := f.st.Deliver(context.Background(), store.Delivery{Blob: store.NewBlob{Body: store.BytesBody(body)},
		InternalDate: f.clock.now(), Queue: []store.QueuedCopy{{NewQueueMessage: m}}})
	if err != nil {
		f.t.Fatal(err)
	}
	return out.QueueIDs[0]
}

// TestRequireTLSRelayed: a REQUIRETLS message goes to a verified MX that
// offers REQUIRETLS, with the parameter.
func TestRequireTLSRelayed(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test", RequireTLS: true}).Start(t)
	ps := startPolicyServer(t, enforcePolicy)
	f := secureFixture(t, peer, ps)
	f.dns.Add(t, `_mta-sts.remote.test. TXT "v=STSv1; id=5"`)
	f.enqueueRequireTLS(testBody, "b@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 || !m[0].RequireTLS || !m[0].TLS {
		t.Fatalf("peer got %+v", m)
	}
}

// TestRequireTLSBounces: without REQUIRETLS at the MX, or without a
// policy to verify the MX by, a REQUIRETLS message bounces (5.7.30).
func TestRequireTLSBounces(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(t)
	ps := startPolicyServer(t, enforcePolicy)
	f := secureFixture(t, peer, ps)
	f.dns.Add(t, `_mta-sts.remote.test. TXT "v=STSv1; id=6"`,
		"plain.test. MX 10 mx.remote.test.")
	f.enqueueRequireTLS(testBody, "b@remote.test")
	f.enqueueRequireTLS(testBody, "b@plain.test")
	f.flush()
	if m := peer.Mails(); len(m) != 0 {
		t.Fatalf("peer got %+v", m)
	}
	dsns := f.local.bounces("a@local.test")
	if len(dsns) != 2 {
		t.Fatalf("%d DSNs, want 2", len(dsns))
	}
	for _, d := range dsns {
		if !strings.Contains(string(d), "5.7.30") {
			t.Fatalf("DSN without 5.7.30:\n%s", d)
		}
	}
	f.wantLog("does not offer REQUIRETLS", "neither DANE nor an MTA-STS policy")
}

// TestRequireTLSTriesNextMX: an MX without REQUIRETLS is passed over for
// the next one that offers it.
func TestRequireTLSTriesNextMX(t *testing.T) {
	plain := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(t)
	capable := (&queuetest.Peer{Hostname: "mx2.remote.test", RequireTLS: true, Listen: fmt.Sprintf("127.0.0.2:%d", plain.Port)}).Start(t)
	ps := startPolicyServer(t, strings.Replace(enforcePolicy, "mx: mx.remote.test", "mx: *.remote.test", 1))
	var opts Options
	f := newFixture(t, plain, func(o *Options) { opts = *o })
	pool := x509.NewCertPool()
	pool.AddCert(plain.Cert.Leaf)
	pool.AddCert(capable.Cert.Leaf)
	opts.RootCAs = pool
	f.dns.Add(t, "mta-sts.remote.test. A 127.0.0.1", `_mta-sts.remote.test. TXT "v=STSv1; id=8"`,
		"remote.test. MX 20 mx2.remote.test.", "mx2.remote.test. A 127.0.0.2")
	f.q = f.newQueue(opts, ps)
	f.enqueueRequireTLS(testBody, "b@remote.test")
	f.flush()
	if m := capable.Mails(); len(m) != 1 || !m[0].RequireTLS {
		t.Fatalf("the REQUIRETLS MX got %+v", m)
	}
	if m := plain.Mails(); len(m) != 0 {
		t.Fatalf("the MX without REQUIRETLS got %+v", m)
	}
}

// TestMTASTSTestingMXNotInPolicy: a testing policy that does not list the
// MX delivers anyway and counts the session once, as a failure.
func TestMTASTSTestingMXNotInPolicy(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(t)
	ps := startPolicyServer(t, "version: STSv1\nmode: testing\nmx: mx.elsewhere.test\nmax_age: 86400\n")
	f := secureFixture(t, peer, ps)
	f.dns.Add(t, `_mta-sts.remote.test. TXT "v=STSv1; id=9"`)
	f.enqueue("a@local.test", testBody, "b@remote.test")
	f.flush()
	if m := peer.Mails(); len(m) != 1 {
		t.Fatalf("peer got %d mails", len(m))
	}
	got := f.tlsResults()
	if got["sts/mx.remote.test/validation-failure"] != 1 || len(got) != 1 {
		t.Fatalf("TLS results %v, want one validation-failure session", got)
	}
}
