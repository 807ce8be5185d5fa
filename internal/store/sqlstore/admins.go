package sqlstore

import (
	"context"
	"encoding/hex"
	"strings"
	"time"

	"postern/internal/store"
)

var _ store.Admins = (*Store)(nil)

// Bounds that keep one administrator's rows and one audit page small.
const (
	maxAdminSessions  = 100
	maxAdminAPITokens = 50
	maxAuditPage      = 500
)

func unixOrZero(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(v, 0).UTC()
}

func timeOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

const adminCols = `id, name, password_hash, role, domains, totp_secret, created_at, last_login`

func scanAdmin(r scanner) (store.Admin, error) {
	var a store.Admin
	var domains string
	var created, last int64
	if err := r.Scan(&a.ID, &a.Name, &a.PasswordHash, &a.Role, &domains, &a.TOTPSecret, &created, &last); err != nil {
		return a, notFound(err)
	}
	if domains != "" {
		a.Domains = strings.Split(domains, ",")
	}
	a.CreatedAt, a.LastLogin = time.Unix(created, 0).UTC(), unixOrZero(last)
	return a, nil
}

// AddAdmin implements store.Admins.
func (s *Store) AddAdmin(ctx context.Context, a store.Admin) (store.Admin, error) {
	if a.Name == "" || a.PasswordHash == "" || (a.Role != store.AdminRoleServer && a.Role != store.AdminRoleDomain) {
		return a, invalid("administrator %q", a.Name)
	}
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM admins WHERE name = ?`, a.Name).Scan(&n); err != nil || n > 0 {
			return cmpErr(err, store.ErrExists)
		}
		t := now()
		res, err := tx.ExecContext(ctx, `INSERT INTO admins (name, password_hash, role, domains, totp_secret, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, a.Name, a.PasswordHash, a.Role, strings.Join(a.Domains, ","), a.TOTPSecret, t)
		if err != nil {
			return err
		}
		a.ID, err = res.LastInsertId()
		a.CreatedAt = time.Unix(t, 0).UTC()
		return err
	})
	return a, err
}

// Admin implements store.Admins.
func (s *Store) Admin(ctx context.Context, name string) (store.Admin, error) {
	return scanAdmin(s.rdb.QueryRowContext(ctx, `SELECT `+adminCols+` FROM admins WHERE name = ?`, name))
}

// Admins implements store.Admins.
func (s *Store) Admins(ctx context.Context) ([]store.Admin, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+adminCols+` FROM admins ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Admin
	for rows.Next() {
		a, err := scanAdmin(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeleteAdmin implements store.Admins; the tokens go by ON DELETE CASCADE.
func (s *Store) DeleteAdmin(ctx context.Context, name string) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		return execOne(ctx, tx, `DELETE FROM admins WHERE name = ?`, name)
	})
}

// SetAdminTOTP implements store.Admins.
func (s *Store) SetAdminTOTP(ctx context.Context, name, secret string) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		return execOne(ctx, tx, `UPDATE admins SET totp_secret = ?, totp_step = 0 WHERE name = ?`, secret, name)
	})
}

// UseAdminTOTPStep implements store.Admins: one conditional update, so
// two logins racing with one code cannot both win.
func (s *Store) UseAdminTOTPStep(ctx context.Context, id, step int64) (bool, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		res, err := tx.ExecContext(ctx, `UPDATE admins SET totp_step = ? WHERE id = ? AND totp_step < ?`, step, id, step)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return n == 1, err
}

// TouchAdminLogin implements store.Admins.
func (s *Store) TouchAdminLogin(ctx context.Context, id int64, at time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := tx.ExecContext(ctx, `UPDATE admins SET last_login = ? WHERE id = ?`, at.Unix(), id)
		return err
	})
}

// AddAdminToken implements store.Admins.
func (s *Store) AddAdminToken(ctx context.Context, t store.AdminToken) (store.AdminToken, error) {
	if len(t.Hash) == 0 || (t.Kind != store.AdminSession && t.Kind != store.AdminAPI) {
		return t, invalid("admin token")
	}
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var exists, named, count int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM admins WHERE id = ?),
			(SELECT COUNT(*) FROM admin_tokens WHERE admin_id = ? AND kind = ? AND name = ? AND kind = 'api'),
			(SELECT COUNT(*) FROM admin_tokens WHERE admin_id = ? AND kind = 'api')`,
			t.AdminID, t.AdminID, t.Kind, t.Name, t.AdminID).Scan(&exists, &named, &count); err != nil {
			return err
		}
		switch {
		case exists == 0:
			return store.ErrNotFound
		case named > 0:
			return store.ErrExists
		case t.Kind == store.AdminAPI && count >= maxAdminAPITokens:
			return invalid("administrator has %d API tokens already", count)
		}
		at := now()
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_tokens WHERE admin_id = ? AND kind = 'session' AND expires_at <= ?`,
			t.AdminID, at); err != nil {
			return err
		}
		if t.Kind == store.AdminSession {
			if _, err := tx.ExecContext(ctx, `DELETE FROM admin_tokens WHERE id IN (SELECT id FROM admin_tokens
				WHERE admin_id = ? AND kind = 'session' ORDER BY expires_at DESC, id DESC LIMIT 1000000 OFFSET ?)`,
				t.AdminID, maxAdminSessions-1); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO admin_tokens (admin_id, kind, name, hash, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`, t.AdminID, t.Kind, t.Name, hex.EncodeToString(t.Hash), at, timeOrZero(t.ExpiresAt))
		if err != nil {
			return err
		}
		t.ID, err = res.LastInsertId()
		t.CreatedAt = time.Unix(at, 0).UTC()
		return err
	})
	return t, err
}

const adminTokenCols = `id, admin_id, kind, name, hash, created_at, expires_at, last_used`

func scanAdminToken(r scanner) (store.AdminToken, error) {
	var t store.AdminToken
	var hash string
	var created, expires, used int64
	if err := r.Scan(&t.ID, &t.AdminID, &t.Kind, &t.Name, &hash, &created, &expires, &used); err != nil {
		return t, notFound(err)
	}
	t.Hash, _ = hex.DecodeString(hash)
	t.CreatedAt, t.ExpiresAt, t.LastUsed = time.Unix(created, 0).UTC(), unixOrZero(expires), unixOrZero(used)
	return t, nil
}

// AdminToken implements store.Admins.
func (s *Store) AdminToken(ctx context.Context, hash []byte) (store.AdminToken, store.Admin, error) {
	t, err := scanAdminToken(s.rdb.QueryRowContext(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE hash = ?`,
		hex.EncodeToString(hash)))
	if err != nil {
		return t, store.Admin{}, err
	}
	a, err := scanAdmin(s.rdb.QueryRowContext(ctx, `SELECT `+adminCols+` FROM admins WHERE id = ?`, t.AdminID))
	return t, a, err
}

// AdminTokens implements store.Admins.
func (s *Store) AdminTokens(ctx context.Context, adminID int64, kind string) ([]store.AdminToken, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens
		WHERE admin_id = ? AND kind = ? ORDER BY id`, adminID, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AdminToken
	for rows.Next() {
		t, err := scanAdminToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TouchAdminToken implements store.Admins.
func (s *Store) TouchAdminToken(ctx context.Context, id int64, at, expires time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := tx.ExecContext(ctx, `UPDATE admin_tokens SET last_used = ?,
			expires_at = CASE WHEN expires_at = 0 THEN 0 ELSE ? END WHERE id = ?`, at.Unix(), timeOrZero(expires), id)
		return err
	})
}

// DeleteAdminToken implements store.Admins.
func (s *Store) DeleteAdminToken(ctx context.Context, adminID, id int64) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		return execOne(ctx, tx, `DELETE FROM admin_tokens WHERE admin_id = ? AND id = ?`, adminID, id)
	})
}

// AddAudit implements store.Admins.
func (s *Store) AddAudit(ctx context.Context, a store.AuditEntry) error {
	at := a.At
	if at.IsZero() {
		at = time.Now()
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO admin_audit (at, actor, remote, action, target, details)
			VALUES (?, ?, ?, ?, ?, ?)`, at.Unix(), a.Actor, a.Remote, a.Action, a.Target, a.Details)
		return err
	})
}

// Audit implements store.Admins.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	q := `SELECT id, at, actor, remote, action, target, details FROM admin_audit WHERE 1=1`
	var args []any
	for _, c := range []struct{ col, v string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, f.Since.Unix())
	}
	if f.BeforeID > 0 {
		q += ` AND id < ?`
		args = append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 || limit > maxAuditPage {
		limit = maxAuditPage
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Remote, &e.Action, &e.Target, &e.Details); err != nil {
			return nil, err
		}
		e.At = time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
