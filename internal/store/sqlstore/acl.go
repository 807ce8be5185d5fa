package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"postern/internal/store"
)

// The mailbox_acl table (migration 0031) holds the grants; an owner's
// rights are implicit and never stored.

// MailboxACL implements store.ACLStore.
func (s *Store) MailboxACL(ctx context.Context, mailboxID int64) ([]store.ACLEntry, error) {
	if _, err := mailboxByID(ctx, s.rdb, mailboxID); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT COALESCE(a.address, ''), acl.negative, acl.rights
		FROM mailbox_acl acl LEFT JOIN accounts a ON a.id = acl.grantee_id
		WHERE acl.mailbox_id = ? ORDER BY acl.grantee_id IS NOT NULL, a.address, acl.negative`, mailboxID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ACLEntry
	for rows.Next() {
		var e store.ACLEntry
		var neg int
		if err := rows.Scan(&e.Identifier, &neg, &e.Rights); err != nil {
			return nil, err
		}
		if e.Identifier == "" {
			e.Identifier = store.Anyone
		}
		e.Negative = neg != 0
		out = append(out, e)
	}
	return out, rows.Err()
}

// SetMailboxACL implements store.ACLStore.
func (s *Store) SetMailboxACL(ctx context.Context, mailboxID int64, e store.ACLEntry) error {
	if e.Rights&^store.AllRights != 0 {
		return invalid("unknown rights")
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, fx *effects) error {
		mb, err := mailboxByID(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		grantee, err := aclGrantee(ctx, tx, mb.AccountID, e.Identifier)
		if err != nil {
			return err
		}
		neg := 0
		if e.Negative {
			neg = 1
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mailbox_acl WHERE mailbox_id = ? AND COALESCE(grantee_id, 0) = ? AND negative = ?`,
			mailboxID, grantee.Int64, neg); err != nil {
			return err
		}
		if e.Rights != 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mailbox_acl (mailbox_id, grantee_id, negative, rights) VALUES (?, ?, ?, ?)`,
				mailboxID, grantee, neg, int64(e.Rights)); err != nil {
				return err
			}
		}
		// The grantee's mailbox list changed too (NOTIFY, JMAP push).
		fx.change(store.Change{Kind: store.ChangeMailboxes, AccountID: mb.AccountID, MailboxID: mb.ID})
		if grantee.Valid {
			fx.change(store.Change{Kind: store.ChangeMailboxes, AccountID: grantee.Int64})
		}
		return nil
	})
}

// aclGrantee resolves an identifier to the account it names (NULL for
// anyone): an account of the owner's domain other than the owner.
func aclGrantee(ctx context.Context, tx *wtx, ownerID int64, identifier string) (sql.NullInt64, error) {
	id := strings.ToLower(identifier)
	if id == store.Anyone {
		return sql.NullInt64{}, nil
	}
	var grantee, granteeDomain, ownerDomain int64
	err := tx.QueryRowContext(ctx, `SELECT g.id, g.domain_id, o.domain_id FROM accounts g, accounts o
		WHERE g.address = ? AND o.id = ?`, id, ownerID).Scan(&grantee, &granteeDomain, &ownerDomain)
	if err != nil {
		return sql.NullInt64{}, notFound(err)
	}
	if grantee == ownerID {
		return sql.NullInt64{}, invalid("the owner's rights cannot be changed")
	}
	if granteeDomain != ownerDomain {
		return sql.NullInt64{}, invalid("mailboxes are shared within one domain")
	}
	return sql.NullInt64{Int64: grantee, Valid: true}, nil
}

// MailboxRights implements store.ACLStore.
func (s *Store) MailboxRights(ctx context.Context, mailboxID, accountID int64) (store.Rights, error) {
	mb, err := mailboxByID(ctx, s.rdb, mailboxID)
	if err != nil {
		return 0, err
	}
	if mb.AccountID == accountID {
		return store.AllRights, nil
	}
	return aclRights(ctx, s.rdb, mailboxID, accountID, mb.AccountID)
}

// aclRights combines the account's own entries with anyone's (when it is
// of the owner's domain): granted rights less denied ones.
func aclRights(ctx context.Context, q querier, mailboxID, accountID, ownerID int64) (store.Rights, error) {
	rows, err := q.QueryContext(ctx, `SELECT acl.negative, acl.rights FROM mailbox_acl acl
		WHERE acl.mailbox_id = ? AND (acl.grantee_id = ? OR (acl.grantee_id IS NULL AND
			(SELECT domain_id FROM accounts WHERE id = ?) = (SELECT domain_id FROM accounts WHERE id = ?)))`,
		mailboxID, accountID, accountID, ownerID)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var granted, denied store.Rights
	for rows.Next() {
		var neg int
		var r store.Rights
		if err := rows.Scan(&neg, &r); err != nil {
			return 0, err
		}
		if neg != 0 {
			denied |= r
		} else {
			granted |= r
		}
	}
	return granted &^ denied, rows.Err()
}

// SharedMailboxes implements store.ACLStore.
func (s *Store) SharedMailboxes(ctx context.Context, accountID int64) ([]store.SharedMailbox, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+prefixCols("m", mailboxCols)+`, o.address, acl.negative, acl.rights,
		COALESCE((SELECT subscribed FROM shared_subscriptions ss WHERE ss.account_id = ? AND ss.mailbox_id = m.id), 1)
		FROM mailbox_acl acl
		JOIN mailboxes m ON m.id = acl.mailbox_id
		JOIN accounts o ON o.id = m.account_id
		WHERE m.account_id <> ? AND (acl.grantee_id = ? OR (acl.grantee_id IS NULL AND
			o.domain_id = (SELECT domain_id FROM accounts WHERE id = ?)))
		ORDER BY o.address, m.name`, accountID, accountID, accountID, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SharedMailbox
	denied := map[int64]store.Rights{}
	for rows.Next() {
		var sm store.SharedMailbox
		var sub, neg int
		var r store.Rights
		if err := rows.Scan(&sm.ID, &sm.AccountID, &sm.Name, &sm.UIDValidity, &sm.UIDNext, &sm.HighestModSeq,
			&sm.SpecialUse, &sub, &sm.Owner, &neg, &r, &sm.Subscribed); err != nil {
			return nil, err
		}
		sm.Mailbox.Subscribed = sub != 0
		if neg != 0 {
			denied[sm.ID] |= r
			r = 0
		}
		// Rows of one mailbox are adjacent (ordered by owner and name).
		if n := len(out); n > 0 && out[n-1].ID == sm.ID {
			out[n-1].Rights |= r
			continue
		}
		sm.Rights = r
		out = append(out, sm)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, sm := range out {
		sm.Rights &^= denied[sm.ID]
		if sm.Rights != 0 {
			kept = append(kept, sm)
		}
	}
	return kept, nil
}

func prefixCols(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = alias + "." + p
	}
	return strings.Join(parts, ", ")
}

// SetSharedSubscribed implements store.ACLStore.
func (s *Store) SetSharedSubscribed(ctx context.Context, accountID, mailboxID int64, subscribed bool) error {
	sub := 0
	if subscribed {
		sub = 1
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		if _, err := mailboxByID(ctx, tx, mailboxID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM shared_subscriptions WHERE account_id = ? AND mailbox_id = ?`, accountID, mailboxID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO shared_subscriptions (account_id, mailbox_id, subscribed) VALUES (?, ?, ?)`,
			accountID, mailboxID, sub); err != nil {
			return err
		}
		e.change(store.Change{Kind: store.ChangeMailboxes, AccountID: accountID})
		return nil
	})
}
