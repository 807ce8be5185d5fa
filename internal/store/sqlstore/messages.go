package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"postern/internal/store"
)

// Limits on keywords (RFC 3501 §9 flag-keyword = atom).
const (
	maxKeywordLen       = 100
	maxKeywordsPerEntry = 64
)

// normKeywords validates keywords as IMAP atoms and returns them sorted,
// without case-insensitive duplicates (RFC 3501 §2.3.2: flags are
// case-insensitive).
func normKeywords(kw []string) ([]string, error) {
	if len(kw) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(kw))
	for _, k := range kw {
		if k == "" || len(k) > maxKeywordLen || k[0] == '\\' {
			return nil, invalid("keyword %q", k)
		}
		for i := range len(k) {
			c := k[i]
			// atom-specials (RFC 3501 §9) and non-ASCII are not atoms.
			if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
				return nil, invalid("keyword %q", k)
			}
		}
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, k) }) {
			out = append(out, k)
		}
	}
	if len(out) > maxKeywordsPerEntry {
		return nil, invalid("%d keywords", len(out))
	}
	slices.Sort(out)
	return out, nil
}

func joinKeywords(kw []string) string { return strings.Join(kw, " ") }

func splitKeywords(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

const messageCols = `id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id, thread_id, envelope, bodystructure, preview, saved_at`

// messagesFull is the FROM clause for messageCols: the cached parsed forms
// live apart in message_meta (migration 0004), so that flag changes rewrite
// small rows. No column name is shared, so conditions need no qualifier.
const messagesFull = `messages JOIN message_meta ON message_meta.message_id = messages.id`

func scanMessage(r scanner) (store.Message, error) {
	var m store.Message
	var kw string
	var t int64
	var saved sql.NullInt64
	err := r.Scan(&m.ID, &m.MailboxID, &m.UID, &m.ModSeq, &m.Flags, &kw, &t, &m.Size, &m.BlobID, &m.ThreadID,
		&m.Envelope, &m.BodyStructure, &m.Preview, &saved)
	m.Keywords = splitKeywords(kw)
	m.InternalDate = time.Unix(t, 0).UTC()
	if saved.Valid {
		m.SaveDate = time.Unix(saved.Int64, 0).UTC()
	}
	return m, err
}

func queryMessages(ctx context.Context, q querier, query string, args ...any) ([]store.Message, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Messages implements store.Mailstore.
func (s *Store) Messages(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error) {
	s.idx.noteRead()
	if to == 0 {
		to = 0xffffffff
	}
	return queryMessages(ctx, s.rdb, `SELECT `+messageCols+` FROM `+messagesFull+`
		WHERE mailbox_id = ? AND uid >= ? AND uid <= ? ORDER BY uid`, mailboxID, from, to)
}

// MessagesByID implements store.Mailstore.
func (s *Store) MessagesByID(ctx context.Context, accountID int64, ids []int64) ([]store.Message, error) {
	s.idx.noteRead()
	if len(ids) == 0 {
		return nil, nil
	}
	return queryMessages(ctx, s.rdb, `SELECT `+messageCols+` FROM `+messagesFull+`
		WHERE messages.id IN (SELECT value FROM json_each(?))
		AND mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?) ORDER BY messages.id`, idSet(ids), accountID)
}

// ThreadMessages implements store.Mailstore.
func (s *Store) ThreadMessages(ctx context.Context, accountID int64, threadIDs []int64) ([]store.Message, error) {
	if len(threadIDs) == 0 {
		return nil, nil
	}
	return queryMessages(ctx, s.rdb, `SELECT id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id, thread_id,
		NULL, NULL, '', NULL FROM messages
		WHERE thread_id IN (SELECT value FROM json_each(?))
		AND mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?) ORDER BY thread_id, internal_date, id`, idSet(threadIDs), accountID)
}

// MessagesChangedSince implements store.Mailstore.
func (s *Store) MessagesChangedSince(ctx context.Context, mailboxID int64, modseq uint64) ([]store.Message, error) {
	return queryMessages(ctx, s.rdb, `SELECT `+messageCols+` FROM `+messagesFull+`
		WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, mailboxID, int64(modseq))
}

// ExpungedSince implements store.Mailstore.
func (s *Store) ExpungedSince(ctx context.Context, mailboxID int64, modseq uint64) ([]uint32, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, mailboxID, int64(modseq))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// selectMessages returns the messages of the mailbox among uids, in UID order.
func selectMessages(ctx context.Context, q querier, mailboxID int64, uids []uint32) ([]store.Message, error) {
	return selectUIDs(uids, func(lo, hi uint32) ([]store.Message, error) {
		return queryMessages(ctx, q, `SELECT `+messageCols+` FROM `+messagesFull+`
			WHERE mailbox_id = ? AND uid >= ? AND uid <= ? ORDER BY uid`, mailboxID, lo, hi)
	})
}

// selectUIDs reads the UID range spanning uids with query (one range scan
// is cheaper than one lookup per UID) and keeps the messages among uids.
func selectUIDs(uids []uint32, query func(lo, hi uint32) ([]store.Message, error)) ([]store.Message, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	set := make(map[uint32]bool, len(uids))
	lo, hi := uids[0], uids[0]
	for _, u := range uids {
		set[u] = true
		lo, hi = min(lo, u), max(hi, u)
	}
	all, err := query(lo, hi)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, m := range all {
		if set[m.UID] {
			out = append(out, m)
		}
	}
	return out, nil
}

// insertMessage adds m, with its id and thread already chosen, to mb with
// the next UID of mb (advanced in memory; the caller saves mb with
// saveMailbox) and takes a reference on its blob. Quota usage is the
// caller's. refs are the threading ids kept for IMAP THREAD.
func insertMessage(ctx context.Context, tx *wtx, mb *store.Mailbox, m store.Message, modseq uint64, refs string) (store.Message, error) {
	if mb.UIDNext == 0 || mb.UIDNext == 0xffffffff {
		return store.Message{}, errNoUIDs(*mb)
	}
	if m.ThreadID == 0 {
		m.ThreadID = m.ID
	}
	m.MailboxID, m.UID, m.ModSeq = mb.ID, mb.UIDNext, modseq
	_, err := tx.ExecContext(ctx, `INSERT INTO messages (id, mailbox_id, uid, modseq, created_modseq, thread_id, flags, keywords, internal_date, size, blob_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, m.MailboxID, m.UID, int64(m.ModSeq), int64(m.ModSeq), m.ThreadID,
		m.Flags, joinKeywords(m.Keywords), m.InternalDate.Unix(), m.Size, m.BlobID)
	if err != nil {
		return store.Message{}, err
	}
	m.SaveDate = time.Unix(now(), 0).UTC()
	if _, err := tx.ExecContext(ctx, `INSERT INTO message_meta (message_id, envelope, bodystructure, preview, refs, saved_at) VALUES (?, ?, ?, ?, ?, ?)`,
		m.ID, m.Envelope, m.BodyStructure, m.Preview, refs, m.SaveDate.Unix()); err != nil {
		return store.Message{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE blobs SET refs = refs + 1 WHERE id = ?`, m.BlobID); err != nil {
		return store.Message{}, err
	}
	mb.UIDNext++
	return m, nil
}

// errNoUIDs: RFC 3501 §2.3.1.1 makes UIDs 32-bit; a mailbox that used them
// all would need a new UIDVALIDITY.
func errNoUIDs(mb store.Mailbox) error {
	return fmt.Errorf("%w: mailbox %q has no UIDs left", store.ErrNotPermitted, mb.Name)
}

// nextMessageID takes the id the next message row gets: ids are never
// reused (a counter that only grows), and knowing it before the insert
// lets a message that starts a thread name the thread after itself.
func nextMessageID(ctx context.Context, tx *wtx) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'message_id' RETURNING value`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `INSERT INTO counters (name, value) VALUES ('message_id', 1) RETURNING value`).Scan(&id)
	}
	return id, err
}

// saveMailbox stores uidnext and highestmodseq of mb.
func saveMailbox(ctx context.Context, tx *wtx, mb store.Mailbox) error {
	_, err := tx.ExecContext(ctx, `UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?`,
		mb.UIDNext, int64(mb.HighestModSeq), mb.ID)
	return err
}

// changeAccount changes the account's quota usage and takes its next
// modseq: every change in an account is numbered from one sequence, so a
// mailbox's HIGHESTMODSEQ is the largest of its changes (RFC 7162 asks no
// more), and the account's changes since any point are one range.
func changeAccount(ctx context.Context, tx *wtx, accountID, bytes, messages int64) (uint64, error) {
	var m int64
	err := tx.QueryRowContext(ctx, `UPDATE accounts SET used_bytes = used_bytes + ?, used_messages = used_messages + ?,
		modseq = modseq + 1 WHERE id = ? RETURNING modseq`, bytes, messages, accountID).Scan(&m)
	return uint64(m), notFound(err)
}

// changeAccountWithin is changeAccount that, with quota, first fails with
// ErrOverQuota (and changes nothing) when the account cannot take bytes
// and messages more (RFC 9208 §5.1): one statement in the common case.
func changeAccountWithin(ctx context.Context, tx *wtx, accountID, bytes, messages int64, quota bool) (uint64, error) {
	if !quota {
		return changeAccount(ctx, tx, accountID, bytes, messages)
	}
	var m int64
	err := tx.QueryRowContext(ctx, `UPDATE accounts SET used_bytes = used_bytes + ?1, used_messages = used_messages + ?2,
		modseq = modseq + 1 WHERE id = ?3
		AND (quota_bytes <= 0 OR used_bytes + ?1 <= quota_bytes) AND (quota_messages <= 0 OR used_messages + ?2 <= quota_messages)
		RETURNING modseq`, bytes, messages, accountID).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		if err := checkQuota(ctx, tx, accountID, bytes, messages); err != nil {
			return 0, err
		}
		return 0, store.ErrNotFound
	}
	return uint64(m), err
}

// checkQuota fails with ErrOverQuota when adding bytes and messages would
// exceed a non-zero limit of the account (RFC 9208 §5.1).
func checkQuota(ctx context.Context, tx *wtx, accountID, bytes, messages int64) error {
	var qb, qm, ub, um int64
	err := tx.QueryRowContext(ctx, `SELECT quota_bytes, quota_messages, used_bytes, used_messages FROM accounts WHERE id = ?`, accountID).
		Scan(&qb, &qm, &ub, &um)
	if err != nil {
		return notFound(err)
	}
	if (qb > 0 && ub+bytes > qb) || (qm > 0 && um+messages > qm) {
		return store.ErrOverQuota
	}
	return nil
}

// removeMessages deletes msgs (all of mailbox mb) as an expunge at the
// account's next modseq: recorded in expunged (for QRESYNC) and in the
// account's tombstones, references and usage released. Bodies nothing
// references any more are collected later, off the hot path (purge.go).
// mb is updated in memory and saved.
func removeMessages(ctx context.Context, tx *wtx, e *effects, mb *store.Mailbox, msgs []store.Message, tombstones bool) ([]uint32, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	var bytes int64
	for _, m := range msgs {
		bytes += m.Size
	}
	modseq, err := changeAccount(ctx, tx, mb.AccountID, -bytes, -int64(len(msgs)))
	if err != nil {
		return nil, err
	}
	mb.HighestModSeq = modseq
	uids := make([]uint32, len(msgs))
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		uids[i], ids[i] = m.UID, m.ID
	}
	if err := deleteMessages(ctx, tx, mb, ids, modseq, tombstones); err != nil {
		return nil, err
	}
	if err := saveMailbox(ctx, tx, *mb); err != nil {
		return nil, err
	}
	e.purge = true
	e.change(store.Change{Kind: store.ChangeExpunge, AccountID: mb.AccountID, MailboxID: mb.ID, UIDs: uids, ModSeq: modseq})
	return uids, nil
}

// deleteMessages removes the message rows with these ids (all of mb) in a
// few set-based statements, whatever their number: the expunge history
// (RFC 7162 §3.2.5.2, for VANISHED (EARLIER)), the tombstones, the body
// references, the rows.
func deleteMessages(ctx context.Context, tx *wtx, mb *store.Mailbox, ids []int64, modseq uint64, tombstones bool) error {
	set := idSet(ids)
	if _, err := tx.ExecContext(ctx, `INSERT INTO expunged (mailbox_id, uid, modseq)
		SELECT mailbox_id, uid, ? FROM messages WHERE id IN (SELECT value FROM json_each(?))`, int64(modseq), set); err != nil {
		return err
	}
	if tombstones {
		if _, err := tx.ExecContext(ctx, `INSERT INTO message_tombstones (account_id, modseq, message_id, thread_id)
			SELECT ?, ?, id, thread_id FROM messages WHERE id IN (SELECT value FROM json_each(?))`, mb.AccountID, int64(modseq), set); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE blobs SET refs = refs - c.n
		FROM (SELECT blob_id, COUNT(*) AS n FROM messages WHERE id IN (SELECT value FROM json_each(?)) GROUP BY blob_id) AS c
		WHERE blobs.id = c.blob_id`, set); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))`, set)
	return err
}

// idSet encodes ids as the JSON array json_each reads.
func idSet(ids []int64) string {
	b := make([]byte, 0, len(ids)*8+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// releaseMessages deletes the messages matching where (a condition on
// messages columns, with args) in bulk, for deleting mailboxes, accounts and
// domains: blob references and quota usage are released; unreferenced
// bodies are collected later. No expunge history is kept, since the mailbox
// goes too.
func releaseMessages(ctx context.Context, tx *wtx, e *effects, where string, args ...any) error {
	twice := append(append([]any{}, args...), args...)
	_, err := tx.ExecContext(ctx, `UPDATE blobs SET refs = refs -
		(SELECT COUNT(*) FROM messages WHERE messages.blob_id = blobs.id AND `+where+`)
		WHERE id IN (SELECT blob_id FROM messages WHERE `+where+`)`, twice...)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE accounts SET
		used_bytes = used_bytes - (SELECT COALESCE(SUM(size), 0) FROM messages WHERE `+where+`
			AND mailbox_id IN (SELECT id FROM mailboxes WHERE mailboxes.account_id = accounts.id)),
		used_messages = used_messages - (SELECT COUNT(*) FROM messages WHERE `+where+`
			AND mailbox_id IN (SELECT id FROM mailboxes WHERE mailboxes.account_id = accounts.id))
		WHERE id IN (SELECT account_id FROM mailboxes WHERE id IN (SELECT mailbox_id FROM messages WHERE `+where+`))`,
		append(twice, args...)...)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE `+where, args...); err != nil {
		return err
	}
	e.purge = true
	return nil
}
