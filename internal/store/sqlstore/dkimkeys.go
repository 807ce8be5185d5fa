package sqlstore

import (
	"context"
	"time"

	"postern/internal/store"
)

var _ store.DKIMKeys = (*Store)(nil)

// RotateDKIMKeys implements store.DKIMKeys.
func (s *Store) RotateDKIMKeys(ctx context.Context, domain string, keys []store.DKIMKey) error {
	name, err := normDomain(domain)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Selector == "" || len(k.Selector) > 63 || k.PrivateKeyPEM == "" ||
			(k.Algorithm != store.DKIMRSA && k.Algorithm != store.DKIMEd25519) {
			return invalid("DKIM key %q/%q", k.Selector, k.Algorithm)
		}
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		did, err := domainID(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dkim_keys SET active = 0 WHERE domain_id = ?`, did); err != nil {
			return err
		}
		t := now()
		for _, k := range keys {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM dkim_keys WHERE domain_id = ? AND selector = ?`,
				did, k.Selector).Scan(&n); err != nil || n > 0 {
				return cmpErr(err, store.ErrExists)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key_pem, created_at, active)
				VALUES (?, ?, ?, ?, ?, 1)`, did, k.Selector, k.Algorithm, k.PrivateKeyPEM, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.log.Info("DKIM keys rotated", "domain", name, "keys", len(keys))
	}
	return err
}

// DKIMKeys implements store.DKIMKeys.
func (s *Store) DKIMKeys(ctx context.Context, domain string, activeOnly bool) ([]store.DKIMKey, error) {
	q := `SELECT k.id, k.domain_id, d.name, k.selector, k.algorithm, k.private_key_pem, k.created_at, k.active
		FROM dkim_keys k JOIN domains d ON d.id = k.domain_id WHERE 1 = 1`
	var args []any
	if domain != "" {
		name, err := normDomain(domain)
		if err != nil {
			return nil, store.ErrNotFound
		}
		q += ` AND d.name = ?`
		args = append(args, name)
	}
	if activeOnly {
		q += ` AND k.active = 1`
	}
	rows, err := s.rdb.QueryContext(ctx, q+` ORDER BY d.name, k.created_at DESC, k.id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.DKIMKey
	for rows.Next() {
		var k store.DKIMKey
		var t int64
		var active int
		if err := rows.Scan(&k.ID, &k.DomainID, &k.Domain, &k.Selector, &k.Algorithm, &k.PrivateKeyPEM, &t, &active); err != nil {
			return nil, err
		}
		k.CreatedAt = time.Unix(t, 0).UTC()
		k.Active = active != 0
		out = append(out, k)
	}
	return out, rows.Err()
}
