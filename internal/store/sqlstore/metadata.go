package sqlstore

import (
	"context"
	"strings"

	"postern/internal/store"
)

// Metadata implements store.MetadataStore.
func (s *Store) Metadata(ctx context.Context, accountID, mailboxID int64, names []string, depth int) ([]store.MetadataEntry, error) {
	var out []store.MetadataEntry
	seen := map[string]bool{}
	for _, name := range names {
		rows, err := s.rdb.QueryContext(ctx, `SELECT name, value FROM metadata
			WHERE account_id = ? AND mailbox_id = ? AND (name = ? OR (? != 0 AND name > ? AND name < ?))
			ORDER BY name`, accountID, mailboxID, name, depth, name+"/", name+"0")
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var e store.MetadataEntry
			if err := rows.Scan(&e.Name, &e.Value); err != nil {
				rows.Close()
				return nil, err
			}
			// Depth 1: children, not grandchildren.
			if depth == 1 && e.Name != name && strings.Contains(e.Name[len(name)+1:], "/") {
				continue
			}
			if !seen[e.Name] {
				seen[e.Name] = true
				out = append(out, e)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetMetadata implements store.MetadataStore.
func (s *Store) SetMetadata(ctx context.Context, accountID, mailboxID int64, entries []store.MetadataEntry, maxEntries int) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		if mailboxID != 0 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailboxes WHERE id = ? AND account_id = ?`, mailboxID, accountID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return store.ErrNotFound
			}
		}
		for _, m := range entries {
			var err error
			if m.Value == nil {
				_, err = tx.ExecContext(ctx, `DELETE FROM metadata WHERE account_id = ? AND mailbox_id = ? AND name = ?`, accountID, mailboxID, m.Name)
			} else {
				_, err = tx.ExecContext(ctx, `INSERT INTO metadata (account_id, mailbox_id, name, value) VALUES (?, ?, ?, ?)
					ON CONFLICT (account_id, mailbox_id, name) DO UPDATE SET value = excluded.value`, accountID, mailboxID, m.Name, m.Value)
			}
			if err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM metadata WHERE account_id = ? AND mailbox_id = ?`, accountID, mailboxID).Scan(&n); err != nil {
			return err
		}
		if n > maxEntries {
			return store.ErrLimit // the transaction is rolled back
		}
		return nil
	})
}
