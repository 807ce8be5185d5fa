package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"postern/internal/store"
)

// RenameMailbox implements store.Mailstore. Children ("from/...") move with
// the mailbox and keep their UIDVALIDITY; renaming INBOX follows RFC 3501
// §6.3.5 and leaves INBOX's own children where they are.
func (s *Store) RenameMailbox(ctx context.Context, accountID int64, from, to string) error {
	to, err := normMailbox(to)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		src, err := mailboxByName(ctx, tx, accountID, from)
		if err != nil {
			return err
		}
		if to == "INBOX" {
			return store.ErrExists // INBOX always exists
		}
		if src.Name == "INBOX" {
			return renameInbox(ctx, tx, e, src, to)
		}
		if to == src.Name || strings.HasPrefix(to, src.Name+"/") {
			return invalid("rename %q into itself", src.Name)
		}
		return renameTree(ctx, tx, e, src, to)
	})
}

// renameTree renames src and its children to "to".
func renameTree(ctx context.Context, tx *wtx, e *effects, src store.Mailbox, to string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, name FROM mailboxes WHERE account_id = ?`, src.AccountID)
	if err != nil {
		return err
	}
	renames := map[int64]string{}
	stays := map[string]bool{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		switch {
		case id == src.ID:
			renames[id] = to
		case strings.HasPrefix(name, src.Name+"/"):
			renames[id] = to + name[len(src.Name):]
		default:
			stays[name] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, n := range renames {
		if stays[n] {
			return store.ErrExists
		}
		if len(n) > maxMailboxName {
			return invalid("mailbox name too long")
		}
	}
	// Two steps, so that no intermediate state breaks UNIQUE (account_id,
	// name); control characters never occur in real names.
	for id := range renames {
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? WHERE id = ?`, fmt.Sprintf("\x01rename-%d", id), id); err != nil {
			return err
		}
	}
	modseq, err := changeAccount(ctx, tx, src.AccountID, 0, 0)
	if err != nil {
		return err
	}
	for id, n := range renames {
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ?, modseq = ? WHERE id = ?`, n, int64(modseq), id); err != nil {
			return err
		}
		e.change(store.Change{Kind: store.ChangeMailboxes, AccountID: src.AccountID, MailboxID: id})
	}
	return nil
}

// renameInbox creates "to" and moves INBOX's messages into it, keeping
// their UIDs (the new mailbox has a new UIDVALIDITY); for INBOX's sessions
// the messages are expunged.
func renameInbox(ctx context.Context, tx *wtx, e *effects, inbox store.Mailbox, to string) error {
	if _, err := mailboxByName(ctx, tx, inbox.AccountID, to); err == nil {
		return store.ErrExists
	} else if err != store.ErrNotFound {
		return err
	}
	nm, err := insertMailbox(ctx, tx, inbox.AccountID, to, "", false)
	if err != nil {
		return err
	}
	e.change(store.Change{Kind: store.ChangeMailboxes, AccountID: inbox.AccountID, MailboxID: nm.ID})
	rows, err := tx.QueryContext(ctx, `SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid`, inbox.ID)
	if err != nil {
		return err
	}
	var uids []uint32
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			rows.Close()
			return err
		}
		uids = append(uids, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(uids) == 0 {
		return err
	}
	modseq, err := changeAccount(ctx, tx, inbox.AccountID, 0, 0)
	if err != nil {
		return err
	}
	inbox.HighestModSeq, nm.HighestModSeq = modseq, modseq
	nm.UIDNext = inbox.UIDNext
	if _, err := tx.ExecContext(ctx, `INSERT INTO expunged (mailbox_id, uid, modseq) SELECT mailbox_id, uid, ? FROM messages WHERE mailbox_id = ?`,
		int64(inbox.HighestModSeq), inbox.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET mailbox_id = ?, modseq = ? WHERE mailbox_id = ?`,
		nm.ID, int64(nm.HighestModSeq), inbox.ID); err != nil {
		return err
	}
	if err := saveMailbox(ctx, tx, inbox); err != nil {
		return err
	}
	if err := saveMailbox(ctx, tx, nm); err != nil {
		return err
	}
	e.change(store.Change{Kind: store.ChangeExpunge, AccountID: inbox.AccountID, MailboxID: inbox.ID, UIDs: uids, ModSeq: inbox.HighestModSeq})
	e.change(store.Change{Kind: store.ChangeNewMessage, AccountID: inbox.AccountID, MailboxID: nm.ID, UIDs: uids, ModSeq: nm.HighestModSeq})
	return nil
}
