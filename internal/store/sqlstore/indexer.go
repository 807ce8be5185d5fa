package sqlstore

import (
	"context"
	"sync"
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

const (
	indexEvery = 250 * time.Millisecond
	// indexBatch bounds the bodies indexed per text.db transaction.
	indexBatch = 500
	// maxPendingIndex bounds the words held in memory; beyond, bodies wait
	// for Reindex.
	maxPendingIndex = 50000
)

type indexer struct {
	mu      sync.Mutex
	pending []ftsRow
	gone    []int64
	wake    chan struct{}
	done    chan struct{}
	// work serialises batches: the indexer goroutine and FlushIndex.
	work sync.Mutex
}

func (s *Store) startIndexer() {
	s.idx = &indexer{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.runIndexer()
}

// queue takes the words of committed bodies and the ids of purged ones.
func (x *indexer) queue(rows []ftsRow, gone []int64) {
	x.mu.Lock()
	room := maxPendingIndex - len(x.pending)
	if room < len(rows) {
		rows = rows[:max(room, 0)]
	}
	x.pending = append(x.pending, rows...)
	x.gone = append(x.gone, gone...)
	full := len(x.pending) >= indexBatch || len(x.gone) >= indexBatch
	x.mu.Unlock()
	if full {
		select {
		case x.wake <- struct{}{}:
		default:
		}
	}
}

func (x *indexer) take() ([]ftsRow, []int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := min(indexBatch, len(x.pending))
	rows := x.pending[:n:n]
	x.pending = x.pending[n:]
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
		select {
		case <-s.closed:
			return
		case <-t.C:
		case <-s.idx.wake:
		}
		if err := s.FlushIndex(context.Background()); err != nil {
			s.log.Warn("text index", "err", err) // the bodies stay unindexed; Reindex comes by
		}
	}
}

// FlushIndex writes the words still waiting: searches stay exact without
// it, only faster with it (tests and benchmarks call it).
func (s *Store) FlushIndex(ctx context.Context) error {
	s.idx.work.Lock()
	defer s.idx.work.Unlock()
	for {
		rows, gone := s.idx.take()
		if len(rows) == 0 && len(gone) == 0 {
			return nil
		}
		if err := s.indexRows(ctx, rows, gone); err != nil {
			return err
		}
	}
}

// indexRows writes the words into text.db, then marks the bodies indexed
// in the mail database (a body purged or indexed meanwhile is left alone).
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
