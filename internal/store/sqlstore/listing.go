package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"postern/internal/store"
)

// Light listings (store.Lister): what SELECT and FETCH of UID/FLAGS/sizes
// need, without the cached envelope, body structure and preview (kept
// apart in message_meta). On a 100,000-message mailbox a full listing reads
// every row: a range of the messages table itself, clustered on
// (mailbox_id, uid) (migration 0011), in UID order.

// MessageUIDs returns the UIDs of the mailbox in ascending order.
func (s *Store) MessageUIDs(ctx context.Context, mailboxID int64) ([]uint32, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid`, mailboxID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]uint32, 0, 256)
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// MessageFlags lists messages with uid in [from, to] (to 0 means no upper
// bound) in UID order, with every field but Envelope, BodyStructure and
// Preview filled in.
func (s *Store) MessageFlags(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error) {
	if to == 0 {
		to = 0xffffffff
	}
	return queryLight(ctx, s.rdb, mailboxID, `SELECT `+lightCols+` FROM messages
		WHERE mailbox_id = ? AND uid >= ? AND uid <= ? ORDER BY uid`, mailboxID, from, to)
}

// MessageEnvelopes implements store.Lister. Each column costs a driver
// call and a conversion per row, so it reads only the five a message list
// needs; the envelope comes from message_meta, the body structure and
// preview (most of that row's bytes) stay unread.
func (s *Store) MessageEnvelopes(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error) {
	s.idx.noteRead()
	if to == 0 {
		to = 0xffffffff
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT uid, modseq, flags, keywords, envelope FROM `+messagesFull+`
		WHERE mailbox_id = ? AND uid >= ? AND uid <= ? ORDER BY uid`, mailboxID, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Message
	kw := keywordCache{}
	var arena envelopeArena
	for rows.Next() {
		m := store.Message{MailboxID: mailboxID}
		var kws string
		var env sql.RawBytes
		if err := rows.Scan(&m.UID, &m.ModSeq, &m.Flags, &kws, &env); err != nil {
			return nil, err
		}
		m.Keywords = kw.split(kws)
		m.Envelope = arena.keep(env)
		out = append(out, m)
	}
	return out, rows.Err()
}

// envelopeArena keeps the envelopes of a listing in a few large chunks
// instead of one allocation each.
type envelopeArena []byte

func (a *envelopeArena) keep(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if len(b) > cap(*a)-len(*a) {
		*a = make([]byte, 0, max(64<<10, len(b)))
	}
	start := len(*a)
	*a = append(*a, b...)
	// Capped, so that appending to one envelope cannot overwrite the next.
	return (*a)[start:len(*a):len(*a)]
}

// keywordCache splits keyword columns once per distinct value: most
// messages share a handful of keyword lists.
type keywordCache map[string][]string

func (c keywordCache) split(s string) []string {
	if s == "" {
		return nil
	}
	l, ok := c[s]
	if !ok {
		l = splitKeywords(s)
		c[s] = l
	}
	return l
}

const lightCols = `id, uid, modseq, flags, keywords, internal_date, size, blob_id, thread_id`

// queryLight runs a query for lightCols of messages of one mailbox.
func queryLight(ctx context.Context, q querier, mailboxID int64, query string, args ...any) ([]store.Message, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Message
	kwCache := keywordCache{}
	for rows.Next() {
		m := store.Message{MailboxID: mailboxID}
		var kw string
		var t int64
		if err := rows.Scan(&m.ID, &m.UID, &m.ModSeq, &m.Flags, &kw, &t, &m.Size, &m.BlobID, &m.ThreadID); err != nil {
			return nil, err
		}
		m.Keywords = kwCache.split(kw)
		m.InternalDate = time.Unix(t, 0).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// selectLight is selectMessages without the cached parsed forms, for
// changes that need only flags (UpdateFlags): STORE 1:* on a large mailbox
// then reads the listing index alone.
func selectLight(ctx context.Context, q querier, mailboxID int64, uids []uint32) ([]store.Message, error) {
	return selectUIDs(uids, func(lo, hi uint32) ([]store.Message, error) {
		return queryLight(ctx, q, mailboxID, `SELECT `+lightCols+` FROM messages
			WHERE mailbox_id = ? AND uid >= ? AND uid <= ? ORDER BY uid`, mailboxID, lo, hi)
	})
}

// SelectListing returns the UIDs of the mailbox with its first unseen
// message and keywords in use, from one scan of the listing index.
func (s *Store) SelectListing(ctx context.Context, mailboxID int64) (store.SelectListing, error) {
	var out store.SelectListing
	rows, err := s.rdb.QueryContext(ctx, `SELECT uid, flags, keywords FROM messages WHERE mailbox_id = ? ORDER BY uid`, mailboxID)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	out.UIDs = make([]uint32, 0, 256)
	seen := map[string]struct{}{}
	for rows.Next() {
		var u uint32
		var f store.Flags
		var kw string
		if err := rows.Scan(&u, &f, &kw); err != nil {
			return out, err
		}
		out.UIDs = append(out.UIDs, u)
		if out.FirstUnseen == 0 && f&store.FlagSeen == 0 {
			out.FirstUnseen = uint32(len(out.UIDs))
		}
		if kw != "" {
			if _, ok := seen[kw]; !ok {
				seen[kw] = struct{}{}
				out.Keywords = append(out.Keywords, splitKeywords(kw)...)
			}
		}
	}
	return out, rows.Err()
}

// HighestModSeq returns the mailbox's highest modseq without counting its
// messages (MailboxStatus does, which costs a scan per call).
func (s *Store) HighestModSeq(ctx context.Context, mailboxID int64) (uint64, error) {
	var m int64
	err := s.rdb.QueryRowContext(ctx, `SELECT highestmodseq FROM mailboxes WHERE id = ?`, mailboxID).Scan(&m)
	return uint64(m), notFound(err)
}

var _ store.Lister = (*Store)(nil)
