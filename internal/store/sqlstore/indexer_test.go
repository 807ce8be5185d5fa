package sqlstore

import (
	"testing"
	"time"
)

// TestIndexerYieldsToReaders: words waiting after a burst are not written
// while a client reads, unless so many wait that memory comes first.
func TestIndexerYieldsToReaders(t *testing.T) {
	x := &indexer{wake: make(chan struct{}, 1)}
	x.queue([]ftsRow{{blobID: 1, terms: textTerms{body: "alpha bravo"}}}, nil)
	x.lastQueued = time.Now().Add(-time.Second) // deliveries paused
	if words, _ := x.due(); !words {
		t.Fatal("idle: the waiting words are not due")
	}
	x.noteRead()
	if words, _ := x.due(); words {
		t.Fatal("a client is reading: the indexer writes anyway")
	}
	if !x.yieldingNow() {
		t.Fatal("a client is reading: a batch under way does not stop")
	}
	x.mu.Lock()
	x.pendingBytes = indexYieldBytes
	x.mu.Unlock()
	if words, _ := x.due(); !words {
		t.Fatal("past indexYieldBytes the words wait for readers still")
	}
	x.mu.Lock()
	x.pendingBytes = 1
	x.mu.Unlock()
	x.lastRead.Store(time.Now().Add(-readQuiet).UnixNano())
	if words, _ := x.due(); !words {
		t.Fatal("reads paused: the waiting words are not due")
	}
}
