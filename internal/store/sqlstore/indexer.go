package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// New bodies enter the text index shortly after their delivery, not in its
// transaction: a delivery commits its body row as not indexed yet
// (textNotIndexed) and hands the words it cut to the indexer. The indexer
// writes the words of many deliveries into text.db in one transaction of
// that database's own writer (textdb.go), then marks those bodies indexed
// in one short operation of the mail writer. Until then a search reads such
// a body's text itself, so results are right all along. Words lost in a
// crash are cut again by Reindex. Bodies purged from the mail database are
// removed from the index the same way.
//
// Deliveries come first: during a burst the indexer waits until deliveries
// pause (indexQuiet) or the waiting words grow past indexBusyBytes, so the
// CPU an index write takes is not taken from the sessions waiting for their
// commit. Larger batches also cost the FTS5 index fewer segment merges.
//
// Readers come first too: while clients read messages (bodies, listings)
// the indexer writes nothing until they pause (readQuiet), unless the words
// waiting grow past indexYieldBytes. A client fetching right after a burst
// of APPENDs otherwise waited for the CPU and the collector behind the
// index catching up: a random FETCH BODY[] took 1 ms instead of 0.2.

const (
	indexEvery = 100 * time.Millisecond
	// indexQuiet is how long deliveries must pause before the indexer
	// writes what waits.
	indexQuiet = 300 * time.Millisecond
	// indexBusyBytes is how many bytes of words may wait during a burst
	// of deliveries; beyond, they are indexed anyway.
	indexBusyBytes = 2 << 20
	// readQuiet is how long reads must pause before the indexer writes.
	readQuiet = 250 * time.Millisecond
	// indexYieldBytes is how many bytes of words may wait while clients
	// read; beyond, they are indexed anyway.
	indexYieldBytes = 32 << 20
	// indexBatch bounds the bodies indexed per text.db transaction.
	indexBatch = 1000
	// maxWaitingRemovals bounds the purged bodies whose removal from the
	// index waits for a pause.
	maxWaitingRemovals = 100000
	// maxPendingBytes bounds the words held in memory; beyond, bodies wait
	// for Reindex.
	maxPendingBytes = 64 << 20
)

type indexer struct {
	mu           sync.Mutex
	pending      []ftsRow
	pendingBytes int
	// waiting holds the words of the pending bodies by id, so a search
	// answers for them as the index would.
	waiting    map[int64]textTerms
	gone       []int64
	lastQueued time.Time
	// lastRead is when a client last read a message (Unix nanoseconds).
	lastRead atomic.Int64
	wake     chan struct{}
	done     chan struct{}
	// work serialises batches: the indexer goroutine and FlushIndex.
	work sync.Mutex
}

func (s *Store) startIndexer() {
	s.idx = &indexer{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.runIndexer()
}

func (r ftsRow) size() int { return len(r.terms.body) + len(r.terms.headers) }

// queue takes the words of committed bodies and the ids of purged ones.
func (x *indexer) queue(rows []ftsRow, gone []int64) {
	x.mu.Lock()
	for _, r := range rows {
		if x.pendingBytes+r.size() > maxPendingBytes {
			break
		}
		x.pending = append(x.pending, r)
		x.pendingBytes += r.size()
		if x.waiting == nil {
			x.waiting = map[int64]textTerms{}
		}
		x.waiting[r.blobID] = r.terms
	}
	x.gone = append(x.gone, x.cancel(gone)...)
	x.lastQueued = time.Now()
	busy := x.pendingBytes >= indexBusyBytes
	x.mu.Unlock()
	if busy {
		select {
		case x.wake <- struct{}{}:
		default:
		}
	}
}

// cancel drops the waiting words of bodies purged before they were
// indexed, and returns the purged bodies that text.db may hold (those a
// batch under way may write too).
func (x *indexer) cancel(gone []int64) []int64 {
	if len(gone) == 0 || len(x.pending) == 0 {
		return gone
	}
	purged := make(map[int64]bool, len(gone))
	for _, id := range gone {
		purged[id] = true
	}
	kept := x.pending[:0]
	for _, r := range x.pending {
		if purged[r.blobID] {
			purged[r.blobID] = false
			x.pendingBytes -= r.size()
			delete(x.waiting, r.blobID)
			continue
		}
		kept = append(kept, r)
	}
	clear(x.pending[len(kept):])
	x.pending = kept
	indexed := gone[:0:0]
	for _, id := range gone {
		if purged[id] {
			indexed = append(indexed, id)
		}
	}
	return indexed
}

// indexed forgets the words of bodies now in text.db and marked indexed.
func (x *indexer) indexed(rows []ftsRow) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, r := range rows {
		delete(x.waiting, r.blobID)
	}
}

// waitingTerms returns the words of a body waiting to be indexed.
func (x *indexer) waitingTerms(blobID int64) (textTerms, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	t, ok := x.waiting[blobID]
	return t, ok
}

// due tells what the indexer should write now: nothing; the waiting words
// alone, during a burst that has piled up indexBusyBytes of them; or also
// the removals of purged bodies, once deliveries pause. Removals wait for a
// pause because FTS5 pays for them in the merges that follow (each merge
// checks its rows against the deleted ones).
func (x *indexer) due() (words, removals bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.pending) == 0 && len(x.gone) == 0 {
		return false, false
	}
	if x.yielding() {
		return false, false
	}
	if time.Since(x.lastQueued) >= indexQuiet || len(x.gone) >= maxWaitingRemovals {
		return true, true
	}
	return x.pendingBytes >= indexBusyBytes, false
}

// noteRead records that a client is reading messages.
func (x *indexer) noteRead() { x.lastRead.Store(time.Now().UnixNano()) }

// yielding tells whether the indexer should leave the CPU to readers now;
// x.mu is held.
func (x *indexer) yielding() bool {
	return time.Since(time.Unix(0, x.lastRead.Load())) < readQuiet && x.pendingBytes < indexYieldBytes
}

func (x *indexer) yieldingNow() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.yielding()
}

func (x *indexer) take(removals bool) ([]ftsRow, []int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := min(indexBatch, len(x.pending))
	rows := x.pending[:n:n]
	x.pending = x.pending[n:]
	for _, r := range rows {
		x.pendingBytes -= r.size()
	}
	if len(x.pending) == 0 {
		x.pending = nil // let the backing array go
	}
	if !removals {
		return rows, nil
	}
	g := min(indexBatch, len(x.gone))
	gone := x.gone[:g:g]
	x.gone = x.gone[g:]
	return rows, gone
}

func (s *Store) runIndexer() {
	defer close(s.idx.done)
	t := time.NewTicker(indexEvery)
	defer t.Stop()
	for {
		removals := false
		select {
		case <-s.closed:
			return
		case <-t.C:
			var words bool
			if words, removals = s.idx.due(); !words {
				continue
			}
		case <-s.idx.wake:
		}
		if err := s.flushIndex(context.Background(), removals, true); err != nil {
			s.log.Warn("text index", "err", err) // the bodies stay unindexed; Reindex comes by
		}
	}
}

// FlushIndex writes the words still waiting and removes those of purged
// bodies: searches stay exact without it, only faster with it (tests and
// benchmarks call it).
func (s *Store) FlushIndex(ctx context.Context) error { return s.flushIndex(ctx, true, false) }

// flushIndex writes batches until nothing waits, or, with yield, until
// clients start reading.
func (s *Store) flushIndex(ctx context.Context, removals, yield bool) error {
	s.idx.work.Lock()
	defer s.idx.work.Unlock()
	for {
		if yield && s.idx.yieldingNow() {
			return nil
		}
		rows, gone := s.idx.take(removals)
		if len(rows) == 0 && len(gone) == 0 {
			return nil
		}
		err := s.indexRows(ctx, rows, gone)
		// Indexed, or left to Reindex: either way no longer waiting.
		s.idx.indexed(rows)
		if err != nil {
			return err
		}
	}
}

func (s *Store) indexRows(ctx context.Context, rows []ftsRow, gone []int64) error {
	if err := s.text.write(ctx, rows, gone, false); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		for _, r := range rows {
			state := textIndexed
			if !r.terms.complete {
				state = textPartial
			}
			if _, err := tx.ExecContext(ctx, `UPDATE blobs SET text_state = ? WHERE id = ? AND text_state = 2`, state, r.blobID); err != nil {
				return err
			}
		}
		return nil
	})
}
