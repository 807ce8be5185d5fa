package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"

	"postern/internal/store"
)

var _ store.WebmailStore = (*Store)(nil)

// maxPrefText bounds a language tag or a trusted address.
const maxPrefText = 320

// WebmailPrefs implements store.WebmailStore.
func (s *Store) WebmailPrefs(ctx context.Context, accountID int64) (store.WebmailPrefs, error) {
	var p store.WebmailPrefs
	if err := s.accountExists(ctx, s.rdb, accountID); err != nil {
		return p, err
	}
	err := s.rdb.QueryRowContext(ctx, `SELECT lang FROM webmail_prefs WHERE account_id = ?`, accountID).Scan(&p.Lang)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return p, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT address FROM webmail_trusted_senders WHERE account_id = ? ORDER BY address`, accountID)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return p, err
		}
		p.TrustedSenders = append(p.TrustedSenders, a)
	}
	return p, rows.Err()
}

func (s *Store) accountExists(ctx context.Context, db queryRower, accountID int64) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, accountID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// SetWebmailLang implements store.WebmailStore.
func (s *Store) SetWebmailLang(ctx context.Context, accountID int64, lang string) error {
	if len(lang) > maxPrefText {
		return invalid("language tag too long")
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		if err := s.accountExists(ctx, tx, accountID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webmail_prefs (account_id, lang) VALUES (?, ?)
			ON CONFLICT (account_id) DO UPDATE SET lang = excluded.lang`, accountID, lang)
		return err
	})
}

// TrustSender implements store.WebmailStore.
func (s *Store) TrustSender(ctx context.Context, accountID int64, addr string) error {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if addr == "" || len(addr) > maxPrefText {
		return invalid("trusted sender %q", addr)
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		if err := s.accountExists(ctx, tx, accountID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webmail_trusted_senders WHERE account_id = ?`, accountID).Scan(&n); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO webmail_trusted_senders (account_id, address, created_at) VALUES (?, ?, ?)
			ON CONFLICT (account_id, address) DO NOTHING`, accountID, addr, now())
		if err != nil {
			return err
		}
		if added, _ := res.RowsAffected(); added > 0 && n >= store.MaxTrustedSenders {
			return invalid("at most %d trusted senders", store.MaxTrustedSenders)
		}
		return nil
	})
}

// UntrustSender implements store.WebmailStore.
func (s *Store) UntrustSender(ctx context.Context, accountID int64, addr string) error {
	addr = strings.ToLower(strings.TrimSpace(addr))
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM webmail_trusted_senders WHERE account_id = ? AND address = ?`, accountID, addr)
		return err
	})
}

// SenderTrusted implements store.WebmailStore.
func (s *Store) SenderTrusted(ctx context.Context, accountID int64, addr string) (bool, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM webmail_trusted_senders WHERE account_id = ? AND address = ?`,
		accountID, strings.ToLower(strings.TrimSpace(addr))).Scan(&n)
	return n > 0, err
}

// ServerSecret implements store.WebmailStore.
func (s *Store) ServerSecret(ctx context.Context, name string, size int) ([]byte, error) {
	if name == "" || size < 16 || size > 1024 {
		return nil, invalid("server secret %q of %d bytes", name, size)
	}
	var stored string
	err := s.rdb.QueryRowContext(ctx, `SELECT secret FROM server_secrets WHERE name = ?`, name).Scan(&stored)
	if err == nil {
		return hex.DecodeString(stored)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	fresh := make([]byte, size)
	rand.Read(fresh)
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		// The first writer wins; the others read its secret.
		if _, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, secret, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, hex.EncodeToString(fresh), now()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT secret FROM server_secrets WHERE name = ?`, name).Scan(&stored)
	})
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(stored)
}
