package jmapmail

import (
	"context"
	"encoding/json"
	"slices"

	"postern/internal/jmap"
	"postern/internal/store"
)

type emailQueryChangesArgs struct {
	AccountID       string            `json:"accountId"`
	Filter          json.RawMessage   `json:"filter"`
	Sort            []emailComparator `json:"sort"`
	SinceQueryState string            `json:"sinceQueryState"`
	MaxChanges      *int64            `json:"maxChanges"`
	UpToID          *string           `json:"upToId"`
	CalculateTotal  bool              `json:"calculateTotal"`
	CollapseThreads bool              `json:"collapseThreads"`
}

type addedItem struct {
	ID    string `json:"id"`
	Index int64  `json:"index"`
}

type emailQueryChangesResponse struct {
	AccountID     string      `json:"accountId"`
	OldQueryState string      `json:"oldQueryState"`
	NewQueryState string      `json:"newQueryState"`
	Total         *int64      `json:"total,omitempty"`
	Removed       []string    `json:"removed"`
	Added         []addedItem `json:"added"`
}

// emailQueryChanges is Email/queryChanges (RFC 8620 §5.6, RFC 8621 §4.5)
// for the query Email/query says it can follow: one inMailbox condition
// sorted by receivedAt, with or without collapseThreads. Other queries are
// cannotCalculateChanges.
//
// The answer comes from the account's changes since the old state, which
// do not say where a changed email was before, so it errs on the side the
// RFC allows: every email that changed (or was destroyed) since is in
// removed, with, when collapsing, every email of a touched thread (one of
// them was its old representative); and every one of those in the results
// now is in added, at its index. upToId is ignored, as RFC 8620 asks when
// the filter is on a mutable property (a mailbox changes with a move).
func (h *handler) emailQueryChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var a emailQueryChangesArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	q, err := parseEmailQuery(a.Filter, a.Sort, a.CollapseThreads)
	if err != nil {
		return nil, err
	}
	if a.MaxChanges != nil && *a.MaxChanges <= 0 {
		return nil, jmap.NewError(jmap.InvalidArguments, "maxChanges must be a positive integer")
	}
	if !q.byDate {
		return nil, jmap.NewError(jmap.CannotCalculateChanges, "changes are followed for inMailbox sorted by receivedAt only")
	}
	since, ok := parseState(a.SinceQueryState)
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
	mb, _ := parseMailboxID(resolveCreated(c, q.mailbox))
	if owned, err := h.ownsMailbox(ctx, acct, mb); err != nil {
		return nil, err
	} else if !owned {
		mb = 0 // no results then nor now; MessagesByDate finds nothing
	}
	removed, watch, err := h.touched(ctx, acct, &ch, q.collapse)
	if err != nil {
		return nil, err
	}
	resp := emailQueryChangesResponse{AccountID: a.AccountID, OldQueryState: a.SinceQueryState,
		NewQueryState: formatState(ch.ModSeq), Removed: []string{}, Added: []addedItem{}}
	for _, id := range removed {
		resp.Removed = append(resp.Removed, emailID(id))
	}
	// Walk the results now, noting where the watched emails are; stop
	// when all those in the mailbox are found, unless a total is asked.
	var index int64
	seen := map[int64]bool{}
	want := watch.inMailbox(mb)
	err = h.st.MessagesByDate(ctx, mb, q.newestFirst, nil, func(m store.Message) bool {
		if q.collapse {
			if seen[m.ThreadID] {
				return true
			}
			seen[m.ThreadID] = true
		}
		if watch.has(m, q.collapse) {
			resp.Added = append(resp.Added, addedItem{ID: emailID(m.ID), Index: index})
			want--
		}
		index++
		return a.CalculateTotal || want > 0
	})
	if err != nil {
		return nil, err
	}
	if a.CalculateTotal {
		resp.Total = &index
	}
	if a.MaxChanges != nil && int64(len(resp.Removed)+len(resp.Added)) > *a.MaxChanges {
		return nil, jmap.NewError(jmap.TooManyChanges, "")
	}
	return resp, nil
}

// watched are what queryChanges looks for in the results now: changed
// emails, and (when collapsing) touched threads, with the mailbox each
// email is in now.
type watched struct {
	emails  map[int64]int64 // email -> mailbox
	threads map[int64]bool
	// threadIn is, per mailbox, the touched threads with an email there.
	threadIn map[int64]map[int64]bool
}

// inMailbox is how many results the walk of mailbox mb can find.
func (w *watched) inMailbox(mb int64) int {
	if w.threads != nil {
		return len(w.threadIn[mb])
	}
	n := 0
	for _, at := range w.emails {
		if at == mb {
			n++
		}
	}
	return n
}

// has tells whether a result (the first of its thread when collapsing)
// is one to report as added.
func (w *watched) has(m store.Message, collapse bool) bool {
	if collapse {
		return w.threads[m.ThreadID]
	}
	_, ok := w.emails[m.ID]
	return ok
}

// touched returns the emails to report removed, ascending, and what to
// look for in the results now.
func (h *handler) touched(ctx context.Context, acct int64, ch *store.AccountChanges, collapse bool) ([]int64, *watched, error) {
	w := &watched{emails: map[int64]int64{}}
	removed := map[int64]bool{}
	for _, m := range ch.Updated {
		removed[m.ID] = true
		w.emails[m.ID] = m.MailboxID
	}
	for _, m := range ch.Created {
		w.emails[m.ID] = m.MailboxID // new: added if in the results, never removed
	}
	for _, m := range ch.Destroyed {
		removed[m.ID] = true
	}
	if collapse {
		w.threads, w.threadIn = map[int64]bool{}, map[int64]map[int64]bool{}
		var ts []int64
		for _, l := range [][]store.ChangedMessage{ch.Created, ch.Updated, ch.Destroyed} {
			for _, m := range l {
				if !w.threads[m.ThreadID] {
					w.threads[m.ThreadID] = true
					ts = append(ts, m.ThreadID)
				}
			}
		}
		rows, err := h.st.ThreadMessages(ctx, acct, ts)
		if err != nil {
			return nil, nil, storeErr(err)
		}
		for _, m := range rows {
			removed[m.ID] = true
			if w.threadIn[m.MailboxID] == nil {
				w.threadIn[m.MailboxID] = map[int64]bool{}
			}
			w.threadIn[m.MailboxID][m.ThreadID] = true
		}
		for _, m := range ch.Created {
			delete(removed, m.ID)
		}
	}
	out := make([]int64, 0, len(removed))
	for id := range removed {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, w, nil
}
