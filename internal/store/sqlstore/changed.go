package sqlstore

import (
	"cmp"
	"context"
	"slices"

	"postern/internal/store"
)

const changedSinceQuery = `SELECT id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id,
	thread_id, NULL, NULL, '' FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY modseq`

// MessageFlagsChangedSince is MessagesChangedSince without Envelope,
// BodyStructure and Preview: what a CONDSTORE/QRESYNC resync (RFC 7162)
// answers from, UID FLAGS MODSEQ. Ordering by modseq keeps SQLite on the
// messages_modseq range, so the cost follows the number of changes, not
// the size of the mailbox (ordered by uid it would scan the listing
// index); the result is sorted by UID here.
func (s *Store) MessageFlagsChangedSince(ctx context.Context, mailboxID int64, modseq uint64) ([]store.Message, error) {
	out, err := queryMessages(ctx, s.rdb, changedSinceQuery, mailboxID, int64(modseq))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.Message) int { return cmp.Compare(a.UID, b.UID) })
	return out, nil
}
