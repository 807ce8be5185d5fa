package sqlstore

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// New bodies enter the text index shortly after their delivery, not in its
// transaction: a delivery commits its body row as not indexed yet
// (textNotIndexed) and hands the words it cut to the indexer, which writes
// those of many deliveries in one operation. The index then grows by large
// segments instead of one per commit, and a delivery's commit does no FTS
// work. Until then a search reads such a body's text itself, so results are
// right all along. Words lost in a crash are cut again by Reindex.

const (
	indexEvery = 250 * time.Millisecond
	// indexBatch bounds the bodies indexed per writer operation: large
	// enough that the index grows by sizeable segments, small enough that
	// deliveries queued behind it in the writer hardly wait.
	indexBatch = 200
	// maxPendingIndex bounds the words held in memory; beyond, bodies wait
	// for Reindex.
	maxPendingIndex = 50000
)

type indexer struct {
	mu      sync.Mutex
	pending []ftsRow
	wake    chan struct{}
	done    chan struct{}
}

func (s *Store) startIndexer() {
	s.idx = &indexer{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.runIndexer()
}

// queueIndex takes the words of committed bodies.
func (x *indexer) queueIndex(rows []ftsRow) {
	x.mu.Lock()
	room := maxPendingIndex - len(x.pending)
	if room < len(rows) {
		rows = rows[:max(room, 0)]
	}
	x.pending = append(x.pending, rows...)
	full := len(x.pending) >= 4*indexBatch
	x.mu.Unlock()
	if full {
		select {
		case x.wake <- struct{}{}:
		default:
		}
	}
}

func (x *indexer) take(n int) []ftsRow {
	x.mu.Lock()
	defer x.mu.Unlock()
	n = min(n, len(x.pending))
	rows := x.pending[:n:n]
	x.pending = x.pending[n:]
	if len(x.pending) == 0 {
		x.pending = nil
	}
	return rows
}

func (s *Store) runIndexer() {
	defer close(s.idx.done)
	t := time.NewTicker(indexEvery)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
		case <-s.idx.wake:
		}
		for {
			rows := s.idx.take(indexBatch)
			if len(rows) == 0 {
				break
			}
			if err := s.writeIndex(context.Background(), rows); err != nil {
				s.log.Warn("text index", "bodies", len(rows), "err", err)
				break // they stay unindexed; Reindex comes by
			}
			// Let the deliveries queued meanwhile go first.
			runtime.Gosched()
		}
	}
}

// FlushIndex writes the words still waiting: searches stay exact without
// it, only faster with it (tests and benchmarks call it).
func (s *Store) FlushIndex(ctx context.Context) error {
	for {
		rows := s.idx.take(indexBatch)
		if len(rows) == 0 {
			return nil
		}
		if err := s.writeIndex(ctx, rows); err != nil {
			return err
		}
	}
}

// writeIndex indexes bodies still marked not indexed (a purged one is gone,
// one indexed meanwhile is left alone).
func (s *Store) writeIndex(ctx context.Context, rows []ftsRow) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		for _, r := range rows {
			state := textIndexed
			if !r.terms.complete {
				state = textPartial
			}
			res, err := tx.ExecContext(ctx, `UPDATE blobs SET text_state = ? WHERE id = ? AND text_state = 2`, state, r.blobID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				e.ftsAdd = append(e.ftsAdd, r)
			}
		}
		return nil
	})
}
