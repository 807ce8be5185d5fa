package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"postern/internal/store"
)

var _ store.QueueStore = (*Store)(nil)

// Enqueue implements store.QueueStore. Like Deliver, it owns the blob: when
// the call fails, an unreferenced body file is removed.
func (s *Store) Enqueue(ctx context.Context, nb store.NewBlob, msg store.NewQueueMessage, now time.Time) (int64, error) {
	if err := checkBlob(nb); err != nil {
		return 0, err
	}
	if len(msg.Recipients) == 0 {
		return 0, invalid("queue: no recipients")
	}
	var id int64
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		blobID, err := insertQueueBlob(ctx, tx, nb)
		if err != nil {
			return err
		}
		var acct any
		if msg.AccountID != 0 {
			acct = msg.AccountID
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO queue_messages (blob_id, sender, account_id, env_id, dsn_ret, is_dsn, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, blobID, msg.Sender, acct, msg.EnvID, msg.Ret, msg.IsDSN, now.Unix())
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		for _, r := range msg.Recipients {
			if _, err := tx.ExecContext(ctx, `INSERT INTO queue_recipients (queue_id, rcpt, orcpt, notify, status, next_attempt, updated_at)
				VALUES (?, ?, ?, ?, 'pending', ?, ?)`, id, r.Rcpt, r.ORcpt, r.Notify, now.Unix(), now.Unix()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.dropUnusedBlob(nb.Key)
		return 0, err
	}
	return id, nil
}

// insertQueueBlob returns the id of the blob row for nb with one more
// reference, creating the row if needed. Unlike a mailbox copy, a queued
// body is never searched: it gets no full-text rows.
func insertQueueBlob(ctx context.Context, tx *wtx, nb store.NewBlob) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM blobs WHERE blob_key = ?`, nb.Key).Scan(&id)
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		// As for Deliver: never a row for a body file that is not there.
		if nb.Inline == nil {
			if n, err := tx.w.s.blobs.Size(nb.Key); err != nil || n != nb.Size {
				return 0, invalid("blob %s: size %d, file %d (%v)", nb.Key, nb.Size, n, err)
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO blobs (blob_key, size, refs, created_at, data) VALUES (?, ?, 0, ?, ?)`,
			nb.Key, nb.Size, now(), nb.Inline)
		if err != nil {
			return 0, err
		}
		if id, err = res.LastInsertId(); err != nil {
			return 0, err
		}
	default:
		return 0, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE blobs SET refs = refs + 1 WHERE id = ?`, id)
	return id, err
}

const queueCols = `q.id, q.blob_id, b.size, q.sender, COALESCE(q.account_id, 0), q.env_id, q.dsn_ret, q.is_dsn, q.held, q.warned, q.created_at`

func scanQueueMessage(r scanner) (store.QueueMessage, error) {
	var m store.QueueMessage
	var created int64
	err := r.Scan(&m.ID, &m.BlobID, &m.Size, &m.Sender, &m.AccountID, &m.EnvID, &m.Ret, &m.IsDSN, &m.Held, &m.Warned, &created)
	m.CreatedAt = time.Unix(created, 0)
	return m, err
}

// queueMessages runs a query selecting queueCols and loads the recipients
// of every message with one more query.
func (s *Store) queueMessages(ctx context.Context, q string, args ...any) ([]store.QueueMessage, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []store.QueueMessage
	byID := map[int64]int{}
	for rows.Next() {
		m, err := scanQueueMessage(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		byID[m.ID] = len(out)
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	ids := make([]int64, len(out))
	for i, m := range out {
		ids[i] = m.ID
	}
	for chunk := range slices.Chunk(ids, 500) {
		rs, err := s.queueRecipients(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			m := &out[byID[r.queueID]]
			m.Recipients = append(m.Recipients, r.QueueRecipient)
		}
	}
	return out, nil
}

// inList returns "(?, ?, ...)" and the arguments for an IN clause.
func inList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")", args
}

type queuedRecipient struct {
	store.QueueRecipient
	queueID int64
}

func (s *Store) queueRecipients(ctx context.Context, ids []int64) ([]queuedRecipient, error) {
	in, args := inList(ids)
	rows, err := s.rdb.QueryContext(ctx, `SELECT queue_id, id, rcpt, orcpt, notify, status, attempts, next_attempt, last_error, updated_at
		FROM queue_recipients WHERE queue_id IN `+in+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []queuedRecipient
	for rows.Next() {
		var r queuedRecipient
		var next, upd int64
		if err := rows.Scan(&r.queueID, &r.ID, &r.Rcpt, &r.ORcpt, &r.Notify, &r.Status, &r.Attempts, &next, &r.LastError, &upd); err != nil {
			return nil, err
		}
		r.NextAttempt, r.UpdatedAt = time.Unix(next, 0), time.Unix(upd, 0)
		out = append(out, r)
	}
	return out, rows.Err()
}

// notIn is an SQL condition excluding the given queue ids ("" when none).
func notIn(col string, ids []int64) (string, []any) {
	if len(ids) == 0 {
		return "", nil
	}
	in, args := inList(ids)
	return " AND " + col + " NOT IN " + in, args
}

// QueueDue implements store.QueueStore.
func (s *Store) QueueDue(ctx context.Context, now time.Time, limit int, exclude []int64) ([]store.QueueMessage, error) {
	cond, args := notIn("q.id", exclude)
	return s.queueMessages(ctx, `SELECT `+queueCols+` FROM queue_messages q JOIN blobs b ON b.id = q.blob_id
		WHERE q.held = 0`+cond+` AND q.id IN (SELECT queue_id FROM queue_recipients WHERE status = 'pending' AND next_attempt <= ?)
		ORDER BY q.id LIMIT ?`, append(args, now.Unix(), limit)...)
}

// QueueNextDue implements store.QueueStore.
func (s *Store) QueueNextDue(ctx context.Context, exclude []int64) (time.Time, bool, error) {
	var t sql.NullInt64
	cond, args := notIn("q.id", exclude)
	err := s.rdb.QueryRowContext(ctx, `SELECT MIN(r.next_attempt) FROM queue_recipients r
		JOIN queue_messages q ON q.id = r.queue_id WHERE r.status = 'pending' AND q.held = 0`+cond, args...).Scan(&t)
	if err != nil || !t.Valid {
		return time.Time{}, false, err
	}
	return time.Unix(t.Int64, 0), true, nil
}

// QueueMessage implements store.QueueStore.
func (s *Store) QueueMessage(ctx context.Context, id int64) (store.QueueMessage, error) {
	ms, err := s.queueMessages(ctx, `SELECT `+queueCols+` FROM queue_messages q JOIN blobs b ON b.id = q.blob_id WHERE q.id = ?`, id)
	if err != nil {
		return store.QueueMessage{}, err
	}
	if len(ms) == 0 {
		return store.QueueMessage{}, store.ErrNotFound
	}
	return ms[0], nil
}

// QueueList implements store.QueueStore.
func (s *Store) QueueList(ctx context.Context) ([]store.QueueMessage, error) {
	return s.queueMessages(ctx, `SELECT `+queueCols+` FROM queue_messages q JOIN blobs b ON b.id = q.blob_id ORDER BY q.id`)
}

// QueueUpdate implements store.QueueStore.
func (s *Store) QueueUpdate(ctx context.Context, id int64, updates []store.QueueUpdate, setWarned bool) (bool, error) {
	var done bool
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var blobID int64
		if err := tx.QueryRowContext(ctx, `SELECT blob_id FROM queue_messages WHERE id = ?`, id).Scan(&blobID); err != nil {
			return notFound(err)
		}
		t := now()
		for _, u := range updates {
			switch u.Status {
			case store.QueuePending, store.QueueDelivered, store.QueueFailed:
			default:
				return invalid("queue status %q", u.Status)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE queue_recipients SET status = ?, attempts = attempts + 1,
				next_attempt = ?, last_error = ?, updated_at = ? WHERE id = ? AND queue_id = ? AND status = 'pending'`,
				u.Status, u.NextAttempt.Unix(), clipError(u.Error), t, u.RecipientID, id); err != nil {
				return err
			}
		}
		if setWarned {
			if _, err := tx.ExecContext(ctx, `UPDATE queue_messages SET warned = 1 WHERE id = ?`, id); err != nil {
				return err
			}
		}
		var pending int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM queue_recipients WHERE queue_id = ? AND status = 'pending'`, id).Scan(&pending); err != nil {
			return err
		}
		if pending > 0 {
			return nil
		}
		done = true
		return deleteQueued(ctx, tx, e, id, blobID)
	})
	return done, err
}

// clipError bounds what a peer's reply can make us store.
func clipError(s string) string {
	if len(s) > 1000 {
		return s[:1000]
	}
	return s
}

// QueueDelete implements store.QueueStore.
func (s *Store) QueueDelete(ctx context.Context, id int64) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var blobID int64
		if err := tx.QueryRowContext(ctx, `SELECT blob_id FROM queue_messages WHERE id = ?`, id).Scan(&blobID); err != nil {
			return notFound(err)
		}
		return deleteQueued(ctx, tx, e, id, blobID)
	})
}

// deleteQueued removes an entry and drops its reference to the body.
func deleteQueued(ctx context.Context, tx *wtx, e *effects, id, blobID int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM queue_recipients WHERE queue_id = ?`, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM queue_messages WHERE id = ?`, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE blobs SET refs = refs - 1 WHERE id = ?`, blobID); err != nil {
		return err
	}
	return gcBlobs(ctx, tx, e)
}

// QueueHold implements store.QueueStore.
func (s *Store) QueueHold(ctx context.Context, id int64, held bool) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		return execOne(ctx, tx, `UPDATE queue_messages SET held = ? WHERE id = ?`, held, id)
	})
}

// QueueRetry implements store.QueueStore.
func (s *Store) QueueRetry(ctx context.Context, id int64, at time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		q := `UPDATE queue_recipients SET next_attempt = ? WHERE status = 'pending'`
		args := []any{at.Unix()}
		if id != 0 {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM queue_messages WHERE id = ?`, id).Scan(&one); err != nil {
				return notFound(err)
			}
			q += ` AND queue_id = ?`
			args = append(args, id)
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
