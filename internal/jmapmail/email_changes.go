package jmapmail

import (
	"context"
	"slices"

	"postern/internal/jmap"
	"postern/internal/store"
)

// emailChanges is Email/changes (RFC 8620 §5.2, RFC 8621 §4.3), from the
// account-wide change sequence (store Changes): an email is created when
// it arrived after sinceState, updated when it existed then and changed
// since (keywords, mailbox), destroyed when it left the account. The store
// keeps every tombstone, so every state it gave out can be answered; a
// malformed state or one from the future is cannotCalculateChanges.
//
// maxChanges: when more emails changed, the answer stops at the largest
// earlier state S (found by bisection, as Thread/changes does) whose
// changes fit, and the rest come with the next call from S. An email
// created before S and changed again after it is reported created in
// this page, so that the next page's "updated" names an email the client
// knows. When even the first state after sinceState changed more emails
// than maxChanges, the answer is cannotCalculateChanges.
func (h *handler) emailChanges(ctx context.Context, c *jmap.Call) (any, error) {
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
		if *a.MaxChanges <= 0 {
			return nil, jmap.NewError(jmap.InvalidArguments, "maxChanges must be a positive integer")
		}
		limit = int(min(*a.MaxChanges, 1<<30))
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
	p := emailPage(&ch, ch.ModSeq, nil)
	if limit >= 0 && p.size() > limit {
		upto, later, err := h.bisectEmails(ctx, acct, since, &ch, limit)
		if err != nil {
			return nil, err
		}
		if upto == since {
			return nil, jmap.NewError(jmap.CannotCalculateChanges, "more changes in one step than maxChanges")
		}
		p = emailPage(&ch, upto, later)
		resp.NewState, resp.HasMoreChanges = formatState(upto), true
	}
	for _, l := range []struct {
		ids []int64
		out *[]string
	}{{p.created, &resp.Created}, {p.updated, &resp.Updated}, {p.destroyed, &resp.Destroyed}} {
		for _, id := range l.ids {
			*l.out = append(*l.out, emailID(id))
		}
	}
	return resp, nil
}

// emailChangePage is what one Email/changes answer reports, ids ascending.
type emailChangePage struct {
	created, updated, destroyed []int64
}

func (p emailChangePage) size() int { return len(p.created) + len(p.updated) + len(p.destroyed) }

// emailPage is the page of ch that ends at state upto; later are the
// changes after upto (nil when upto is ch.ModSeq).
func emailPage(ch *store.AccountChanges, upto uint64, later *store.AccountChanges) emailChangePage {
	var p emailChangePage
	createdLater := createdSet(later)
	for _, m := range ch.Created {
		// Created by upto: changed by then, or known to later as an
		// update.
		if m.ModSeq <= upto || later != nil && !createdLater[m.ID] {
			p.created = append(p.created, m.ID)
		}
	}
	for _, m := range ch.Updated {
		if m.ModSeq <= upto {
			p.updated = append(p.updated, m.ID)
		}
	}
	there := map[int64]bool{}
	for _, l := range [][]int64{p.created, p.updated} {
		for _, id := range l {
			there[id] = true
		}
	}
	for _, m := range ch.Destroyed {
		if m.ModSeq <= upto && !there[m.ID] {
			there[m.ID] = true // a tombstone may repeat
			p.destroyed = append(p.destroyed, m.ID)
		}
	}
	for _, l := range [][]int64{p.created, p.updated, p.destroyed} {
		slices.Sort(l)
	}
	return p
}

// bisectEmails finds the largest state upto below ch.ModSeq whose page
// holds at most limit emails, and returns it with the changes after it;
// upto is since when no state makes progress within the limit.
func (h *handler) bisectEmails(ctx context.Context, acct int64, since uint64, ch *store.AccountChanges, limit int) (uint64, *store.AccountChanges, error) {
	lo, hi := since, ch.ModSeq // fits(lo), !fits(hi)
	var loLater *store.AccountChanges
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		later, err := h.st.Changes(ctx, acct, mid)
		if err != nil {
			return 0, nil, storeErr(err)
		}
		if emailPage(ch, mid, &later).size() <= limit {
			lo, loLater = mid, &later
		} else {
			hi = mid
		}
	}
	if loLater == nil || emailPage(ch, lo, loLater).size() == 0 {
		return since, nil, nil
	}
	return lo, loLater, nil
}
