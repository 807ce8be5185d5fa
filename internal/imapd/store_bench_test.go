package imapd

import (
	"testing"
	"time"
)

// BenchmarkStoreAll times STORE 1:* +FLAGS.SILENT (\Flagged) on 10,000
// messages, then its removal, as the side-by-side compare's IMAP workload
// sends it (goal: 50 ms each on a grown store); a round is both.
func BenchmarkStoreAll(b *testing.B) {
	bc := newFetchBench(b, benchMailboxSize, variedMessage)
	var cpu time.Duration
	for b.Loop() {
		t0 := processCPU(b)
		bc.run(b, `STORE 1:* +FLAGS.SILENT (\Flagged)`)
		bc.run(b, `STORE 1:* -FLAGS.SILENT (\Flagged)`)
		cpu += processCPU(b) - t0
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/2000, "ms/store")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N)/2000, "cpu-ms/store")
}
