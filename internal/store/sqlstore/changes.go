package sqlstore

import (
	"context"
	"database/sql"

	"postern/internal/store"
)

// AccountModSeq implements store.Mailstore.
func (s *Store) AccountModSeq(ctx context.Context, accountID int64) (uint64, error) {
	var m int64
	err := s.rdb.QueryRowContext(ctx, `SELECT modseq FROM accounts WHERE id = ?`, accountID).Scan(&m)
	return uint64(m), notFound(err)
}

// Changes implements store.Mailstore: only the mailboxes whose HIGHESTMODSEQ
// moved past since are read (each a range of the clustered messages table),
// and the tombstones through their (account_id, modseq) index.
func (s *Store) Changes(ctx context.Context, accountID int64, since uint64) (store.AccountChanges, error) {
	var out store.AccountChanges
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return out, err
	}
	defer tx.Rollback()
	var m int64
	if err := tx.QueryRowContext(ctx, `SELECT modseq FROM accounts WHERE id = ?`, accountID).Scan(&m); err != nil {
		return out, notFound(err)
	}
	out.ModSeq = uint64(m)
	rows, err := tx.QueryContext(ctx, `SELECT id, thread_id, mailbox_id, modseq, created_modseq FROM messages
		WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?1 AND highestmodseq > ?2) AND modseq > ?2 ORDER BY modseq`,
		accountID, int64(since))
	if err != nil {
		return out, err
	}
	for rows.Next() {
		var c store.ChangedMessage
		var created int64
		if err := rows.Scan(&c.ID, &c.ThreadID, &c.MailboxID, &c.ModSeq, &created); err != nil {
			rows.Close()
			return out, err
		}
		if uint64(created) > since {
			out.Created = append(out.Created, c)
		} else {
			out.Updated = append(out.Updated, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}
	if out.Destroyed, err = changedTombstones(ctx, tx, accountID, since); err != nil {
		return out, err
	}
	if out.Mailboxes, err = int64s(ctx, tx, `SELECT id FROM mailboxes WHERE account_id = ? AND (modseq > ? OR highestmodseq > ?) ORDER BY id`,
		accountID, int64(since), int64(since)); err != nil {
		return out, err
	}
	out.MailboxesDestroyed, err = int64s(ctx, tx, `SELECT mailbox_id FROM mailbox_tombstones WHERE account_id = ? AND modseq > ? ORDER BY modseq`,
		accountID, int64(since))
	return out, err
}

func changedTombstones(ctx context.Context, tx *sql.Tx, accountID int64, since uint64) ([]store.ChangedMessage, error) {
	rows, err := tx.QueryContext(ctx, `SELECT message_id, thread_id, modseq FROM message_tombstones
		WHERE account_id = ? AND modseq > ? ORDER BY modseq`, accountID, int64(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ChangedMessage
	for rows.Next() {
		var c store.ChangedMessage
		if err := rows.Scan(&c.ID, &c.ThreadID, &c.ModSeq); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func int64s(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
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
