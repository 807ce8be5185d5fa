package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"postern/internal/store"
)

var _ store.QueueStore = (*Store)(nil)

// insertQueued adds a queue entry for a copy of blob blobID: the entry
// holds a reference on the body, so the body lives as long as the entry.
// Every recipient is due at now.
func insertQueued(ctx context.Context, tx *wtx, blobID int64, q store.QueuedCopy, now time.Time) (int64, error) {
	var acct any
	if q.AccountID != 0 {
		acct = q.AccountID
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO queue_messages (blob_id, skip, sender, account_id, env_id, dsn_ret, is_dsn, require_tls, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, blobID, q.Skip, q.Sender, acct, q.EnvID, q.Ret, q.IsDSN, q.RequireTLS, now.Unix())
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	for _, r := range q.Recipients {
		if _, err := tx.ExecContext(ctx, `INSERT INTO queue_recipients (queue_id, rcpt, orcpt, notify, status, next_attempt, updated_at)
			VALUES (?, ?, ?, ?, 'pending', ?, ?)`, id, r.Rcpt, r.ORcpt, r.Notify, now.Unix(), now.Unix()); err != nil {
			return 0, err
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE blobs SET refs = refs + 1 WHERE id = ?`, blobID)
	return id, err
}

const queueCols = `q.id, q.blob_id, q.skip, b.size - q.skip, q.sender, COALESCE(q.account_id, 0), q.env_id, q.dsn_ret, q.is_dsn, q.require_tls, q.held, q.warned, q.created_at`

func scanQueueMessage(r scanner) (store.QueueMessage, error) {
	var m store.QueueMessage
	var created int64
	err := r.Scan(&m.ID, &m.BlobID, &m.Skip, &m.Size, &m.Sender, &m.AccountID, &m.EnvID, &m.Ret, &m.IsDSN, &m.RequireTLS, &m.Held, &m.Warned, &created)
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
	rows, err := s.rdb.QueryContext(ctx, `SELECT queue_id, id, rcpt, orcpt, notify, status, attempts, next_attempt, last_error, last_peer, last_tls, updated_at
		FROM queue_recipients WHERE queue_id IN `+in+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []queuedRecipient
	for rows.Next() {
		var r queuedRecipient
		var next, upd int64
		if err := rows.Scan(&r.queueID, &r.ID, &r.Rcpt, &r.ORcpt, &r.Notify, &r.Status, &r.Attempts, &next, &r.LastError, &r.LastPeer, &r.LastTLS, &upd); err != nil {
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
		var blobID, created int64
		if err := tx.QueryRowContext(ctx, `SELECT blob_id, created_at FROM queue_messages WHERE id = ?`, id).Scan(&blobID, &created); err != nil {
			return notFound(err)
		}
		t := now()
		msg, err := queueMsg(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, u := range updates {
			switch u.Status {
			case store.QueuePending, store.QueueDelivered, store.QueueFailed:
			default:
				return invalid("queue status %q", u.Status)
			}
			var rcpt string
			err := tx.QueryRowContext(ctx, `UPDATE queue_recipients SET status = ?, attempts = attempts + 1,
				next_attempt = ?, last_error = ?, last_peer = ?, last_tls = ?, updated_at = ? WHERE id = ? AND queue_id = ? AND status = 'pending'
				RETURNING rcpt`,
				u.Status, u.NextAttempt.Unix(), clipError(u.Error), clipError(u.Peer), clipError(u.TLS), t, u.RecipientID, id).Scan(&rcpt)
			if errors.Is(err, sql.ErrNoRows) {
				continue // not pending any more: an earlier outcome won
			}
			if err != nil {
				return err
			}
			ev := store.LogEvent{Kind: queueLogKind(u.Status), Msg: msg, QueueID: id, Rcpt: rcpt, Detail: queueLogDetail(u)}
			if u.Status == store.QueueDelivered {
				ev.Delay = time.Since(time.Unix(created, 0))
			}
			if err := insertLog(ctx, tx, e, ev); err != nil {
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
		msg, err := queueMsg(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := insertLog(ctx, tx, e, store.LogEvent{Kind: store.LogDropped, Msg: msg, QueueID: id}); err != nil {
			return err
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
	e.purge = true
	return nil
}

// QueueHold implements store.QueueStore.
func (s *Store) QueueHold(ctx context.Context, id int64, held bool) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		if err := execOne(ctx, tx, `UPDATE queue_messages SET held = ? WHERE id = ?`, held, id); err != nil {
			return err
		}
		kind := store.LogReleased
		if held {
			kind = store.LogHeld
		}
		msg, err := queueMsg(ctx, tx, id)
		if err != nil {
			return err
		}
		return insertLog(ctx, tx, e, store.LogEvent{Kind: kind, Msg: msg, QueueID: id})
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
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		ev := store.LogEvent{Kind: store.LogRetried, QueueID: id, Detail: fmt.Sprintf("%d recipient(s) due now", n)}
		if id == 0 {
			ev.Msg, ev.Detail = selfMsg, fmt.Sprintf("every entry: %d recipient(s) due now", n)
		} else if ev.Msg, err = queueMsg(ctx, tx, id); err != nil {
			return err
		}
		return insertLog(ctx, tx, e, ev)
	})
	return int(n), err
}

// QueueCounts counts the queued messages by state: "held", "deferred"
// (some pending recipient was tried and failed) and "active" (due for a
// first attempt), for the dashboard and metrics.
func (s *Store) QueueCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT CASE WHEN q.held THEN 'held'
		WHEN EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.status = 'pending' AND r.attempts > 0) THEN 'deferred'
		ELSE 'active' END AS state, COUNT(*) FROM queue_messages q GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{"active": 0, "deferred": 0, "held": 0}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}
