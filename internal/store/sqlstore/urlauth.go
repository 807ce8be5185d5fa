package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"postern/internal/store"
)

// URLAuthKey implements store.URLAuthStore.
func (s *Store) URLAuthKey(ctx context.Context, accountID, mailboxID int64, fresh []byte) ([]byte, error) {
	var secret []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT secret FROM urlauth_keys WHERE account_id = ? AND mailbox_id = ?`,
		accountID, mailboxID).Scan(&secret)
	if err == nil {
		return secret, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if fresh == nil {
		return nil, store.ErrNotFound
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailboxes WHERE id = ? AND account_id = ?`,
			mailboxID, accountID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		// Two sessions may race to create the key: the first one wins and
		// both return it.
		if _, err := tx.ExecContext(ctx, `INSERT INTO urlauth_keys (account_id, mailbox_id, secret, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (account_id, mailbox_id) DO NOTHING`,
			accountID, mailboxID, fresh, time.Now().Unix()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT secret FROM urlauth_keys WHERE account_id = ? AND mailbox_id = ?`,
			accountID, mailboxID).Scan(&secret)
	})
	if err != nil {
		return nil, err
	}
	return secret, nil
}

// ResetURLAuthKeys implements store.URLAuthStore.
func (s *Store) ResetURLAuthKeys(ctx context.Context, accountID, mailboxID int64) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var err error
		if mailboxID == 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM urlauth_keys WHERE account_id = ?`, accountID)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM urlauth_keys WHERE account_id = ? AND mailbox_id = ?`, accountID, mailboxID)
		}
		return err
	})
}
