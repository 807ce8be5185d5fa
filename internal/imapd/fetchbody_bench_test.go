package imapd

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// BenchmarkFetchBodyRandom times FETCH n (BODY.PEEK[]) of one random
// message of 10,000, as the side-by-side compare's IMAP workload does it
// (go-imap-client), and with a client that only reads the reply
// (raw-client).
func BenchmarkFetchBodyRandom(b *testing.B) {
	bc := newFetchBench(b, benchMailboxSize, variedMessage)
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("raw-client", func(b *testing.B) {
		for b.Loop() {
			bc.run(b, fmt.Sprintf("FETCH %d (BODY.PEEK[])", 1+rng.IntN(benchMailboxSize)))
		}
	})
	b.Run("go-imap-client", func(b *testing.B) {
		c := goIMAPClient(b, bc)
		for b.Loop() {
			seq := uint32(1 + rng.IntN(benchMailboxSize))
			msgs, err := c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
			if err != nil || len(msgs) != 1 || len(msgs[0].BodySection) != 1 {
				b.Fatalf("fetch %d: %v", seq, err)
			}
		}
	})
}
