package sqlstore

import (
	"context"
	"encoding/hex"
	"time"

	"postern/internal/store"
)

var _ store.AccessTokens = (*Store)(nil)

// maxAccessTokens bounds the live tokens of one account (each login of a
// client makes one); past it the oldest-expiring ones are dropped.
const maxAccessTokens = 200

// AddAccessToken implements store.AccessTokens.
func (s *Store) AddAccessToken(ctx context.Context, t store.AccessToken) (store.AccessToken, error) {
	if len(t.Hash) == 0 {
		return t, invalid("access token without hash")
	}
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, t.AccountID).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return store.ErrNotFound
		}
		at := now()
		if _, err := tx.ExecContext(ctx, `DELETE FROM access_tokens WHERE account_id = ? AND expires_at <= ?`, t.AccountID, at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM access_tokens WHERE id IN (SELECT id FROM access_tokens
			WHERE account_id = ? ORDER BY expires_at DESC, id DESC LIMIT 1000000 OFFSET ?)`, t.AccountID, maxAccessTokens-1); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO access_tokens (account_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			t.AccountID, hex.EncodeToString(t.Hash), at, t.ExpiresAt.Unix())
		if err != nil {
			return err
		}
		t.ID, err = res.LastInsertId()
		t.CreatedAt = time.Unix(at, 0).UTC()
		return err
	})
	return t, err
}

// AccessToken implements store.AccessTokens.
func (s *Store) AccessToken(ctx context.Context, hash []byte) (store.AccessToken, store.Account, error) {
	t := store.AccessToken{Hash: hash}
	var created, expires, used int64
	err := s.rdb.QueryRowContext(ctx, `SELECT id, account_id, created_at, expires_at, last_used
		FROM access_tokens WHERE hash = ?`, hex.EncodeToString(hash)).Scan(&t.ID, &t.AccountID, &created, &expires, &used)
	if err != nil {
		return t, store.Account{}, notFound(err)
	}
	t.CreatedAt = time.Unix(created, 0).UTC()
	t.ExpiresAt = time.Unix(expires, 0).UTC()
	if used > 0 {
		t.LastUsed = time.Unix(used, 0).UTC()
	}
	a, err := s.AccountByID(ctx, t.AccountID)
	return t, a, err
}

// TouchAccessToken implements store.AccessTokens.
func (s *Store) TouchAccessToken(ctx context.Context, id int64, at, expires time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := tx.ExecContext(ctx, `UPDATE access_tokens SET last_used = ?, expires_at = ? WHERE id = ?`, at.Unix(), expires.Unix(), id)
		return err
	})
}

// DeleteAccessToken implements store.AccessTokens.
func (s *Store) DeleteAccessToken(ctx context.Context, hash []byte) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		return execOne(ctx, tx, `DELETE FROM access_tokens WHERE hash = ?`, hex.EncodeToString(hash))
	})
}

// DeleteAccessTokens implements store.AccessTokens.
func (s *Store) DeleteAccessTokens(ctx context.Context, accountID int64) (int, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM access_tokens WHERE account_id = ?`, accountID)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	if err == nil && n > 0 {
		s.log.Info("access tokens revoked", "account_id", accountID, "count", n)
	}
	return int(n), err
}

// dropAccessTokens deletes the tokens of the account at addr inside a
// credential change or a disable (see store.AccessTokens).
func dropAccessTokens(ctx context.Context, tx *wtx, addr string) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM access_tokens WHERE account_id = (SELECT id FROM accounts WHERE address = ?)`, addr)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
