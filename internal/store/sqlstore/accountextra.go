package sqlstore

import (
	"context"
	"time"

	"postern/internal/store"
)

// AddAccounts implements store.AccountImport: one write operation, so the
// batch commits whole or not at all.
func (s *Store) AddAccounts(ctx context.Context, accounts []store.NewAccount) ([]store.Account, error) {
	out := make([]store.Account, 0, len(accounts))
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		out = out[:0]
		t := now()
		for i, na := range accounts {
			a, err := addAccountTx(ctx, tx, na, t)
			if err != nil {
				return &store.BatchError{Index: i, Err: err}
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("accounts added", "count", len(out))
	return out, nil
}

func addAccountTx(ctx context.Context, tx *wtx, na store.NewAccount, t int64) (store.Account, error) {
	addr, domain, err := normAddress(na.Address)
	if err != nil {
		return store.Account{}, err
	}
	if na.QuotaBytes < 0 {
		return store.Account{}, invalid("quota")
	}
	did, err := domainID(ctx, tx, domain)
	if err != nil {
		return store.Account{}, err
	}
	if taken, err := addressTaken(ctx, tx, addr); err != nil || taken {
		return store.Account{}, cmpErr(err, store.ErrExists)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO accounts (address, domain_id, password_hash, scram_sha256, quota_bytes, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		addr, did, na.Credentials.PasswordHash, na.Credentials.SCRAMSHA256, na.QuotaBytes, t).Scan(&id); err != nil {
		return store.Account{}, err
	}
	for _, m := range store.DefaultMailboxes {
		if _, err := insertMailbox(ctx, tx, id, m.Name, m.SpecialUse, true); err != nil {
			return store.Account{}, err
		}
	}
	return store.Account{ID: id, Address: addr, DomainID: did, Credentials: na.Credentials,
		QuotaBytes: na.QuotaBytes, CreatedAt: time.Unix(t, 0).UTC()}, nil
}

// RecordLogins implements store.LastLogins.
func (s *Store) RecordLogins(ctx context.Context, logins []store.LastLogin) error {
	if len(logins) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		for _, l := range logins {
			// The account may be gone since the login: skip it rather
			// than fail the batch on the foreign key.
			if _, err := tx.ExecContext(ctx, `INSERT INTO last_logins (account_id, protocol, at)
				SELECT id, ?, ? FROM accounts WHERE id = ?
				ON CONFLICT (account_id, protocol) DO UPDATE SET at = CASE WHEN excluded.at > last_logins.at THEN excluded.at ELSE last_logins.at END`,
				l.Protocol, l.At.Unix(), l.AccountID); err != nil {
				return err
			}
		}
		return nil
	})
}

// LastLogins implements store.LastLogins.
func (s *Store) LastLogins(ctx context.Context, domain string) (map[int64]map[string]time.Time, error) {
	q := `SELECT account_id, protocol, at FROM last_logins`
	var args []any
	if domain != "" {
		d, err := s.Domain(ctx, domain)
		if err != nil {
			return nil, err
		}
		q += ` WHERE account_id IN (SELECT id FROM accounts WHERE domain_id = ?)`
		args = append(args, d.ID)
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]map[string]time.Time{}
	for rows.Next() {
		var id, at int64
		var proto string
		if err := rows.Scan(&id, &proto, &at); err != nil {
			return nil, err
		}
		if out[id] == nil {
			out[id] = map[string]time.Time{}
		}
		out[id][proto] = time.Unix(at, 0).UTC()
	}
	return out, rows.Err()
}

// AccountLastLogins implements store.LastLogins.
func (s *Store) AccountLastLogins(ctx context.Context, accountID int64) (map[string]time.Time, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT protocol, at FROM last_logins WHERE account_id = ?`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var at int64
		var proto string
		if err := rows.Scan(&proto, &at); err != nil {
			return nil, err
		}
		out[proto] = time.Unix(at, 0).UTC()
	}
	return out, rows.Err()
}
