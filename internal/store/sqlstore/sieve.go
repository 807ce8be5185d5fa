package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
	"unicode"
	"unicode/utf8"

	"postern/internal/store"
)

var _ store.SieveStore = (*Store)(nil)

// maxSieveName bounds a script name (RFC 5804 §1.6 leaves it to the server).
const maxSieveName = 128

// checkSieveName applies RFC 5804 §1.6: UTF-8 without control characters.
func checkSieveName(name string) error {
	if name == "" || len(name) > maxSieveName || !utf8.ValidString(name) {
		return invalid("sieve script name %q", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return invalid("sieve script name %q", name)
		}
	}
	return nil
}

const sieveCols = `id, account_id, name, source, active, updated_at`

func scanSieve(row interface{ Scan(...any) error }) (store.SieveScript, error) {
	var sc store.SieveScript
	var updated int64
	err := row.Scan(&sc.ID, &sc.AccountID, &sc.Name, &sc.Source, &sc.Active, &updated)
	sc.UpdatedAt = time.Unix(updated, 0).UTC()
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return sc, err
}

// SieveScripts implements store.SieveStore.
func (s *Store) SieveScripts(ctx context.Context, accountID int64) ([]store.SieveScript, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+sieveCols+` FROM sieve_scripts WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SieveScript
	for rows.Next() {
		sc, err := scanSieve(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}

// SieveScript implements store.SieveStore.
func (s *Store) SieveScript(ctx context.Context, accountID int64, name string) (store.SieveScript, error) {
	return scanSieve(s.rdb.QueryRowContext(ctx, `SELECT `+sieveCols+` FROM sieve_scripts WHERE account_id = ? AND name = ?`, accountID, name))
}

// ActiveSieveScript implements store.SieveStore.
func (s *Store) ActiveSieveScript(ctx context.Context, accountID int64) (store.SieveScript, error) {
	return scanSieve(s.rdb.QueryRowContext(ctx, `SELECT `+sieveCols+` FROM sieve_scripts WHERE account_id = ? AND active = 1`, accountID))
}

// PutSieveScript implements store.SieveStore.
func (s *Store) PutSieveScript(ctx context.Context, accountID int64, name string, src []byte) error {
	if err := checkSieveName(name); err != nil {
		return err
	}
	if src == nil {
		src = []byte{}
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, accountID).Scan(&n); err != nil || n == 0 {
			return cmpErr(err, store.ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sieve_scripts (account_id, name, source, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (account_id, name) DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at`,
			accountID, name, src, now())
		return err
	})
}

// SetActiveSieveScript implements store.SieveStore.
func (s *Store) SetActiveSieveScript(ctx context.Context, accountID int64, name string) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		if name != "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sieve_scripts WHERE account_id = ? AND name = ?`,
				accountID, name).Scan(&n); err != nil || n == 0 {
				return cmpErr(err, store.ErrNotFound)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sieve_scripts SET active = 0 WHERE account_id = ? AND active = 1 AND name <> ?`,
			accountID, name); err != nil {
			return err
		}
		if name == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE sieve_scripts SET active = 1 WHERE account_id = ? AND name = ?`, accountID, name)
		return err
	})
}

// DeleteSieveScript implements store.SieveStore.
func (s *Store) DeleteSieveScript(ctx context.Context, accountID int64, name string) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var active bool
		err := tx.QueryRowContext(ctx, `SELECT active FROM sieve_scripts WHERE account_id = ? AND name = ?`, accountID, name).Scan(&active)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		case active:
			return store.ErrNotPermitted
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?`, accountID, name)
		return err
	})
}

// RenameSieveScript implements store.SieveStore.
func (s *Store) RenameSieveScript(ctx context.Context, accountID int64, oldName, newName string) error {
	if err := checkSieveName(newName); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var have, taken int
		if err := tx.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM sieve_scripts WHERE account_id = ? AND name = ?),
			(SELECT COUNT(*) FROM sieve_scripts WHERE account_id = ? AND name = ?)`,
			accountID, oldName, accountID, newName).Scan(&have, &taken); err != nil {
			return err
		}
		switch {
		case have == 0:
			return store.ErrNotFound
		case oldName == newName:
			return nil
		case taken > 0:
			return store.ErrExists
		}
		_, err := tx.ExecContext(ctx, `UPDATE sieve_scripts SET name = ?, updated_at = ? WHERE account_id = ? AND name = ?`,
			newName, now(), accountID, oldName)
		return err
	})
}

func checkGlobalName(name string) error {
	if name != store.SieveGlobalBefore && name != store.SieveGlobalAfter {
		return invalid("global sieve script %q (before or after)", name)
	}
	return nil
}

// GlobalSieveScript implements store.SieveStore.
func (s *Store) GlobalSieveScript(ctx context.Context, name string) (store.SieveScript, error) {
	if err := checkGlobalName(name); err != nil {
		return store.SieveScript{}, err
	}
	return scanSieve(s.rdb.QueryRowContext(ctx, `SELECT 0, 0, name, source, 1, updated_at FROM sieve_global WHERE name = ?`, name))
}

// PutGlobalSieveScript implements store.SieveStore.
func (s *Store) PutGlobalSieveScript(ctx context.Context, name string, src []byte) error {
	if err := checkGlobalName(name); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		if src == nil {
			_, err := tx.ExecContext(ctx, `DELETE FROM sieve_global WHERE name = ?`, name)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sieve_global (name, source, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at`, name, src, now())
		return err
	})
}

// SieveTracked implements store.SieveStore.
func (s *Store) SieveTracked(ctx context.Context, accountID int64, key string, at time.Time) (bool, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM sieve_tracking WHERE account_id = ? AND key = ? AND expires_at > ?`,
		accountID, key, at.Unix()).Scan(&n)
	return n > 0, err
}

// TrackSieve implements store.SieveStore.
func (s *Store) TrackSieve(ctx context.Context, accountID int64, key string, at, expires time.Time, refresh bool) (bool, error) {
	var seen bool
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		seen = false
		if _, err := tx.ExecContext(ctx, `DELETE FROM sieve_tracking WHERE account_id = ? AND expires_at <= ?`,
			accountID, at.Unix()); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sieve_tracking WHERE account_id = ? AND key = ?`,
			accountID, key).Scan(&n); err != nil {
			return err
		}
		seen = n > 0
		if seen && !refresh {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sieve_tracking (account_id, key, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (account_id, key) DO UPDATE SET expires_at = excluded.expires_at`, accountID, key, expires.Unix())
		return err
	})
	return seen, err
}
