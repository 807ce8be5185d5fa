package sqlstore

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/store"
)

// cpuTime is the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchSetup(b *testing.B) (*Store, int64) {
	s := openTest(b)
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "example.org"); err != nil {
		b.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "bench@example.org", store.Credentials{})
	if err != nil {
		b.Fatal(err)
	}
	return s, a.ID
}

// benchText is about 4 KiB of words for the full-text index.
var benchText = strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ", 51)

// deliverBytes delivers body to the targets and fails the test on error.
func deliverBytes(tb testing.TB, s *Store, body []byte, meta store.MessageMeta, targets ...store.DeliveryTarget) []store.DeliveryResult {
	tb.Helper()
	out, err := s.Deliver(context.Background(), store.Delivery{Blob: store.NewBlob{Body: store.BytesBody(body), Meta: meta},
		InternalDate: time.Now(), Targets: targets})
	if err != nil {
		tb.Fatalf("Deliver: %v", err)
	}
	return out.Targets
}

// BenchmarkDeliver measures a delivery in the store: parallel deliveries
// of distinct 4 KiB messages (index text included) to one target, sharing
// commits (and segment syncs) through the writer.
func BenchmarkDeliver(b *testing.B) { benchDeliver(b, false) }

// BenchmarkDeliverLogged is BenchmarkDeliver with the delivery log rows
// the pipeline writes with a delivery (accepted, delivered).
func BenchmarkDeliverLogged(b *testing.B) { benchDeliver(b, true) }

func benchDeliver(b *testing.B, logged bool) {
	s, acct := benchSetup(b)
	meta := store.MessageMeta{Envelope: []byte(strings.Repeat("e", 300)), BodyStructure: []byte(strings.Repeat("b", 200)),
		Preview: benchText[:200], SearchText: benchText, Headers: "Subject: benchmark\nFrom: a@example.org"}
	body := make([]byte, 4096)
	b.SetParallelism(16) // SMTP sessions per core
	b.ReportAllocs()
	batches0, ops0 := s.Stats()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			nb := store.NewBlob{Body: store.BytesBody(body), Meta: meta}
			d := store.Delivery{Blob: nb, InternalDate: time.Now(), Targets: []store.DeliveryTarget{{AccountID: acct}}}
			if logged {
				// Random ids, as SMTP sessions give them.
				txn := strconv.FormatUint(rand.Uint64(), 32)
				d.Log = []store.LogEvent{
					{Kind: store.LogAccepted, TxnID: txn, MessageID: "bench-" + txn + "@example.net", Source: "mx",
						Sender: "loadgen@example.net", Detail: "to bench1@bench.test"},
					{Kind: store.LogDelivered, TxnID: txn, Rcpt: "bench1@bench.test", Detail: "bench1@bench.test INBOX", Target: 1},
				}
			}
			out, err := s.Deliver(context.Background(), d)
			if err != nil || out.Targets[0].Err != nil {
				b.Errorf("deliver: %v %v", err, out)
				return
			}
		}
	})
	// The search keys the background indexer adds are part of the cost.
	for logged {
		n, err := s.IndexLog(context.Background(), 5000)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	batches, ops := s.Stats()
	b.ReportMetric(float64(ops-ops0)/float64(max(batches-batches0, 1)), "ops/commit")
}
