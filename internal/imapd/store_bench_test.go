package imapd

import "testing"

// BenchmarkStoreAll times STORE 1:* +FLAGS.SILENT (\Flagged) on 10,000
// messages, then its removal, as the side-by-side compare's IMAP workload
// sends it (goal: 50 ms each on a grown store); a round is both.
func BenchmarkStoreAll(b *testing.B) {
	bc := newFetchBench(b, benchMailboxSize, variedMessage)
	for b.Loop() {
		bc.run(b, `STORE 1:* +FLAGS.SILENT (\Flagged)`)
		bc.run(b, `STORE 1:* -FLAGS.SILENT (\Flagged)`)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/2000, "ms/store")
}
