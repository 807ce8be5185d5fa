package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"postern/internal/store"
)

// maxMailboxName bounds a mailbox name in bytes.
const maxMailboxName = 512

// normMailbox checks a mailbox name and spells INBOX, and the INBOX/ prefix,
// upper-case: RFC 3501 §5.1 makes INBOX case-insensitive.
func normMailbox(name string) (string, error) {
	if name == "" || len(name) > maxMailboxName || !utf8.ValidString(name) ||
		strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return "", invalid("mailbox name %q", name)
	}
	for _, level := range strings.Split(name, "/") {
		if level == "." || level == ".." {
			return "", invalid("mailbox name %q: no . or .. levels", name)
		}
	}
	for _, r := range name {
		// RFC 3501 §5.1: * and % are LIST wildcards; control characters
		// have no place in a name.
		if r < ' ' || r == 0x7f || r == '*' || r == '%' {
			return "", invalid("mailbox name %q", name)
		}
	}
	if strings.EqualFold(name, "INBOX") {
		return "INBOX", nil
	}
	if len(name) > 6 && strings.EqualFold(name[:6], "INBOX/") {
		return "INBOX/" + name[6:], nil
	}
	return name, nil
}

func validSpecialUse(su string) bool {
	switch su {
	case "", store.SpecialDrafts, store.SpecialSent, store.SpecialArchive, store.SpecialJunk, store.SpecialTrash:
		return true
	}
	return false
}

// nextUIDValidity hands out a UIDVALIDITY never used before in this
// database: the current time, or one more than the last one when the clock
// has not moved on (or went back). RFC 3501 §2.3.1.1 requires a new value
// whenever a name is reused for a different mailbox.
func nextUIDValidity(ctx context.Context, tx *wtx) (uint32, error) {
	var last int64
	err := tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'uidvalidity'`).Scan(&last)
	if err != nil && err != sql.ErrNoRows {
		return 0, err
	}
	v := time.Now().Unix()
	if v <= last {
		v = last + 1
	}
	if v > 0xffffffff {
		v = 1 // past 2106: wrap; uniqueness then rests on the counter alone
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES ('uidvalidity', ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, v)
	return uint32(v), err
}

// insertMailbox creates a mailbox at the account's next modseq, which is
// also its first HIGHESTMODSEQ: every later change in the account is above
// it, so a new mailbox's modseqs grow from the start.
func insertMailbox(ctx context.Context, tx *wtx, accountID int64, name, specialUse string, subscribed bool) (store.Mailbox, error) {
	uv, err := nextUIDValidity(ctx, tx)
	if err != nil {
		return store.Mailbox{}, err
	}
	modseq, err := changeAccount(ctx, tx, accountID, 0, 0)
	if err != nil {
		return store.Mailbox{}, err
	}
	// A name subscribed before (and deleted since) comes back subscribed.
	res, err := tx.ExecContext(ctx, `DELETE FROM subscriptions_kept WHERE account_id = ? AND name = ?`, accountID, name)
	if err != nil {
		return store.Mailbox{}, err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		subscribed = true
	}
	sub := 0
	if subscribed {
		sub = 1
	}
	// Ids are never used twice (a rowid would come back once the newest
	// mailbox is deleted): JMAP clients and mailbox tombstones name a
	// mailbox by it for good.
	var id int64
	err = tx.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'mailbox_id' RETURNING value`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `INSERT INTO counters (name, value) VALUES ('mailbox_id',
			(SELECT MAX(COALESCE((SELECT MAX(id) FROM mailboxes), 0), COALESCE((SELECT MAX(mailbox_id) FROM mailbox_tombstones), 0)) + 1))
			RETURNING value`).Scan(&id)
	}
	if err != nil {
		return store.Mailbox{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO mailboxes (id, account_id, name, uidvalidity, special_use, subscribed, created_at, highestmodseq, modseq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, accountID, name, uv, specialUse, sub, now(), int64(modseq), int64(modseq))
	return store.Mailbox{ID: id, AccountID: accountID, Name: name, UIDValidity: uv, UIDNext: 1,
		HighestModSeq: modseq, SpecialUse: specialUse, Subscribed: subscribed}, err
}

const mailboxCols = `id, account_id, name, uidvalidity, uidnext, highestmodseq, special_use, subscribed`

func scanMailbox(r scanner) (store.Mailbox, error) {
	var m store.Mailbox
	var sub int
	err := r.Scan(&m.ID, &m.AccountID, &m.Name, &m.UIDValidity, &m.UIDNext, &m.HighestModSeq, &m.SpecialUse, &sub)
	m.Subscribed = sub != 0
	return m, err
}

// querier is what reads need: the read pool or the writer's transaction.
type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func mailboxByName(ctx context.Context, q querier, accountID int64, name string) (store.Mailbox, error) {
	name, err := normMailbox(name)
	if err != nil {
		return store.Mailbox{}, store.ErrNotFound
	}
	m, err := scanMailbox(q.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, name))
	return m, notFound(err)
}

func mailboxByID(ctx context.Context, q querier, id int64) (store.Mailbox, error) {
	m, err := scanMailbox(q.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE id = ?`, id))
	return m, notFound(err)
}

// Mailboxes implements store.Mailstore, in name order.
func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Mailbox
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Mailbox implements store.Mailstore.
func (s *Store) Mailbox(ctx context.Context, accountID int64, name string) (store.Mailbox, error) {
	return mailboxByName(ctx, s.rdb, accountID, name)
}

// MailboxStatus implements store.Mailstore.
func (s *Store) MailboxStatus(ctx context.Context, mailboxID int64) (store.MailboxStatus, error) {
	// One read transaction, so the counts match the mailbox row.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.MailboxStatus{}, err
	}
	defer tx.Rollback()
	m, err := mailboxByID(ctx, tx, mailboxID)
	if err != nil {
		return store.MailboxStatus{}, err
	}
	st := store.MailboxStatus{Mailbox: m}
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN flags & ? = 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN flags & ? <> 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(size), 0)
		FROM messages WHERE mailbox_id = ?`, store.FlagSeen, store.FlagDeleted, mailboxID).
		Scan(&st.Messages, &st.Unseen, &st.Deleted, &st.Size)
	return st, err
}

// CreateMailbox implements store.Mailstore.
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (store.Mailbox, error) {
	name, err := normMailbox(name)
	if err != nil {
		return store.Mailbox{}, err
	}
	if !validSpecialUse(specialUse) {
		return store.Mailbox{}, invalid("special-use %q", specialUse)
	}
	var m store.Mailbox
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		if err := accountExists(ctx, tx, accountID); err != nil {
			return err
		}
		if _, err := mailboxByName(ctx, tx, accountID, name); err == nil {
			return store.ErrExists
		} else if err != store.ErrNotFound {
			return err
		}
		m, err = insertMailbox(ctx, tx, accountID, name, specialUse, false)
		e.change(store.Change{Kind: store.ChangeMailboxes, AccountID: accountID, MailboxID: m.ID})
		return err
	})
	return m, err
}

func accountExists(ctx context.Context, tx *wtx, id int64) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteMailbox implements store.Mailstore. Child mailboxes stay.
func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	return s.writeFreeing(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		m, err := mailboxByName(ctx, tx, accountID, name)
		if err != nil {
			return err
		}
		if m.Name == "INBOX" {
			return store.ErrNotPermitted // RFC 3501 §6.3.4
		}
		modseq, err := changeAccount(ctx, tx, accountID, 0, 0)
		if err != nil {
			return err
		}
		// The messages leave the account with the mailbox.
		if _, err := tx.ExecContext(ctx, `INSERT INTO message_tombstones (account_id, modseq, message_id, thread_id)
			SELECT ?, ?, id, thread_id FROM messages WHERE mailbox_id = ?`, accountID, int64(modseq), m.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO mailbox_tombstones (account_id, modseq, mailbox_id) VALUES (?, ?, ?)`,
			accountID, int64(modseq), m.ID); err != nil {
			return err
		}
		if err := releaseMessages(ctx, tx, e, `mailbox_id = ?`, m.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mailboxes WHERE id = ?`, m.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM metadata WHERE account_id = ? AND mailbox_id = ?`, accountID, m.ID); err != nil {
			return err
		}
		if m.Subscribed {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO subscriptions_kept (account_id, name) VALUES (?, ?)`,
				accountID, m.Name); err != nil {
				return err
			}
		}
		e.change(store.Change{Kind: store.ChangeMailboxes, AccountID: accountID, MailboxID: m.ID})
		return nil
	})
}

// RecentUID implements store.Mailstore.
func (s *Store) RecentUID(ctx context.Context, mailboxID int64) (uint32, error) {
	var uid int64
	err := s.rdb.QueryRowContext(ctx, `SELECT uid FROM mailbox_recent WHERE mailbox_id = ?`, mailboxID).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return uint32(uid), err
}

// SetRecentUID implements store.Mailstore.
func (s *Store) SetRecentUID(ctx context.Context, mailboxID int64, uid uint32) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO mailbox_recent (mailbox_id, uid) SELECT id, ? FROM mailboxes WHERE id = ?
			ON CONFLICT (mailbox_id) DO UPDATE SET uid = MAX(uid, excluded.uid)`, int64(uid), mailboxID)
		return err
	})
}

// KeptSubscriptions implements store.Mailstore.
func (s *Store) KeptSubscriptions(ctx context.Context, accountID int64) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT name FROM subscriptions_kept WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// SetSubscribed implements store.Mailstore.
func (s *Store) SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		m, err := mailboxByName(ctx, tx, accountID, name)
		if errors.Is(err, store.ErrNotFound) && !subscribed {
			// Unsubscribing the name of a mailbox deleted since.
			norm, nerr := normMailbox(name)
			if nerr != nil {
				return err
			}
			res, derr := tx.ExecContext(ctx, `DELETE FROM subscriptions_kept WHERE account_id = ? AND name = ?`, accountID, norm)
			if derr != nil {
				return derr
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return err
			}
			e.change(store.Change{Kind: store.ChangeMailboxes, AccountID: accountID})
			return nil
		}
		if err != nil {
			return err
		}
		sub := 0
		if subscribed {
			sub = 1
		}
		modseq, err := changeAccount(ctx, tx, accountID, 0, 0)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET subscribed = ?, modseq = ? WHERE id = ?`, sub, int64(modseq), m.ID); err != nil {
			return err
		}
		e.change(store.Change{Kind: store.ChangeMailboxes, AccountID: accountID, MailboxID: m.ID})
		return nil
	})
}
