package sqlstore

import (
	"context"
	"database/sql"
)

// Collecting bodies nothing references. An expunge, a finished queue entry
// or a deleted mailbox only drops references (refs = refs - 1): deleting
// the blobs row and its full-text entries is left to the maintenance loop,
// in small batches, so that EXPUNGE costs the same whatever the size of the
// index. A body in a segment leaves dead space for compaction; a body in a
// file of its own is removed after the commit.

// purgeBatch bounds one purge transaction, so deliveries queued behind it
// in the writer wait little.
const purgeBatch = 256

// Purge deletes the rows of bodies that nothing references, with their
// full-text entries; it returns how many it deleted.
func (s *Store) Purge(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
			var err error
			n, err = purgeSome(ctx, tx, e)
			return err
		})
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

func purgeSome(ctx context.Context, tx *wtx, e *effects) (int, error) {
	if err := expireUploads(ctx, tx); err != nil {
		return 0, err
	}
	// A queue entry holds a reference of its own; the NOT EXISTS is a
	// safety net for rows from before it did. An upload younger than
	// store.UploadTTL keeps its body (uploads.go).
	rows, err := tx.QueryContext(ctx, `SELECT id, blob_key FROM blobs b WHERE refs <= 0
		AND NOT EXISTS (SELECT 1 FROM queue_messages q WHERE q.blob_id = b.id)
		AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.blob_id = b.id) LIMIT ?`, purgeBatch)
	if err != nil {
		return 0, err
	}
	var ids []int64
	var keys []string
	for rows.Next() {
		var id int64
		var key sql.NullString
		if err := rows.Scan(&id, &key); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
		if key.Valid {
			keys = append(keys, key.String)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE id = ?`, id); err != nil {
			return 0, err
		}
	}
	e.unindexed = append(e.unindexed, ids...)
	e.blobKeys = append(e.blobKeys, keys...)
	return len(ids), nil
}
