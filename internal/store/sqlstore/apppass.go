package sqlstore

import (
	"context"
	"strings"
	"time"

	"postern/internal/store"
)

var _ store.AppPasswords = (*Store)(nil)

// maxAppPasswordName bounds a name; maxAppPasswords bounds how many one
// account may hold, since a login compares against each.
const (
	maxAppPasswordName = 64
	maxAppPasswords    = 50
)

// AddAppPassword implements store.AppPasswords.
func (s *Store) AddAppPassword(ctx context.Context, p store.AppPassword) (store.AppPassword, error) {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > maxAppPasswordName || strings.ContainsAny(p.Name, "\r\n\t") {
		return p, invalid("app password name %q", p.Name)
	}
	if p.Hash == "" {
		return p, invalid("app password without hash")
	}
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var n, exists int
		err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM accounts WHERE id = ?),
			(SELECT COUNT(*) FROM app_passwords WHERE account_id = ?)`, p.AccountID, p.AccountID).Scan(&exists, &n)
		switch {
		case err != nil:
			return err
		case exists == 0:
			return store.ErrNotFound
		case n >= maxAppPasswords:
			return invalid("account has %d app passwords already", n)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM app_passwords WHERE account_id = ? AND name = ?`,
			p.AccountID, p.Name).Scan(&n); err != nil || n > 0 {
			return cmpErr(err, store.ErrExists)
		}
		t := now()
		res, err := tx.ExecContext(ctx, `INSERT INTO app_passwords (account_id, name, hash, scram_sha256, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.AccountID, p.Name, p.Hash, p.SCRAMSHA256, t)
		if err != nil {
			return err
		}
		p.ID, err = res.LastInsertId()
		p.CreatedAt = time.Unix(t, 0).UTC()
		return err
	})
	if err == nil {
		s.log.Info("app password added", "account_id", p.AccountID, "name", p.Name)
	}
	return p, err
}

// AppPasswords implements store.AppPasswords.
func (s *Store) AppPasswords(ctx context.Context, accountID int64) ([]store.AppPassword, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, account_id, name, hash, scram_sha256, created_at, last_used
		FROM app_passwords WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AppPassword
	for rows.Next() {
		var p store.AppPassword
		var created, used int64
		if err := rows.Scan(&p.ID, &p.AccountID, &p.Name, &p.Hash, &p.SCRAMSHA256, &created, &used); err != nil {
			return nil, err
		}
		p.CreatedAt = time.Unix(created, 0).UTC()
		if used > 0 {
			p.LastUsed = time.Unix(used, 0).UTC()
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeleteAppPassword implements store.AppPasswords.
func (s *Store) DeleteAppPassword(ctx context.Context, accountID int64, name string) error {
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		return execOne(ctx, tx, `DELETE FROM app_passwords WHERE account_id = ? AND name = ?`, accountID, strings.TrimSpace(name))
	})
	if err == nil {
		s.log.Info("app password deleted", "account_id", accountID, "name", name)
	}
	return err
}

// TouchAppPassword implements store.AppPasswords. The time is kept to the
// second; a password deleted meanwhile is not an error.
func (s *Store) TouchAppPassword(ctx context.Context, id int64, at time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := tx.ExecContext(ctx, `UPDATE app_passwords SET last_used = ? WHERE id = ?`, at.Unix(), id)
		return err
	})
}
