package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"hash/fnv"
	"strings"

	"postern/internal/store"
)

// Threads are assigned once, at delivery (store.ThreadKeys): a message joins
// the thread of its nearest parent that the account holds, else, when it
// replies without known parents, the latest thread with its base subject,
// else starts its own, named after itself. thread_keys maps a hash of each
// Message-ID (own and parents) and of each base subject to a thread, per
// account, so the lookup is a few primary-key probes whatever the mailbox
// size. A thread never merges with another later: JMAP requires a
// message's threadId to stay what it was (RFC 8621 §3).

// maxThreadParents bounds the parents looked up and recorded per message: a
// References field can list hundreds.
const maxThreadParents = 20

func threadKey(kind byte, s string) int64 {
	h := fnv.New64a()
	h.Write([]byte{kind, ':'})
	h.Write([]byte(s))
	return int64(h.Sum64())
}

// assignThread returns the thread of message id (not inserted yet) in the
// account, and records its keys. Priority: the nearest parent the account
// holds, then a reply that came before this message (its own id recorded as
// a parent), then for a reply the latest thread with its base subject, then
// a new thread named after the message.
func assignThread(ctx context.Context, tx *wtx, accountID, id int64, k store.ThreadKeys) (int64, error) {
	parents := k.Parents
	if len(parents) > maxThreadParents {
		parents = parents[len(parents)-maxThreadParents:]
	}
	thread := int64(0)
	for i := len(parents) - 1; i >= 0 && thread == 0; i-- {
		t, err := lookupThread(ctx, tx, accountID, threadKey('m', parents[i]))
		if err != nil {
			return 0, err
		}
		thread = t
	}
	byParent := thread != 0
	subject := store.FoldText(strings.TrimSpace(k.BaseSubject))
	if thread == 0 && k.IsReply && subject != "" {
		t, err := lookupThread(ctx, tx, accountID, threadKey('s', subject))
		if err != nil {
			return 0, err
		}
		thread = t
	}
	if thread == 0 {
		thread = id
	}
	if k.MessageID != "" {
		// One statement: record the message's own id, or learn the thread
		// of a reply that named it first (which then wins over the subject).
		var t int64
		err := tx.QueryRowContext(ctx, `INSERT INTO thread_keys (account_id, key_hash, thread_id) VALUES (?, ?, ?)
			ON CONFLICT DO UPDATE SET thread_id = thread_id RETURNING thread_id`, accountID, threadKey('m', k.MessageID), thread).Scan(&t)
		if err != nil {
			return 0, err
		}
		if !byParent {
			thread = t
		}
	}
	// Parents the account does not hold (yet) lead to this thread: a
	// sibling reply or the late parent joins it.
	for _, p := range parents {
		if _, err := tx.ExecContext(ctx, `INSERT INTO thread_keys (account_id, key_hash, thread_id) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, accountID, threadKey('m', p), thread); err != nil {
			return 0, err
		}
	}
	if subject != "" {
		// The latest thread with this subject is the one a bare reply meant.
		if _, err := tx.ExecContext(ctx, `INSERT INTO thread_keys (account_id, key_hash, thread_id) VALUES (?, ?, ?)
			ON CONFLICT DO UPDATE SET thread_id = excluded.thread_id`, accountID, threadKey('s', subject), thread); err != nil {
			return 0, err
		}
	}
	return thread, nil
}

func lookupThread(ctx context.Context, tx *wtx, accountID, key int64) (int64, error) {
	var t int64
	err := tx.QueryRowContext(ctx, `SELECT thread_id FROM thread_keys WHERE account_id = ? AND key_hash = ?`, accountID, key).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return t, err
}

// refsOf is what message_meta.refs keeps for IMAP THREAD=REFERENCES
// (store.TextSearcher.References): the References field of the decoded
// header lines, so that THREAD never reads a body.
func refsOf(meta store.MessageMeta) string {
	var vals []string
	for _, line := range strings.Split(meta.Headers, "\n") {
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "references") {
			vals = append(vals, strings.TrimSpace(v))
		}
	}
	refs := strings.Join(vals, " ")
	if len(refs) > maxRefsKept {
		// The nearest ancestors are at the end; cut at an id's start.
		tail := refs[len(refs)-maxRefsKept:]
		if i := strings.IndexByte(tail, '<'); i >= 0 {
			tail = tail[i:]
		}
		refs = tail
	}
	return refs
}

// maxRefsKept bounds message_meta.refs: a References field can list
// hundreds of ids, and threading needs the nearest.
const maxRefsKept = 4096

// messageRefs reads message_meta.refs of msgs, in their order.
func messageRefs(ctx context.Context, tx *wtx, msgs []store.Message) ([]string, error) {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		err := tx.QueryRowContext(ctx, `SELECT refs FROM message_meta WHERE message_id = ?`, m.ID).Scan(&out[i])
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	return out, nil
}
