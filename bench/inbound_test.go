package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"postern/internal/authcheck"
	"postern/internal/queue/queuetest"
	"postern/internal/resolve"
)

// signerDomain publishes what a well-run sender publishes: SPF for the
// loopback client, an Ed25519 and an RSA-2048 key, a DMARC p=reject.
const signerDomain = "signer.test"

type signingKey struct {
	sel string
	key crypto.Signer
}

// publishSigner adds the sender's records to d and returns its keys;
// more domains get the same records.
func publishSigner(b *testing.B, d *queuetest.DNS, more ...string) []signingKey {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	rsaRec := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	for _, dom := range append([]string{signerDomain}, more...) {
		d.Add(b,
			dom+`. 300 TXT "v=spf1 ip4:127.0.0.1 -all"`,
			`_dmarc.`+dom+`. 300 TXT "v=DMARC1; p=reject; rua=mailto:dmarc@`+dom+`"`,
			`ed._domainkey.`+dom+`. 300 TXT "v=DKIM1; k=ed25519; p=`+base64.StdEncoding.EncodeToString(edKey.Public().(ed25519.PublicKey))+`"`,
			`rsa._domainkey.`+dom+`. 300 TXT "`+rsaRec[:200]+`" "`+rsaRec[200:]+`"`,
		)
	}
	return []signingKey{{"ed", edKey}, {"rsa", rsaKey}}
}

// signedMessages makes n messages of messageSize from domainOf(i) (the
// signer domain when nil), signed with keys (each key one signature, as
// Postern signs its own mail).
func signedMessages(b *testing.B, n int, rcpt string, keys []signingKey, domainOf func(int) string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		dom := signerDomain
		if domainOf != nil {
			dom = domainOf(i)
		}
		msg := bytes.Replace(genMessage(i, messageSize, rcpt), []byte("loadgen@example.net"), []byte("news@"+dom), 1)
		for _, k := range keys {
			var signed bytes.Buffer
			if err := dkim.Sign(&signed, bytes.NewReader(msg), &dkim.SignOptions{Domain: dom, Selector: k.sel, Signer: k.key,
				HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"}}); err != nil {
				b.Fatal(err)
			}
			msg = signed.Bytes()
		}
		out[i] = msg
	}
	return out
}

// sendMessages delivers msgs over conns SMTP sessions, message i from
// from(i).
func sendMessages(b *testing.B, addr string, from func(int) string, rcpt string, msgs [][]byte, conns int) {
	sendEach(b, addr, rcpt, len(msgs), conns, func(i int) (string, []byte) { return from(i), msgs[i] })
}

// checksServer starts a server whose [checks] are on (asking dnsAddr,
// DNS failures deferred) or off. With POSTERN_BENCH_PROFILES set to a
// directory, the server writes its CPU profile there, one file per
// benchmark and leg (two-signatures-on.pprof), to compare with go tool pprof.
func checksServer(b *testing.B, on bool, dnsAddr string) *server {
	s := initServer(b, func(text string) string {
		text = setListen(text, map[string]string{"admin": ""}) // two servers run side by side
		text = strings.Replace(text, "[dns]\n", fmt.Sprintf("[dns]\n  servers = [%q]\n", dnsAddr), 1)
		text = strings.Replace(text, `dns_failure = "accept"`, `dns_failure = "defer"`, 1)
		if !on {
			text = strings.Replace(text, "[checks]\n  enabled = true", "[checks]\n  enabled = false", 1)
		}
		return text
	})
	s.run("domain", "add", "bench.test")
	s.run("user", "add", "bench1@bench.test", "--password-stdin")
	if dir := os.Getenv("POSTERN_BENCH_PROFILES"); dir != "" {
		leg := map[bool]string{false: "off", true: "on"}[on]
		s.cpuProfile = filepath.Join(dir, path.Base(b.Name())+"-"+leg+".pprof")
	}
	s.serve(s.smtp, s.pop3)
	return s
}

// BenchmarkInboundChecks: signed 4 KiB messages (SPF pass, DMARC
// p=reject) over 8 connections into two servers side by side, one with
// the inbound checks off and one with them on (SPF, DKIM, DMARC, ARC,
// iprev; answers from a loopback DNS server, caches warmed by 50 messages
// first). The two take turns, inboundRounds bursts of inboundBurst
// messages each, every burst started with both servers quiet, so that a
// moment of noise on the machine or a store that has grown falls on both
// alike. cost-% is the throughput lost over all the rounds, median-cost-%
// the median of the rounds'. "two-signatures" carries an Ed25519 and an
// RSA-2048 signature, as Postern's own mail does; "one-signature" one
// RSA-2048 signature. The CPU per message is read with the server quiet
// before and after each burst, so it includes the text indexing that
// follows it; cpu-cost-% is the CPU per message the checks add, steadier
// than the clock on a shared machine. on-dns-queries/msg should stay near
// zero: the cache is warm. Run with -benchtime 1x.
func BenchmarkInboundChecks(b *testing.B) {
	b.Run("two-signatures", func(b *testing.B) { benchInbound(b, nil, false) })
	b.Run("one-signature", func(b *testing.B) { benchInbound(b, []string{"rsa"}, false) })
	b.Run("one-signature-cold", func(b *testing.B) { benchInbound(b, []string{"rsa"}, true) })
}

const inboundRounds, inboundBurst = 16, 1500

// benchInbound measures ingest with the checks off and on, signing with
// the keys whose selectors are named (all when nil). cold sends every
// message from a domain of its own, so that every lookup but iprev's
// misses the cache.
func benchInbound(b *testing.B, selectors []string, cold bool) {
	const warm = 50
	n := inboundRounds * inboundBurst
	for range b.N {
		d := queuetest.StartDNS(b)
		var domainOf func(int) string
		var more []string
		if cold {
			domainOf = func(i int) string { return fmt.Sprintf("signer%d.test", i) }
			for i := range n + warm {
				more = append(more, domainOf(i))
			}
		}
		keys := publishSigner(b, d, more...)
		if selectors != nil {
			keys = slices.DeleteFunc(keys, func(k signingKey) bool { return !slices.Contains(selectors, k.sel) })
		}
		const rcpt = "bench1@bench.test"
		msgs := signedMessages(b, n+warm, rcpt, keys, domainOf)
		from := func(i int) string { return "bounce@" + signerDomain }
		if cold {
			from = func(i int) string { return "bounce@" + domainOf(i) }
		}
		servers := map[bool]*server{}
		for _, on := range []bool{false, true} {
			servers[on] = checksServer(b, on, d.Addr)
			sendMessages(b, servers[on].smtp, from, rcpt, msgs[:warm], 1)
		}
		wall := map[bool]time.Duration{}
		cpu := map[bool]float64{}
		var costs []float64
		var onQueries int64
		for round := range inboundRounds {
			// The legs alternate which goes first, so neither always
			// follows the other's leftovers.
			order := []bool{round%2 == 1, round%2 == 0}
			var took [2]time.Duration
			for _, on := range order {
				s := servers[on]
				for _, other := range servers {
					quietCPU(other.cmd.Process.Pid)
				}
				cpu0, queries0 := quietCPU(s.cmd.Process.Pid), d.Queries()
				first := warm + round*inboundBurst
				start := time.Now()
				sendMessages(b, s.smtp, func(i int) string { return from(first + i) }, rcpt, msgs[first:first+inboundBurst], ingestConns)
				took[map[bool]int{false: 0, true: 1}[on]] = time.Since(start)
				cpu[on] += quietCPU(s.cmd.Process.Pid) - cpu0
				if on {
					onQueries += d.Queries() - queries0
				}
			}
			wall[false] += took[0]
			wall[true] += took[1]
			costs = append(costs, 100*(1-took[0].Seconds()/took[1].Seconds()))
		}
		for on, s := range servers {
			if got := pop3Count(b, s.pop3, rcpt); got != n+warm {
				b.Fatalf("checks on=%v: %d messages stored, want %d", on, got, n+warm)
			}
			s.stop()
		}
		b.Logf("cost per round, %%: %.1f", costs)
		slices.Sort(costs)
		rate := func(on bool) float64 { return float64(n) / wall[on].Seconds() }
		b.ReportMetric(rate(false), "off-msgs/s")
		b.ReportMetric(rate(true), "on-msgs/s")
		b.ReportMetric(100*(1-rate(true)/rate(false)), "cost-%")
		b.ReportMetric((costs[len(costs)/2-1]+costs[len(costs)/2])/2, "median-cost-%")
		b.ReportMetric(costs[0], "min-cost-%")
		b.ReportMetric(costs[len(costs)-1], "max-cost-%")
		b.ReportMetric(cpu[false]*1000/float64(n), "off-cpu-ms/msg")
		b.ReportMetric(cpu[true]*1000/float64(n), "on-cpu-ms/msg")
		b.ReportMetric(100*(cpu[true]/cpu[false]-1), "cpu-cost-%")
		b.ReportMetric(float64(onQueries)/float64(n), "on-dns-queries/msg")
	}
}

// quietCPU waits until the server has finished the work a burst leaves
// behind (the text index is written once deliveries pause) and returns
// its CPU seconds: whether that work fell inside a measurement or after
// it would otherwise swing the CPU per message by a third.
func quietCPU(pid int) float64 {
	last, _, _ := procStats(pid)
	for range 60 {
		time.Sleep(500 * time.Millisecond)
		cpu, _, _ := procStats(pid)
		if cpu-last < 0.015 {
			return cpu
		}
		last = cpu
	}
	return last
}

// processCPU is this process's CPU time in seconds.
func processCPU() float64 {
	cpu, _, _ := procStats(os.Getpid())
	return cpu
}

// BenchmarkDKIMVerify times the verification of 10,000 signed 4 KiB
// messages, each its own (subject, Message-ID, date), in process with
// the key from a warm cache, per algorithm: one signature each, checked
// by the whole Check with the other checks off. Run with -benchtime 1x;
// µs/msg is the figure.
func BenchmarkDKIMVerify(b *testing.B) {
	const n = 10000
	d := queuetest.StartDNS(b)
	keys := publishSigner(b, d)
	res := resolve.New(resolve.Options{Servers: []string{d.Addr}})
	c := authcheck.New(authcheck.Options{Resolver: res, Hostname: "mx.bench.test",
		Skip: map[string]bool{"spf": true, "dmarc": true, "arc": true, "iprev": true}})
	for _, k := range keys {
		name := map[string]string{"ed": "ed25519", "rsa": "rsa2048"}[k.sel]
		b.Run(name, func(b *testing.B) {
			msgs := signedMessages(b, n, "bench1@bench.test", []signingKey{k}, nil)
			timeChecks(b, c, checkedInputs(b, c, msgs, "h", "x@"+signerDomain, "dkim=pass"))
		})
	}
}

// BenchmarkCheckAll times the whole of Check on 10,000 signed 4 KiB
// messages (one RSA-2048 signature, SPF pass, DMARC p=reject), every
// check on, answers from a warm cache: what port 25's checks cost per
// message in CPU, without the SMTP session and the store around them.
func BenchmarkCheckAll(b *testing.B) {
	const n = 10000
	d := queuetest.StartDNS(b)
	keys := publishSigner(b, d)
	keys = slices.DeleteFunc(keys, func(k signingKey) bool { return k.sel != "rsa" })
	d.Add(b, `1.0.0.127.in-addr.arpa. 300 PTR mail.`+signerDomain+`.`, `mail.`+signerDomain+`. 300 A 127.0.0.1`)
	c := authcheck.New(authcheck.Options{Resolver: resolve.New(resolve.Options{Servers: []string{d.Addr}}), Hostname: "mx.bench.test"})
	msgs := signedMessages(b, n, "bench1@bench.test", keys, nil)
	timeChecks(b, c, checkedInputs(b, c, msgs, "mail."+signerDomain, "bounce@"+signerDomain, "dkim=pass", "spf=pass", "dmarc=pass", "iprev=pass"))
}

// checkedInputs makes the checks' inputs for msgs, from 127.0.0.1 with
// helo and mailFrom, and fails unless c's verdict on each says every one
// of want.
func checkedInputs(b *testing.B, c *authcheck.Checker, msgs [][]byte, helo, mailFrom string, want ...string) []authcheck.Input {
	inputs := make([]authcheck.Input, len(msgs))
	for i, msg := range msgs {
		inputs[i] = authcheck.Input{IP: netip.MustParseAddr("127.0.0.1"), Helo: helo, MailFrom: mailFrom,
			Message: bytes.NewReader(msg), Size: int64(len(msg))}
		if v := c.Check(context.Background(), inputs[i]); !containsEvery(v.Header, want) {
			b.Fatalf("message %d: %s, want %v", i, v.Header, want)
		}
	}
	return inputs
}

func containsEvery(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// timeChecks runs c on every input b.N times and reports the clock and
// the CPU time per message (CPU time, unlike the clock, does not count
// the time other processes of a busy machine take).
func timeChecks(b *testing.B, c *authcheck.Checker, inputs []authcheck.Input) {
	cpu0 := processCPU()
	b.ResetTimer()
	for range b.N {
		for _, in := range inputs {
			c.Check(context.Background(), in)
		}
	}
	n := float64(b.N * len(inputs))
	b.ReportMetric(float64(b.Elapsed().Microseconds())/n, "µs/msg")
	b.ReportMetric((processCPU()-cpu0)*1e6/n, "cpu-µs/msg")
}
