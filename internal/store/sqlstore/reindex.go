package sqlstore

import (
	"context"
	"time"

	"postern/internal/store"
)

// Bodies stored before the text index existed (text_state 2, after the
// upgrade of migration 0009) are indexed in the background, a batch at a
// time; until then a search reads their text itself, so results are right
// all along, only slower.

// reindexBatch bounds the bodies parsed per writer operation.
const reindexBatch = 64

// Reindex indexes bodies that are not indexed yet and returns how many it
// did. pause is slept between batches, to leave the machine to mail.
func (s *Store) Reindex(ctx context.Context, pause time.Duration) (int, error) {
	// Bodies delivered from now on are the indexer's.
	var upto int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM blobs`).Scan(&upto); err != nil {
		return 0, err
	}
	total := 0
	var after int64
	for ctx.Err() == nil {
		ids, err := int64sRead(ctx, s, `SELECT b.id FROM blobs b WHERE b.text_state = 2 AND b.id > ? AND b.id <= ?
			AND EXISTS (SELECT 1 FROM messages m WHERE m.blob_id = b.id) ORDER BY b.id LIMIT ?`, after, upto, reindexBatch)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		after = ids[len(ids)-1]
		rows := make([]reindexRow, 0, len(ids))
		for _, id := range ids {
			if _, waiting := s.idx.waitingTerms(id); waiting {
				continue // the indexer has its words
			}
			p, err := s.parseBlob(ctx, id, false)
			if err != nil {
				return total, err
			}
			if p == nil {
				continue // gone meanwhile
			}
			meta := store.MessageMeta{SearchText: p.SearchText, Headers: p.Headers}
			rows = append(rows, reindexRow{id: id, terms: termsOf(meta), refs: refsOf(meta)})
		}
		if err := s.reindexRows(ctx, rows); err != nil {
			return total, err
		}
		total += len(rows)
		if pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
		}
	}
	return total, ctx.Err()
}

type reindexRow struct {
	id    int64
	terms textTerms
	refs  string
}

// reindexRows writes the words into text.db, then marks the bodies indexed
// and gives their messages the References field kept since.
func (s *Store) reindexRows(ctx context.Context, rows []reindexRow) error {
	fts := make([]ftsRow, len(rows))
	for i, r := range rows {
		fts[i] = ftsRow{blobID: r.id, terms: r.terms}
	}
	if err := s.text.write(ctx, fts, nil, true); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		for _, r := range rows {
			state := textIndexed
			if !r.terms.complete {
				state = textPartial
			}
			res, err := tx.ExecContext(ctx, `UPDATE blobs SET text_state = ? WHERE id = ? AND text_state = 2`, state, r.id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 || r.refs == "" {
				continue // purged or indexed meanwhile, or nothing to keep
			}
			if _, err := tx.ExecContext(ctx, `UPDATE message_meta SET refs = ?
				WHERE refs = '' AND message_id IN (SELECT id FROM messages WHERE blob_id = ?)`, r.refs, r.id); err != nil {
				return err
			}
		}
		return nil
	})
}

// int64sRead runs a query of one integer column on the read pool.
func int64sRead(ctx context.Context, s *Store, q string, args ...any) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
