package sqlstore

import (
	"context"
	"time"

	"postern/internal/store"
)

// MessagesByDate implements store.Mailstore: a walk of the
// messages_mailbox_date index (migration 0021), which holds every column
// it returns, so no row of the table is read.
func (s *Store) MessagesByDate(ctx context.Context, mailboxID int64, newestFirst bool, after *store.Message, fn func(store.Message) bool) error {
	order, past := `internal_date, id`, `>`
	if newestFirst {
		order, past = `internal_date DESC, id DESC`, `<`
	}
	where, args := `mailbox_id = ?`, []any{mailboxID}
	if after != nil {
		where += ` AND (internal_date, id) ` + past + ` (?, ?)`
		args = append(args, after.InternalDate.Unix(), after.ID)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, uid, thread_id, internal_date FROM messages INDEXED BY messages_mailbox_date
		WHERE `+where+` ORDER BY `+order, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		m := store.Message{MailboxID: mailboxID}
		var t int64
		if err := rows.Scan(&m.ID, &m.UID, &m.ThreadID, &t); err != nil {
			return err
		}
		m.InternalDate = time.Unix(t, 0).UTC()
		if !fn(m) {
			return nil
		}
	}
	return rows.Err()
}
