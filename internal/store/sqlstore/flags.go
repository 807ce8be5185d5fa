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
	var cur int64
	if err := tx.QueryRowContext(ctx, `SELECT modseq FROM accounts WHERE id = ?`, mb.AccountID).Scan(&cur); err != nil {
		return res, notFound(err)
	}
	modseq := uint64(cur) + 1
	var err error
	if dense(uids) {
		res, err = updateFlagsSpan(ctx, tx, mb, uids, upd, modseq)
	} else {
		res, err = updateFlagsRuns(ctx, tx, mb, uids, upd, modseq)
	}
	if err != nil || len(res.Changed) == 0 {
		return res, err
	}
	slices.SortFunc(res.Changed, func(a, b store.Message) int { return cmp.Compare(a.UID, b.UID) })
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET modseq = ? WHERE id = ?`, int64(modseq), mb.AccountID); err != nil {
		return res, err
	}
	return res, nil
}

// dense tells whether the requested UIDs fill at least half of their span:
// then reading the span's rows that would change costs about what reading
// the span's UIDs to cut it into runs did, and saves that read.
func dense(uids []uint32) bool {
	span := uint64(uids[len(uids)-1]-uids[0]) + 1
	return uint64(len(uids))*2 >= span
}

// flagWhere is the condition of the rows of a UID range that upd changes,
// with its arguments.
func flagWhere(mb store.Mailbox, lo, hi uint32, upd store.FlagUpdate) (string, []any) {
	_, _, cond, condArgs := flagSQL(upd)
	where := `mailbox_id = ? AND uid >= ? AND uid <= ? AND ` + cond
	args := append([]any{mb.ID, lo, hi}, condArgs...)
	if upd.UnchangedSince != 0 {
		where += ` AND modseq <= ?`
		args = append(args, int64(upd.UnchangedSince))
	}
	return where, args
}

// updateFlagsSpan reads the rows of the whole span of uids that upd would
// change and updates the requested ones. A row of the span that was not
// requested and would not change is left alone by the UPDATE's condition,
// so only a row that was not requested and would change cuts the span:
// STORE 1:* is one read and one UPDATE, with no read of the span's UIDs.
func updateFlagsSpan(ctx context.Context, tx *wtx, mb store.Mailbox, uids []uint32, upd store.FlagUpdate, modseq uint64) (store.FlagResult, error) {
	var res store.FlagResult
	lo, hi := uids[0], uids[len(uids)-1]
	if upd.UnchangedSince != 0 {
		// RFC 7162 §3.1.3: messages changed later fail the condition.
		failed, err := uidsWhere(ctx, tx, `SELECT uid FROM messages WHERE mailbox_id = ? AND uid >= ? AND uid <= ? AND modseq > ?`,
			mb.ID, lo, hi, int64(upd.UnchangedSince))
		if err != nil {
			return res, err
		}
		res.Failed = keepRequested(failed, uids)
	}
	where, wargs := flagWhere(mb, lo, hi, upd)
	// The rows that will change, read first: cheaper than RETURNING.
	cand, err := queryFlags(ctx, tx, mb.ID, len(uids), `SELECT id, uid, flags, keywords FROM messages WHERE `+where+` ORDER BY uid`, wargs...)
	if err != nil || len(cand) == 0 {
		return res, err
	}
	changed := cand[:0] // filtered in place: the write index never passes the read one
	var runs [][2]uint32
	cut := true
	j := 0
	for _, m := range cand {
		for j < len(uids) && uids[j] < m.UID {
			j++
		}
		if j == len(uids) || uids[j] != m.UID {
			cut = true // would change but was not asked for
			continue
		}
		if cut {
			runs = append(runs, [2]uint32{m.UID, m.UID})
			cut = false
		} else {
			runs[len(runs)-1][1] = m.UID
		}
		changed = append(changed, m)
	}
	set, setArgs, _, _ := flagSQL(upd)
	for _, r := range runs {
		where, wargs := flagWhere(mb, r[0], r[1], upd)
		if err := updateFlagRows(ctx, tx, set, setArgs, modseq, where, wargs); err != nil {
			return res, err
		}
	}
	markChanged(changed, upd, modseq)
	res.Changed = changed
	return res, nil
}

// updateFlagRows applies a flag update's SET to the rows where selects.
func updateFlagRows(ctx context.Context, tx *wtx, set string, setArgs []any, modseq uint64, where string, wargs []any) error {
	_, err := tx.ExecContext(ctx, `UPDATE messages SET `+set+`, modseq = ? WHERE `+where,
		append(append(slices.Clone(setArgs), int64(modseq)), wargs...)...)
	return err
}

// markChanged gives msgs, read before the update, their new flags and
// modseq.
func markChanged(msgs []store.Message, upd store.FlagUpdate, modseq uint64) {
	for i := range msgs {
		m := &msgs[i]
		m.Flags, m.Keywords, _ = applyFlags(m.Flags, m.Keywords, upd, nil)
		m.ModSeq = modseq
	}
}

// keepRequested returns the UIDs of got (ascending) that are in uids
// (ascending).
func keepRequested(got, uids []uint32) []uint32 {
	var out []uint32
	j := 0
	for _, u := range got {
		for j < len(uids) && uids[j] < u {
			j++
		}
		if j < len(uids) && uids[j] == u {
			out = append(out, u)
		}
	}
	return out
}

// updateFlagsRuns updates a sparse set of UIDs run by run, each run a range
// of existing UIDs that holds no message that was not requested.
func updateFlagsRuns(ctx context.Context, tx *wtx, mb store.Mailbox, uids []uint32, upd store.FlagUpdate, modseq uint64) (store.FlagResult, error) {
	var res store.FlagResult
	exist, err := existingUIDs(ctx, tx, mb.ID, uids[0], uids[len(uids)-1])
	if err != nil {
		return res, err
	}
	set, setArgs, _, _ := flagSQL(upd)
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
		where, wargs := flagWhere(mb, r[0], r[1], upd)
		// The rows that will change, read first: cheaper than RETURNING.
		changed, err := queryFlags(ctx, tx, mb.ID, 0, `SELECT id, uid, flags, keywords FROM messages WHERE `+where+` ORDER BY uid`, wargs...)
		if err != nil || len(changed) == 0 {
			if err != nil {
				return res, err
			}
			continue
		}
		if err := updateFlagRows(ctx, tx, set, setArgs, modseq, where, wargs); err != nil {
			return res, err
		}
		markChanged(changed, upd, modseq)
		res.Changed = append(res.Changed, changed...)
	}
	return res, nil
}

// queryFlags reads id, uid, flags and keywords of messages of a mailbox:
// what a flag change tells. Each column costs a conversion per row, and
// STORE 1:* reads every row of the mailbox, so the result is sized from
// capHint (the most rows expected; 0 when unknown) rather than grown.
func queryFlags(ctx context.Context, q querier, mailboxID int64, capHint int, query string, args ...any) ([]store.Message, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]store.Message, 0, capHint)
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
