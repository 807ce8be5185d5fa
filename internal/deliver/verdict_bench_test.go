package deliver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"postern/internal/authcheck"
	"postern/internal/queue/queuetest"
	"postern/internal/resolve"
)

// signedFixture is a checked pipeline whose DNS publishes what a
// well-run sender does for signer.test (SPF for the fixture's client,
// an RSA-2048 key, DMARC p=reject), and a 4 KiB message signed by it.
func signedFixture(b *testing.B, checked bool) (*fixture, []byte, *queuetest.DNS) {
	f := newFixture(b, nil)
	d := queuetest.StartDNS(b)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	rec := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	d.Add(b, `signer.test. 300 TXT "v=spf1 ip4:192.0.2.7 -all"`,
		`_dmarc.signer.test. 300 TXT "v=DMARC1; p=reject"`,
		`rsa._domainkey.signer.test. 300 TXT "`+rec[:200]+`" "`+rec[200:]+`"`)
	if checked {
		f.p.SetChecks(authcheck.New(authcheck.Options{Resolver: resolve.New(resolve.Options{Servers: []string{d.Addr}}),
			Hostname: "mx.example.test", IsLocal: f.p.IsLocalDomain}))
		f.p.authservID, f.p.counts = "mx.example.test", authcheck.NewTally()
	}
	var msg strings.Builder
	msg.WriteString("From: News <news@signer.test>\r\nTo: alice@example.test\r\nSubject: the news\r\n" +
		"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\nMessage-ID: <n1@signer.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	for msg.Len() < 4096 {
		msg.WriteString("The quick brown fox jumps over the lazy dog, again and again and again.\r\n")
	}
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, strings.NewReader(msg.String()), &dkim.SignOptions{Domain: "signer.test", Selector: "rsa", Signer: key,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"}}); err != nil {
		b.Fatal(err)
	}
	return f, signed.Bytes(), d
}

// BenchmarkDeliverChecks delivers one signed 4 KiB message from port 25
// per operation, with the inbound checks off and on (DNS answers from a
// warm cache), and reports the process's CPU time per message: the
// difference is what the checks cost a server. Profile it with
// -cpuprofile to see where.
func BenchmarkDeliverChecks(b *testing.B) {
	for _, checked := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[checked], func(b *testing.B) {
			f, msg, dnsServer := signedFixture(b, checked)
			deliver := func() {
				tx := f.p.Begin(Envelope{ID: "b1", Source: SourceMX, Sender: "bounce@signer.test",
					RemoteIP: netip.MustParseAddr("192.0.2.7"), Helo: "mail.signer.test"})
				if err := tx.AddRecipient(context.Background(), "alice@example.test", RcptOptions{}); err != nil {
					b.Fatal(err)
				}
				if _, err := tx.Deliver(context.Background(), bytes.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
			}
			deliver() // warms the DNS cache
			if checked && !strings.Contains(f.body(f.inbox(f.alice, "INBOX")[0].BlobID), "dkim=pass") {
				b.Fatal("the message did not pass DKIM")
			}
			cpu0, queries0 := cpuTime(), dnsServer.Queries()
			b.ResetTimer()
			for range b.N {
				deliver()
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(b.N), "cpu-µs/msg")
			b.ReportMetric(float64(dnsServer.Queries()-queries0)/float64(b.N), "dns-queries/msg")
		})
	}
}

// cpuTime is the process's user and system time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
