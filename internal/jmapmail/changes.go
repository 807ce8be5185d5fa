package jmapmail

import (
	"context"
	"sort"

	"postern/internal/jmap"
	"postern/internal/store"
)

type changesArgs struct {
	AccountID  string `json:"accountId"`
	SinceState string `json:"sinceState"`
	MaxChanges *int64 `json:"maxChanges"`
}

type changesResponse struct {
	AccountID         string    `json:"accountId"`
	OldState          string    `json:"oldState"`
	NewState          string    `json:"newState"`
	HasMoreChanges    bool      `json:"hasMoreChanges"`
	Created           []string  `json:"created"`
	Updated           []string  `json:"updated"`
	Destroyed         []string  `json:"destroyed"`
	UpdatedProperties *[]string `json:"updatedProperties"`
}

// changes is Mailbox/changes (RFC 8620 §5.2, RFC 8621 §2.2), from the
// account-wide modseq. The store keeps every tombstone, so any state it
// gave out can be answered; a malformed state or one from the future is
// cannotCalculateChanges. updatedProperties is always null: the store does
// not tell a change of counts from a change of the mailbox itself.
//
// maxChanges: when more mailboxes changed than the client takes, the
// answer stops at an earlier state S found by bisection, holding the
// mailboxes that changed after sinceState and not again after S; the rest
// come with the next call from S. When even the first modseq after
// sinceState changed more mailboxes than maxChanges (a rename of a tree),
// the answer is cannotCalculateChanges and the client reloads.
func (h *handler) changes(ctx context.Context, c *jmap.Call) (any, error) {
	var a changesArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	limit := -1
	if a.MaxChanges != nil {
		n := *a.MaxChanges
		if n <= 0 {
			return nil, jmap.NewError(jmap.InvalidArguments, "maxChanges must be a positive integer")
		}
		limit = int(min(n, 1<<30))
	}
	since, ok := parseState(a.SinceState)
	if !ok {
		return nil, jmap.NewError(jmap.CannotCalculateChanges, "not a state of this server")
	}
	ch, err := h.st.Changes(ctx, acct, since)
	if err != nil {
		return nil, storeErr(err)
	}
	if since > ch.ModSeq {
		return nil, jmap.NewError(jmap.CannotCalculateChanges, "state from the future")
	}
	resp := changesResponse{AccountID: a.AccountID, OldState: a.SinceState, NewState: formatState(ch.ModSeq),
		Created: []string{}, Updated: []string{}, Destroyed: []string{}}
	changed, destroyed := ch.Mailboxes, ch.MailboxesDestroyed
	if limit >= 0 && len(changed)+len(destroyed) > limit {
		upto, later, err := h.bisect(ctx, acct, since, ch, limit)
		if err != nil {
			return nil, err
		}
		if upto == since {
			return nil, jmap.NewError(jmap.CannotCalculateChanges, "more changes in one step than maxChanges")
		}
		changed, destroyed = without(changed, later), without(destroyed, later)
		resp.NewState, resp.HasMoreChanges = formatState(upto), true
	}
	v, err := h.loadView(ctx, acct)
	if err != nil {
		return nil, err
	}
	var oldest uint64 // the largest id of a mailbox that existed at since
	for _, m := range v.list {
		if m.HighestModSeq <= since {
			oldest = max(oldest, uint64(m.ID))
		}
	}
	gone := map[int64]bool{}
	for _, id := range destroyed {
		gone[id] = true
	}
	for _, id := range changed {
		m := v.byID[id]
		switch {
		case gone[id]:
			// A store id used again after a destroy: the client
			// reloads it.
			resp.Updated = append(resp.Updated, mailboxID(id))
			delete(gone, id)
		case m != nil && h.existedAt(ctx, m, since, oldest, ch):
			resp.Updated = append(resp.Updated, mailboxID(id))
		default:
			resp.Created = append(resp.Created, mailboxID(id))
		}
	}
	for _, id := range destroyed {
		if gone[id] {
			resp.Destroyed = append(resp.Destroyed, mailboxID(id))
			delete(gone, id) // a tombstone may repeat
		}
	}
	return resp, nil
}

// existedAt reports whether mailbox m certainly existed at modseq since.
// The store records when a message arrived (created_modseq) but not when a
// mailbox was created, so this proves it from what the store does tell:
//
//   - a mailbox's HIGHESTMODSEQ starts at its creation modseq and never
//     goes down, so HighestModSeq <= since proves it;
//   - store ids grow with creation (sqlstore gives a new row the largest
//     id plus one), so an id below that of a mailbox proven to exist at
//     since (oldest: the largest such id) proves it;
//   - a message whose modseq is <= since was in m then (a move gives a
//     message a new modseq), so more messages in m than the changes list
//     in m proves it, when MailboxStatus reads the same messages as ch
//     (HighestModSeq not past ch.ModSeq).
//
// Anything else (the newest mailbox, renamed or with new mail only) is
// reported as created: a client that already holds it replaces it, while
// one told "updated" for an id it never saw could miss a new mailbox. A
// created_modseq on mailboxes in the store would make this exact.
func (h *handler) existedAt(ctx context.Context, m *mbox, since, oldest uint64, ch store.AccountChanges) bool {
	if m.HighestModSeq <= since || uint64(m.ID) < oldest {
		return true
	}
	st, err := h.st.MailboxStatus(ctx, m.ID)
	if err != nil || st.HighestModSeq > ch.ModSeq {
		return false
	}
	var n int64
	for _, list := range [][]store.ChangedMessage{ch.Created, ch.Updated} {
		for _, c := range list {
			if c.MailboxID == m.ID {
				n++
			}
		}
	}
	return st.Messages > n
}

// bisect finds the largest state upto in [since, ch.ModSeq) such that the
// mailboxes that changed after since but not after upto are at most limit,
// and returns it with the ids that changed after it.
func (h *handler) bisect(ctx context.Context, acct int64, since uint64, ch store.AccountChanges, limit int) (uint64, map[int64]bool, error) {
	all := map[int64]bool{}
	for _, list := range [][]int64{ch.Mailboxes, ch.MailboxesDestroyed} {
		for _, id := range list {
			all[id] = true
		}
	}
	lo, hi := since, ch.ModSeq // page(lo) <= limit < page(hi)
	loLater := all
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		c, err := h.st.Changes(ctx, acct, mid)
		if err != nil {
			return 0, nil, storeErr(err)
		}
		later := map[int64]bool{}
		for _, list := range [][]int64{c.Mailboxes, c.MailboxesDestroyed} {
			for _, id := range list {
				later[id] = true
			}
		}
		page := 0
		for id := range all {
			if !later[id] {
				page++
			}
		}
		if page <= limit {
			lo, loLater = mid, later
		} else {
			hi = mid
		}
	}
	// A page of nothing makes no progress for the client.
	empty := true
	for id := range all {
		if !loLater[id] {
			empty = false
		}
	}
	if empty {
		return since, nil, nil
	}
	return lo, loLater, nil
}

// without returns ids not in drop, sorted.
func without(ids []int64, drop map[int64]bool) []int64 {
	var out []int64
	for _, id := range ids {
		if !drop[id] {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
