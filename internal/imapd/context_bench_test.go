package imapd

import "testing"

// BenchmarkLiveSortNoop times a NOOP on a mailbox of 10,000 messages,
// without and then with a live SORT RETURN (UPDATE) (CONTEXT=SORT): what
// every command costs a client that keeps a sorted view when nothing
// changed.
func BenchmarkLiveSortNoop(b *testing.B) {
	conn := newSearchBench(b, benchMailboxSize)
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			conn.run(b, "NOOP")
		}
	})
	conn.run(b, "SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL")
	conn.run(b, "NOOP") // the first refresh runs the sort once more
	b.Run("live-sort", func(b *testing.B) {
		for b.Loop() {
			conn.run(b, "NOOP")
		}
	})
}
