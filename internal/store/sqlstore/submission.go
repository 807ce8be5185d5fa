package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"postern/internal/store"
)

var _ store.SubmissionStore = (*Store)(nil)

// Kinds of jmap_sequences.
const (
	seqIdentity   = "identity"
	seqSubmission = "submission"
)

// nextSeq takes the account's next modseq of kind.
func nextSeq(ctx context.Context, tx *wtx, accountID int64, kind string) (uint64, error) {
	var v uint64
	err := tx.QueryRowContext(ctx, `INSERT INTO jmap_sequences (account_id, kind, modseq) VALUES (?, ?, 1)
		ON CONFLICT (account_id, kind) DO UPDATE SET modseq = jmap_sequences.modseq + 1
		RETURNING modseq`, accountID, kind).Scan(&v)
	return v, err
}

// sequence reads the account's modseq and floor of kind (0, 0 before any).
func sequence(ctx context.Context, q querier, accountID int64, kind string) (modseq, floor uint64, err error) {
	err = q.QueryRowContext(ctx, `SELECT modseq, floor FROM jmap_sequences WHERE account_id = ? AND kind = ?`,
		accountID, kind).Scan(&modseq, &floor)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	return modseq, floor, err
}

// nullJSON keeps nil as NULL.
func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

const identityCols = `id, account_id, name, email, reply_to, bcc, text_signature, html_signature, is_default, modseq`

func scanIdentity(row scanner) (store.Identity, error) {
	var id store.Identity
	var replyTo, bcc sql.NullString
	err := row.Scan(&id.ID, &id.AccountID, &id.Name, &id.Email, &replyTo, &bcc,
		&id.TextSignature, &id.HTMLSignature, &id.IsDefault, &id.ModSeq)
	if replyTo.Valid {
		id.ReplyTo = []byte(replyTo.String)
	}
	if bcc.Valid {
		id.Bcc = []byte(bcc.String)
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return id, err
}

// Identities implements store.SubmissionStore.
func (s *Store) Identities(ctx context.Context, accountID int64) ([]store.Identity, uint64, error) {
	ids, state, err := s.readIdentities(ctx, accountID)
	if err != nil {
		return nil, 0, err
	}
	for _, id := range ids {
		if id.IsDefault {
			return ids, state, nil
		}
	}
	if err := s.ensureDefaultIdentity(ctx, accountID); err != nil {
		return nil, 0, err
	}
	return s.readIdentities(ctx, accountID)
}

func (s *Store) readIdentities(ctx context.Context, accountID int64) ([]store.Identity, uint64, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	state, _, err := sequence(ctx, tx, accountID, seqIdentity)
	if err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+identityCols+` FROM jmap_identities
		WHERE account_id = ? AND destroyed = 0 ORDER BY id`, accountID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []store.Identity
	for rows.Next() {
		id, err := scanIdentity(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, id)
	}
	return out, state, rows.Err()
}

// ensureDefaultIdentity makes the identity of the account's own address,
// named after nothing (the user names it).
func (s *Store) ensureDefaultIdentity(ctx context.Context, accountID int64) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var addr string
		err := tx.QueryRowContext(ctx, `SELECT address FROM accounts WHERE id = ?`, accountID).Scan(&addr)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM jmap_identities WHERE account_id = ? AND is_default = 1`,
			accountID).Scan(&n); err != nil || n > 0 {
			return err
		}
		seq, err := nextSeq(ctx, tx, accountID, seqIdentity)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO jmap_identities (account_id, name, email, text_signature, html_signature,
			is_default, created_modseq, modseq) VALUES (?, '', ?, '', '', 1, ?, ?)`, accountID, addr, seq, seq)
		return err
	})
}

// CreateIdentity implements store.SubmissionStore.
func (s *Store) CreateIdentity(ctx context.Context, id store.Identity) (store.Identity, error) {
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, id.AccountID).Scan(&n); err != nil || n == 0 {
			return cmpErr(err, store.ErrNotFound)
		}
		seq, err := nextSeq(ctx, tx, id.AccountID, seqIdentity)
		if err != nil {
			return err
		}
		id.ModSeq, id.IsDefault = seq, false
		return tx.QueryRowContext(ctx, `INSERT INTO jmap_identities (account_id, name, email, reply_to, bcc,
			text_signature, html_signature, created_modseq, modseq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			id.AccountID, id.Name, id.Email, nullJSON(id.ReplyTo), nullJSON(id.Bcc), id.TextSignature, id.HTMLSignature,
			seq, seq).Scan(&id.ID)
	})
	return id, err
}

// UpdateIdentity implements store.SubmissionStore.
func (s *Store) UpdateIdentity(ctx context.Context, id store.Identity) (store.Identity, error) {
	var out store.Identity
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM jmap_identities WHERE id = ? AND account_id = ? AND destroyed = 0`,
			id.ID, id.AccountID).Scan(&n); err != nil || n == 0 {
			return cmpErr(err, store.ErrNotFound)
		}
		seq, err := nextSeq(ctx, tx, id.AccountID, seqIdentity)
		if err != nil {
			return err
		}
		out, err = scanIdentity(tx.QueryRowContext(ctx, `UPDATE jmap_identities SET name = ?, reply_to = ?, bcc = ?,
			text_signature = ?, html_signature = ?, modseq = ? WHERE id = ? RETURNING `+identityCols,
			id.Name, nullJSON(id.ReplyTo), nullJSON(id.Bcc), id.TextSignature, id.HTMLSignature, seq, id.ID))
		return err
	})
	return out, err
}

// DestroyIdentity implements store.SubmissionStore.
func (s *Store) DestroyIdentity(ctx context.Context, accountID, id int64) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var isDefault bool
		err := tx.QueryRowContext(ctx, `SELECT is_default FROM jmap_identities WHERE id = ? AND account_id = ? AND destroyed = 0`,
			id, accountID).Scan(&isDefault)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		case isDefault:
			return store.ErrNotPermitted
		}
		seq, err := nextSeq(ctx, tx, accountID, seqIdentity)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE jmap_identities SET destroyed = 1, modseq = ? WHERE id = ?`, seq, id)
		return err
	})
}

// IdentityChanges implements store.SubmissionStore.
func (s *Store) IdentityChanges(ctx context.Context, accountID int64, since uint64) (store.ObjectChanges, error) {
	return s.objectChanges(ctx, accountID, since, seqIdentity, "jmap_identities")
}

// objectChanges reads the changes of one kind after since, in one read
// transaction.
func (s *Store) objectChanges(ctx context.Context, accountID int64, since uint64, kind, table string) (store.ObjectChanges, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.ObjectChanges{}, err
	}
	defer tx.Rollback()
	state, floor, err := sequence(ctx, tx, accountID, kind)
	switch {
	case err != nil:
		return store.ObjectChanges{}, err
	case since > state:
		return store.ObjectChanges{}, invalid("state %d is ahead of %d", since, state)
	case since < floor:
		return store.ObjectChanges{}, store.ErrStateTooOld
	}
	out := store.ObjectChanges{State: state}
	rows, err := tx.QueryContext(ctx, `SELECT id, created_modseq, modseq, destroyed FROM `+table+`
		WHERE account_id = ? AND modseq > ? ORDER BY modseq, id`, accountID, since)
	if err != nil {
		return store.ObjectChanges{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var ch store.ObjectChange
		if err := rows.Scan(&ch.ID, &ch.CreatedModSeq, &ch.ModSeq, &ch.Destroyed); err != nil {
			return store.ObjectChanges{}, err
		}
		ch.Created = ch.CreatedModSeq > since
		if ch.Created && ch.Destroyed {
			continue
		}
		out.Changes = append(out.Changes, ch)
	}
	return out, rows.Err()
}

const submissionCols = `id, account_id, identity_id, email_id, thread_id, envelope, delivery_status, queue_ids, send_at, undo_status, modseq`

func scanSubmission(row scanner) (store.EmailSubmission, error) {
	var sub store.EmailSubmission
	var env, status, queue string
	var sendAt int64
	err := row.Scan(&sub.ID, &sub.AccountID, &sub.IdentityID, &sub.EmailID, &sub.ThreadID, &env, &status, &queue,
		&sendAt, &sub.UndoStatus, &sub.ModSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return sub, store.ErrNotFound
	} else if err != nil {
		return sub, err
	}
	sub.Envelope, sub.DeliveryStatus = []byte(env), []byte(status)
	sub.SendAt = time.UnixMilli(sendAt).UTC()
	return sub, json.Unmarshal([]byte(queue), &sub.QueueIDs)
}

// CreateEmailSubmission implements store.SubmissionStore.
func (s *Store) CreateEmailSubmission(ctx context.Context, sub store.EmailSubmission) (store.EmailSubmission, error) {
	queue, err := json.Marshal(sub.QueueIDs)
	if err != nil {
		return sub, err
	}
	if sub.QueueIDs == nil {
		queue = []byte("[]")
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, sub.AccountID).Scan(&n); err != nil || n == 0 {
			return cmpErr(err, store.ErrNotFound)
		}
		seq, err := nextSeq(ctx, tx, sub.AccountID, seqSubmission)
		if err != nil {
			return err
		}
		sub.ModSeq = seq
		return tx.QueryRowContext(ctx, `INSERT INTO jmap_submissions (account_id, identity_id, email_id, thread_id,
			envelope, delivery_status, queue_ids, send_at, undo_status, created_modseq, modseq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			sub.AccountID, sub.IdentityID, sub.EmailID, sub.ThreadID, string(sub.Envelope), string(sub.DeliveryStatus),
			string(queue), sub.SendAt.UnixMilli(), sub.UndoStatus, seq, seq).Scan(&sub.ID)
	})
	return sub, err
}

// EmailSubmissions implements store.SubmissionStore.
func (s *Store) EmailSubmissions(ctx context.Context, accountID int64, ids []int64) ([]store.EmailSubmission, uint64, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	state, _, err := sequence(ctx, tx, accountID, seqSubmission)
	if err != nil {
		return nil, 0, err
	}
	var out []store.EmailSubmission
	if ids != nil {
		for _, id := range ids {
			sub, err := scanSubmission(tx.QueryRowContext(ctx, `SELECT `+submissionCols+` FROM jmap_submissions
				WHERE id = ? AND account_id = ? AND destroyed = 0`, id, accountID))
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return nil, 0, err
			}
			out = append(out, sub)
		}
		return out, state, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+submissionCols+` FROM jmap_submissions
		WHERE account_id = ? AND destroyed = 0 ORDER BY id`, accountID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		sub, err := scanSubmission(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, sub)
	}
	return out, state, rows.Err()
}

// DestroyEmailSubmission implements store.SubmissionStore.
func (s *Store) DestroyEmailSubmission(ctx context.Context, accountID, id int64) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM jmap_submissions WHERE id = ? AND account_id = ? AND destroyed = 0`,
			id, accountID).Scan(&n); err != nil || n == 0 {
			return cmpErr(err, store.ErrNotFound)
		}
		seq, err := nextSeq(ctx, tx, accountID, seqSubmission)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE jmap_submissions SET destroyed = 1, destroyed_at = ?, modseq = ? WHERE id = ?`,
			time.Now().UnixMilli(), seq, id)
		return err
	})
}

// EmailSubmissionChanges implements store.SubmissionStore.
func (s *Store) EmailSubmissionChanges(ctx context.Context, accountID int64, since uint64) (store.ObjectChanges, error) {
	return s.objectChanges(ctx, accountID, since, seqSubmission, "jmap_submissions")
}

// PurgeEmailSubmissions implements store.SubmissionStore. Tombstones
// dropped raise the floor, so that changes from before them are refused
// rather than told incompletely.
func (s *Store) PurgeEmailSubmissions(ctx context.Context, accountID int64, cutoff time.Time) (int, error) {
	var n int
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT id FROM jmap_submissions WHERE account_id = ? AND destroyed = 0 AND send_at < ?`,
			accountID, cutoff.UnixMilli())
		if err != nil {
			return err
		}
		var old []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			old = append(old, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range old {
			seq, err := nextSeq(ctx, tx, accountID, seqSubmission)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE jmap_submissions SET destroyed = 1, destroyed_at = ?, modseq = ? WHERE id = ?`,
				time.Now().UnixMilli(), seq, id); err != nil {
				return err
			}
		}
		n = len(old)
		var top sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(modseq) FROM jmap_submissions WHERE account_id = ? AND destroyed = 1 AND destroyed_at < ?`,
			accountID, cutoff.UnixMilli()).Scan(&top); err != nil || !top.Valid {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jmap_sequences SET floor = ? WHERE account_id = ? AND kind = ? AND floor < ?`,
			top.Int64, accountID, seqSubmission, top.Int64); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM jmap_submissions WHERE account_id = ? AND destroyed = 1 AND destroyed_at < ?`,
			accountID, cutoff.UnixMilli())
		return err
	})
	return n, err
}
