package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"postern/internal/store"
)

// notFound maps sql.ErrNoRows to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrInvalid}, args...)...)
}

// normDomain lower-cases and checks a domain name (RFC 1035 §2.3.4 lengths;
// UTF-8 labels are allowed for internationalised domains).
func normDomain(d string) (string, error) {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	if d == "" || len(d) > 253 || strings.HasPrefix(d, ".") || strings.Contains(d, "..") {
		return "", invalid("domain %q", d)
	}
	for _, r := range d {
		ok := r == '.' || r == '-' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r > 127
		if !ok {
			return "", invalid("domain %q", d)
		}
	}
	return d, nil
}

// normAddress lower-cases and checks local@domain (RFC 5321 §4.5.3.1 limits).
func normAddress(a string) (addr, domain string, err error) {
	a = strings.ToLower(strings.TrimSpace(a))
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at > 64 || len(a) > 254 {
		return "", "", invalid("address %q", a)
	}
	for _, r := range a[:at] {
		if r <= ' ' || r == 0x7f || r == '@' {
			return "", "", invalid("address %q", a)
		}
	}
	domain, err = normDomain(a[at+1:])
	if err != nil {
		return "", "", err
	}
	return a[:at] + "@" + domain, domain, nil
}

func now() int64 { return time.Now().Unix() }

// AddDomain implements store.Directory.
func (s *Store) AddDomain(ctx context.Context, name string) (store.Domain, error) {
	name, err := normDomain(name)
	if err != nil {
		return store.Domain{}, err
	}
	var d store.Domain
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return store.ErrExists
		}
		t := now()
		res, err := tx.ExecContext(ctx, `INSERT INTO domains (name, created_at) VALUES (?, ?)`, name, t)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		d = store.Domain{ID: id, Name: name, CreatedAt: time.Unix(t, 0).UTC()}
		return err
	})
	if err == nil {
		s.log.Info("domain added", "domain", name)
	}
	return d, err
}

type scanner interface{ Scan(...any) error }

func scanDomain(r scanner) (store.Domain, error) {
	var d store.Domain
	var t int64
	err := r.Scan(&d.ID, &d.Name, &d.CatchAll, &d.Postmaster, &t)
	d.CreatedAt = time.Unix(t, 0).UTC()
	return d, err
}

const domainCols = `id, name, catch_all, postmaster, created_at`

// Domain implements store.Directory.
func (s *Store) Domain(ctx context.Context, name string) (store.Domain, error) {
	name, err := normDomain(name)
	if err != nil {
		return store.Domain{}, store.ErrNotFound
	}
	d, err := scanDomain(s.rdb.QueryRowContext(ctx, `SELECT `+domainCols+` FROM domains WHERE name = ?`, name))
	return d, notFound(err)
}

// Domains implements store.Directory.
func (s *Store) Domains(ctx context.Context) ([]store.Domain, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+domainCols+` FROM domains ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Domain
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDomain implements store.Directory.
func (s *Store) DeleteDomain(ctx context.Context, name string) error {
	name, err := normDomain(name)
	if err != nil {
		return store.ErrNotFound
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM domains WHERE name = ?`, name).Scan(&id); err != nil {
			return notFound(err)
		}
		where := `mailbox_id IN (SELECT mb.id FROM mailboxes mb JOIN accounts a ON a.id = mb.account_id WHERE a.domain_id = ?)`
		if err := releaseMessages(ctx, tx, e, where, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE id = ?`, id)
		return err
	})
	if err == nil {
		s.log.Info("domain deleted", "domain", name)
	}
	return err
}

// SetCatchAll implements store.Directory.
func (s *Store) SetCatchAll(ctx context.Context, domain, address string) error {
	domain, err := normDomain(domain)
	if err != nil {
		return store.ErrNotFound
	}
	if address != "" {
		if address, _, err = normAddress(address); err != nil {
			return err
		}
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		return execOne(ctx, tx, `UPDATE domains SET catch_all = ? WHERE name = ?`, address, domain)
	})
}

// SetPostmaster implements store.Directory.
func (s *Store) SetPostmaster(ctx context.Context, domain, address string) error {
	domain, err := normDomain(domain)
	if err != nil {
		return store.ErrNotFound
	}
	if address != "" {
		if address, _, err = normAddress(address); err != nil {
			return err
		}
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		return execOne(ctx, tx, `UPDATE domains SET postmaster = ? WHERE name = ?`, address, domain)
	})
}

// execOne runs an UPDATE or DELETE that must touch a row, else ErrNotFound.
func execOne(ctx context.Context, tx *wtx, q string, args ...any) error {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// domainID returns the id of a local domain, or ErrNotFound.
func domainID(ctx context.Context, tx *wtx, name string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM domains WHERE name = ?`, name).Scan(&id)
	return id, notFound(err)
}

// addressTaken reports whether an account or alias already uses addr.
func addressTaken(ctx context.Context, tx *wtx, addr string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM accounts WHERE address = ?) + (SELECT COUNT(*) FROM aliases WHERE source = ?)`, addr, addr).Scan(&n)
	return n > 0, err
}

// AddAccount implements store.Directory.
func (s *Store) AddAccount(ctx context.Context, address string, cred store.Credentials) (store.Account, error) {
	addr, domain, err := normAddress(address)
	if err != nil {
		return store.Account{}, err
	}
	var a store.Account
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		did, err := domainID(ctx, tx, domain)
		if err != nil {
			return err
		}
		if taken, err := addressTaken(ctx, tx, addr); err != nil || taken {
			return cmpErr(err, store.ErrExists)
		}
		t := now()
		res, err := tx.ExecContext(ctx, `INSERT INTO accounts (address, domain_id, password_hash, scram_sha256, created_at) VALUES (?, ?, ?, ?, ?)`,
			addr, did, cred.PasswordHash, cred.SCRAMSHA256, t)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for _, m := range store.DefaultMailboxes {
			if _, err := insertMailbox(ctx, tx, id, m.Name, m.SpecialUse, true); err != nil {
				return err
			}
		}
		a = store.Account{ID: id, Address: addr, DomainID: did, Credentials: cred, CreatedAt: time.Unix(t, 0).UTC()}
		return nil
	})
	if err == nil {
		s.log.Info("account added", "account", addr)
	}
	return a, err
}

// cmpErr returns err when not nil, else alt.
func cmpErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

const accountCols = `id, address, domain_id, password_hash, scram_sha256, disabled, quota_bytes, quota_messages, used_bytes, used_messages, created_at`

func scanAccount(r scanner) (store.Account, error) {
	var a store.Account
	var t int64
	var disabled int
	err := r.Scan(&a.ID, &a.Address, &a.DomainID, &a.PasswordHash, &a.SCRAMSHA256, &disabled,
		&a.QuotaBytes, &a.QuotaMessages, &a.UsedBytes, &a.UsedMessages, &t)
	a.Disabled = disabled != 0
	a.CreatedAt = time.Unix(t, 0).UTC()
	return a, err
}

// Account implements store.Directory.
func (s *Store) Account(ctx context.Context, address string) (store.Account, error) {
	addr, _, err := normAddress(address)
	if err != nil {
		return store.Account{}, store.ErrNotFound
	}
	a, err := scanAccount(s.rdb.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE address = ?`, addr))
	return a, notFound(err)
}

// AccountByID implements store.Directory.
func (s *Store) AccountByID(ctx context.Context, id int64) (store.Account, error) {
	a, err := scanAccount(s.rdb.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	return a, notFound(err)
}

// Accounts implements store.Directory.
func (s *Store) Accounts(ctx context.Context, domain string) ([]store.Account, error) {
	q := `SELECT ` + accountCols + ` FROM accounts ORDER BY address`
	var args []any
	if domain != "" {
		d, err := s.Domain(ctx, domain)
		if err != nil {
			return nil, err
		}
		q = `SELECT ` + accountCols + ` FROM accounts WHERE domain_id = ? ORDER BY address`
		args = append(args, d.ID)
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// updateAccount runs one UPDATE on the account with this address; with
// revoke, the account's access tokens go in the same transaction.
func (s *Store) updateAccount(ctx context.Context, address string, revoke bool, set string, args ...any) error {
	addr, _, err := normAddress(address)
	if err != nil {
		return store.ErrNotFound
	}
	var revoked int64
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		if err := execOne(ctx, tx, `UPDATE accounts SET `+set+` WHERE address = ?`, append(args, addr)...); err != nil || !revoke {
			return err
		}
		revoked, err = dropAccessTokens(ctx, tx, addr)
		return err
	})
	if err == nil && revoked > 0 {
		s.log.Info("access tokens revoked", "account", addr, "count", revoked)
	}
	return err
}

// SetCredentials implements store.Directory.
func (s *Store) SetCredentials(ctx context.Context, address string, cred store.Credentials) error {
	err := s.updateAccount(ctx, address, true, `password_hash = ?, scram_sha256 = ?`, cred.PasswordHash, cred.SCRAMSHA256)
	if err == nil {
		s.log.Info("account credentials changed", "account", strings.ToLower(address))
	}
	return err
}

// RehashPassword implements store.Directory.
func (s *Store) RehashPassword(ctx context.Context, accountID int64, oldHash, newHash string) (bool, error) {
	var done bool
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?`, newHash, accountID, oldHash)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		done = n == 1
		return err
	})
	return done, err
}

// SetDisabled implements store.Directory.
func (s *Store) SetDisabled(ctx context.Context, address string, disabled bool) error {
	v := 0
	if disabled {
		v = 1
	}
	err := s.updateAccount(ctx, address, disabled, `disabled = ?`, v)
	if err == nil {
		s.log.Info("account disabled changed", "account", strings.ToLower(address), "disabled", disabled)
	}
	return err
}

// SetQuota implements store.Directory.
func (s *Store) SetQuota(ctx context.Context, address string, bytes, messages int64) error {
	if bytes < 0 || messages < 0 {
		return invalid("negative quota")
	}
	return s.updateAccount(ctx, address, false, `quota_bytes = ?, quota_messages = ?`, bytes, messages)
}

// DeleteAccount implements store.Directory.
func (s *Store) DeleteAccount(ctx context.Context, address string) error {
	addr, _, err := normAddress(address)
	if err != nil {
		return store.ErrNotFound
	}
	err = s.writeFreeing(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM accounts WHERE address = ?`, addr).Scan(&id); err != nil {
			return notFound(err)
		}
		if err := releaseMessages(ctx, tx, e, `mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
		return err
	})
	if err == nil {
		s.log.Info("account deleted", "account", addr)
	}
	return err
}
