package sqlstore

import (
	"cmp"
	"context"
	"slices"

	"postern/internal/store"
)

// Flag changes without keywords, the common STORE, run as a few set-based
// UPDATEs: one per run of the requested UIDs that no other message of the
// mailbox interrupts (STORE 1:* is one statement), RETURNING the rows that
// changed. A row-by-row loop cost a statement per message.

// systemFlagsOnly tells whether upd can run set-based.
func systemFlagsOnly(upd store.FlagUpdate) bool {
	return len(upd.Keywords) == 0 && (upd.Op == store.FlagsAdd || upd.Op == store.FlagsRemove || upd.Op == store.FlagsReplace)
}

// flagSQL is the SET of an operation and the condition under which it
// changes a row, each with its arguments.
func flagSQL(upd store.FlagUpdate) (set string, setArgs []any, cond string, condArgs []any) {
	f := int64(upd.Flags & allFlags)
	switch upd.Op {
	case store.FlagsAdd:
		return `flags = flags | ?`, []any{f}, `flags & ? <> ?`, []any{f, f}
	case store.FlagsRemove:
		return `flags = flags & ~?`, []any{f}, `flags & ? <> 0`, []any{f}
	}
	return `flags = ?, keywords = ''`, []any{f}, `(flags <> ? OR keywords <> '')`, []any{f}
}

// uidRuns splits the requested UIDs into ranges [lo, hi] that contain no
// other existing message of the mailbox: exist is the mailbox's UIDs in
// [uids[0], uids[len-1]], ascending; uids is ascending.
func uidRuns(uids, exist []uint32) [][2]uint32 {
	var runs [][2]uint32
	j := 0
	for _, u := range exist {
		for j < len(uids) && uids[j] < u {
			j++ // requested but not there
		}
		if j < len(uids) && uids[j] == u {
			if n := len(runs); n > 0 && runs[n-1][1] == prevIn(exist, u) {
				runs[n-1][1] = u
			} else {
				runs = append(runs, [2]uint32{u, u})
			}
			j++
		}
	}
	return runs
}

// prevIn returns the existing UID before u (0 when u is the first); exist
// is sorted and holds u.
func prevIn(exist []uint32, u uint32) uint32 {
	i, _ := slices.BinarySearch(exist, u)
	if i == 0 {
		return 0
	}
	return exist[i-1]
}

// updateFlagsSet applies upd to uids of mb in set-based statements.
func updateFlagsSet(ctx context.Context, tx *wtx, mb store.Mailbox, uids []uint32, upd store.FlagUpdate) (store.FlagResult, error) {
	var res store.FlagResult
	uids = slices.Clone(uids)
	slices.Sort(uids)
	uids = slices.Compact(uids)
	if len(uids) == 0 {
		return res, nil
	}
	exist, err := existingUIDs(ctx, tx, mb.ID, uids[0], uids[len(uids)-1])
	if err != nil {
		return res, err
	}
	var cur int64
	if err := tx.QueryRowContext(ctx, `SELECT modseq FROM accounts WHERE id = ?`, mb.AccountID).Scan(&cur); err != nil {
		return res, notFound(err)
	}
	modseq := uint64(cur) + 1
	set, setArgs, cond, condArgs := flagSQL(upd)
	for _, r := range uidRuns(uids, exist) {
		if upd.UnchangedSince != 0 {
			// RFC 7162 §3.1.3: messages changed later fail the condition.
			failed, err := uidsWhere(ctx, tx, `SELECT uid FROM messages WHERE mailbox_id = ? AND uid >= ? AND uid <= ? AND modseq > ?`,
				mb.ID, r[0], r[1], int64(upd.UnchangedSince))
			if err != nil {
				return res, err
			}
			res.Failed = append(res.Failed, failed...)
		}
		where := `mailbox_id = ? AND uid >= ? AND uid <= ? AND ` + cond
		wargs := append([]any{mb.ID, r[0], r[1]}, condArgs...)
		if upd.UnchangedSince != 0 {
			where += ` AND modseq <= ?`
			wargs = append(wargs, int64(upd.UnchangedSince))
		}
		// The rows that will change, read first: cheaper than RETURNING.
		changed, err := queryFlags(ctx, tx, mb.ID, `SELECT id, uid, flags, keywords FROM messages WHERE `+where+` ORDER BY uid`, wargs...)
		if err != nil || len(changed) == 0 {
			if err != nil {
				return res, err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET `+set+`, modseq = ? WHERE `+where,
			append(append(slices.Clone(setArgs), int64(modseq)), wargs...)...); err != nil {
			return res, err
		}
		for i := range changed {
			m := &changed[i]
			m.Flags, m.Keywords, _ = applyFlags(m.Flags, m.Keywords, upd, nil)
			m.ModSeq = modseq
		}
		res.Changed = append(res.Changed, changed...)
	}
	if len(res.Changed) == 0 {
		return res, nil
	}
	slices.SortFunc(res.Changed, func(a, b store.Message) int { return cmp.Compare(a.UID, b.UID) })
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET modseq = ? WHERE id = ?`, int64(modseq), mb.AccountID); err != nil {
		return res, err
	}
	return res, nil
}

// queryFlags reads id, uid, flags and keywords of messages of a mailbox:
// what a flag change tells. Each column costs a conversion per row, and
// STORE 1:* reads every row of the mailbox.
func queryFlags(ctx context.Context, q querier, mailboxID int64, query string, args ...any) ([]store.Message, error) {
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
		if err := rows.Scan(&m.ID, &m.UID, &m.Flags, &kw); err != nil {
			return nil, err
		}
		m.Keywords = kwCache.split(kw)
		out = append(out, m)
	}
	return out, rows.Err()
}

func existingUIDs(ctx context.Context, q querier, mailboxID int64, lo, hi uint32) ([]uint32, error) {
	return uidsWhere(ctx, q, `SELECT uid FROM messages WHERE mailbox_id = ? AND uid >= ? AND uid <= ? ORDER BY uid`, mailboxID, lo, hi)
}

func uidsWhere(ctx context.Context, q querier, query string, args ...any) ([]uint32, error) {
	rows, err := q.QueryContext(ctx, query, args...)
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
