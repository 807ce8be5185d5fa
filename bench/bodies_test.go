package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkIMAPBodiesWhileIndexing is the shared compare's imap steps in
// little: 10,000 messages APPENDed on one connection, then 100 random UID
// FETCH BODY.PEEK[] one at a time at once, while the text index catches
// up with the appends, and again once the server is idle. A reader must
// not wait for the indexer: the latencies during and after should match.
func BenchmarkIMAPBodiesWhileIndexing(b *testing.B) {
	const n, size = 10000, 4096
	s := startIMAPServer(b)
	for range b.N {
		ic := dialIMAP(b, s.imap, "bench1@bench.test", s.appPass)
		mbox := fmt.Sprintf("bodies%d", time.Now().UnixNano())
		ic.must("CREATE "+mbox, nil)
		msgs := make([][]byte, n)
		for i := range msgs {
			msgs[i] = genMIME(i, size)
		}
		ic.appendAll(mbox, msgs, 64)
		ic.must("SELECT "+mbox, nil)
		during := randomBodies(b, ic, n)
		quietCPU(s.cmd.Process.Pid)
		after := randomBodies(b, ic, n)
		ic.close()
		b.ReportMetric(during[0], "during_p50_ms")
		b.ReportMetric(during[1], "during_p99_ms")
		b.ReportMetric(after[0], "after_p50_ms")
		b.ReportMetric(after[1], "after_p99_ms")
		b.ReportMetric(during[0]/after[0], "p50_during/after")
	}
}

// randomBodies fetches 100 random whole messages of the selected mailbox
// of n messages and returns the p50 and p99 latency in milliseconds.
func randomBodies(b *testing.B, ic *imapc, n int) [2]float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	var times []float64
	for range 100 {
		got := false
		t := time.Now()
		ic.must(fmt.Sprintf("UID FETCH %d BODY.PEEK[]", 1+rng.IntN(n)), func(l string) {
			got = got || strings.Contains(l, "BODY[]")
		})
		times = append(times, float64(time.Since(t).Microseconds())/1000)
		if !got {
			b.Fatal("FETCH BODY.PEEK[]: no body")
		}
	}
	slices.Sort(times)
	return [2]float64{times[len(times)/2], times[len(times)*99/100]}
}
