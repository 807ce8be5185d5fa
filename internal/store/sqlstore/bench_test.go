package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// fakeBlob puts a body of size bytes where the blob store keeps key,
// without the fsyncs of a real commit, and returns its key.
func fakeBlob(tb testing.TB, s *Store, size int) string {
	var rnd [16]byte
	rand.Read(rnd[:])
	k := hex.EncodeToString(rnd[:])
	if err := os.WriteFile(filepath.Join(s.Blobs().Dir(), k[:2], k), make([]byte, size), 0o600); err != nil {
		tb.Fatal(err)
	}
	return k
}

// BenchmarkDeliver measures the database side of a delivery: parallel
// deliveries of distinct 4 KiB messages (index text included) to one
// target, sharing commits through the writer. The body files are written
// beforehand; see BenchmarkDeliverWithBlob for the whole path.
func BenchmarkDeliver(b *testing.B) {
	s, acct := benchSetup(b)
	meta := store.MessageMeta{Envelope: []byte(strings.Repeat("e", 300)), BodyStructure: []byte(strings.Repeat("b", 200)),
		Preview: benchText[:200], SearchText: benchText, Headers: "Subject: benchmark\nFrom: a@example.org"}
	keys := make(chan string, b.N)
	for range b.N {
		keys <- fakeBlob(b, s, 4096)
	}
	close(keys)
	b.SetParallelism(16) // SMTP sessions per core
	b.ReportAllocs()
	batches0, ops0 := s.Stats()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			nb := store.NewBlob{Key: <-keys, Size: 4096, Meta: meta}
			res, err := s.Deliver(context.Background(), nb, time.Now(), []store.DeliveryTarget{{AccountID: acct}})
			if err != nil || res[0].Err != nil {
				b.Errorf("deliver: %v %v", err, res)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	batches, ops := s.Stats()
	b.ReportMetric(float64(ops-ops0)/float64(max(batches-batches0, 1)), "ops/commit")
}

// BenchmarkDeliverWithBlob adds writing and fsyncing the 4 KiB body file.
func BenchmarkDeliverWithBlob(b *testing.B) {
	s, acct := benchSetup(b)
	body := []byte(strings.Repeat("x", 4096))
	meta := store.MessageMeta{SearchText: benchText, Headers: "Subject: benchmark"}
	b.SetParallelism(16)
	var fails atomic.Int64
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w, err := s.Blobs().Create()
			if err != nil {
				b.Error(err)
				return
			}
			w.Write(body)
			key, size, err := w.Commit()
			if err != nil {
				b.Error(err)
				return
			}
			res, err := s.Deliver(context.Background(), store.NewBlob{Key: key, Size: size, Inline: w.Inline(), Meta: meta}, time.Now(),
				[]store.DeliveryTarget{{AccountID: acct}})
			if err != nil || res[0].Err != nil {
				fails.Add(1)
			}
		}
	})
	b.StopTimer()
	if fails.Load() > 0 {
		b.Errorf("%d deliveries failed", fails.Load())
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
