package bench

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const (
	submitMessages = 400
	submitConns    = 8
)

// BenchmarkSubmissionLatency: 400 messages of 4 KiB, each in its own
// authenticated session (AUTH PLAIN with the real argon2id password, MAIL,
// RCPT to a local account, DATA) over 8 parallel clients; it reports the
// time from AUTH to the 250 after DATA (p50, p99) and messages per second.
// The message is DKIM-signed (Ed25519 + RSA) on the way. Run with
// -benchtime 1x.
//
// The cheap-hash variant stores a minimal-cost argon2id hash, to show what
// the server spends besides password hashing.
func BenchmarkSubmissionLatency(b *testing.B) {
	b.Run("argon2id", func(b *testing.B) { benchSubmission(b, false) })
	b.Run("cheap-hash", func(b *testing.B) { benchSubmission(b, true) })
}

func benchSubmission(b *testing.B, cheap bool) {
	for range b.N {
		s := startServer(b, 2)
		if cheap {
			cheapPassword(b, s.dir, "bench1@bench.test")
		}
		lat := make([]time.Duration, submitMessages)
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, submitConns)
		start := time.Now()
		for range submitConns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= submitMessages {
						return
					}
					d, err := submitOne(s.subm, i)
					if err != nil {
						errs <- fmt.Errorf("message %d: %w", i, err)
						return
					}
					lat[i] = d
				}
			}()
		}
		wg.Wait()
		wall := time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(submitMessages)/wall.Seconds(), "msgs/s")
	}
}

// submitOne runs one session and returns the time from AUTH to the 250.
func submitOne(addr string, i int) (time.Duration, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.Hello("loadgen.example.net"); err != nil {
		return 0, err
	}
	from, to := "bench1@bench.test", "bench2@bench.test"
	t0 := time.Now()
	if err := c.Auth(sasl.NewPlainClient("", from, "benchpass")); err != nil {
		return 0, err
	}
	msg := strings.Replace(string(genMessage(i, messageSize, to)), "From: loadgen@example.net", "From: "+from, 1)
	if err := c.SendMail(from, []string{to}, strings.NewReader(msg)); err != nil {
		return 0, err
	}
	d := time.Since(t0)
	return d, c.Quit()
}
