package jmapmail

import (
	"context"
	"slices"
	"sort"

	"postern/internal/jmap"
	"postern/internal/store"
)

// Threads (RFC 8621 §3): a Thread is the messages of the account with one
// store thread id, its id "t" and that number (the id of the thread's first
// message; the store assigns it at delivery and never merges threads, so
// an email's threadId never changes). Its state is the account modseq, as
// for Mailbox.

// threadProperties of a Thread, in the order they are answered.
var threadProperties = []string{"id", "emailIds"}

// threadGet is Thread/get (RFC 8620 §5.1, RFC 8621 §3.1). emailIds are
// sorted by receivedAt, then by id (RFC 8621 §3 asks the order of
// receivedAt, "oldest first").
func (h *handler) threadGet(ctx context.Context, c *jmap.Call) (any, error) {
	var a getArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	props, err := pickProperties(a.Properties, threadProperties, nil)
	if err != nil {
		return nil, err
	}
	if a.IDs != nil {
		if err := c.CheckGet(len(*a.IDs)); err != nil {
			return nil, err
		}
	}
	if a.IDs != nil {
		return h.threadGetByID(ctx, acct, a.AccountID, dedup(*a.IDs), props)
	}
	ix, err := h.loadIndex(ctx, acct)
	if err != nil {
		return nil, err
	}
	all := ix.threadIDs()
	if err := c.CheckGet(len(all)); err != nil {
		return nil, err
	}
	var ids []string
	for _, t := range all {
		ids = append(ids, threadID(t))
	}
	resp := getResponse{AccountID: a.AccountID, State: formatState(ix.modseq), List: []map[string]any{}, NotFound: []string{}}
	var found []int64
	var msgs []int64
	for _, id := range ids {
		t, ok := parseID(id, 't')
		if !ok || len(ix.threads[t]) == 0 {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		found = append(found, t)
		msgs = append(msgs, ix.threads[t]...)
	}
	var rows map[int64]store.Message
	if slices.Contains(props, "emailIds") && len(msgs) > 0 {
		// The received dates order the emails; the light rows have them.
		if rows, err = h.read(ctx, acct, ix, msgs, false); err != nil {
			return nil, err
		}
	}
	for _, t := range found {
		o := map[string]any{}
		for _, p := range props {
			switch p {
			case "id":
				o[p] = threadID(t)
			case "emailIds":
				o[p] = threadEmailIDs(ix.threads[t], rows)
			}
		}
		resp.List = append(resp.List, o)
	}
	return resp, nil
}

// threadGetByID is Thread/get of given ids: the threads' messages are
// looked up by thread, at a cost that follows the answer. The state is
// read first, so a change in between shows again in Thread/changes.
func (h *handler) threadGetByID(ctx context.Context, acct int64, accountID string, ids []string, props []string) (any, error) {
	state, err := h.st.AccountModSeq(ctx, acct)
	if err != nil {
		return nil, storeErr(err)
	}
	var want []int64
	for _, id := range ids {
		if t, ok := parseID(id, 't'); ok {
			want = append(want, t)
		}
	}
	rows, err := h.st.ThreadMessages(ctx, acct, want)
	if err != nil {
		return nil, storeErr(err)
	}
	byThread := map[int64][]string{} // in received order, as the store gives them
	for _, m := range rows {
		byThread[m.ThreadID] = append(byThread[m.ThreadID], emailID(m.ID))
	}
	resp := getResponse{AccountID: accountID, State: formatState(state), List: []map[string]any{}, NotFound: []string{}}
	for _, id := range ids {
		t, ok := parseID(id, 't')
		if !ok || len(byThread[t]) == 0 {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		o := map[string]any{}
		for _, p := range props {
			switch p {
			case "id":
				o[p] = threadID(t)
			case "emailIds":
				o[p] = byThread[t]
			}
		}
		resp.List = append(resp.List, o)
	}
	return resp, nil
}

// threadEmailIDs orders the messages of a thread by received date, then
// id; a message that left the account since the listing is left out.
func threadEmailIDs(ids []int64, rows map[int64]store.Message) []string {
	var ms []store.Message
	for _, id := range ids {
		if m, ok := rows[id]; ok {
			ms = append(ms, m)
		}
	}
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].InternalDate.Equal(ms[j].InternalDate) {
			return ms[i].InternalDate.Before(ms[j].InternalDate)
		}
		return ms[i].ID < ms[j].ID
	})
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = emailID(m.ID)
	}
	return out
}

// pickProperties returns the properties a /get answers: all of known
// (the defaults, def, when not nil) when asked is null, else "id" and
// those asked, each known or refused with invalidArguments.
func pickProperties(asked *[]string, known, def []string) ([]string, error) {
	if asked == nil {
		if def != nil {
			return def, nil
		}
		return known, nil
	}
	props := []string{"id"} // always returned (RFC 8620 §5.1)
	for _, p := range *asked {
		if !slices.Contains(known, p) {
			return nil, jmap.NewError(jmap.InvalidArguments, "unknown property "+p)
		}
		if !slices.Contains(props, p) {
			props = append(props, p)
		}
	}
	return props, nil
}

// dedup returns ids without repeats, in order.
func dedup(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// threadChanges is Thread/changes (RFC 8620 §5.2, RFC 8621 §3.2). A
// thread changes when an email joins it or leaves the account; flags,
// keywords and moves change emails, not threads. The answer is read from
// two listings: every message now (Changes since 0) and what changed
// since sinceState (Changes since it); see threadDelta for how a thread is
// classed. maxChanges pages by bisection of the states, as
// Mailbox/changes does.
func (h *handler) threadChanges(ctx context.Context, c *jmap.Call) (any, error) {
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
	// The listing first, the changes after it: the changes then cover
	// everything between the listing and their own state (delta.now).
	ix, err := h.loadIndex(ctx, acct)
	if err != nil {
		return nil, err
	}
	ch, err := h.st.Changes(ctx, acct, since)
	if err != nil {
		return nil, storeErr(err)
	}
	if since > ch.ModSeq {
		return nil, jmap.NewError(jmap.CannotCalculateChanges, "state from the future")
	}
	d := newThreadDelta(ix, ch, since)
	resp := changesResponse{AccountID: a.AccountID, OldState: a.SinceState, NewState: formatState(ch.ModSeq),
		Created: []string{}, Updated: []string{}, Destroyed: []string{}}
	upto, later := ch.ModSeq, (*store.AccountChanges)(nil)
	if limit >= 0 && len(d.changedBy(upto, nil)) > limit {
		if upto, later, err = h.bisectThreads(ctx, acct, d, limit); err != nil {
			return nil, err
		}
		if upto == since {
			return nil, jmap.NewError(jmap.CannotCalculateChanges, "more changes in one step than maxChanges")
		}
		resp.NewState, resp.HasMoreChanges = formatState(upto), true
	}
	created, updated, destroyed := d.classify(upto, later)
	for _, t := range created {
		resp.Created = append(resp.Created, threadID(t))
	}
	for _, t := range updated {
		resp.Updated = append(resp.Updated, threadID(t))
	}
	for _, t := range destroyed {
		resp.Destroyed = append(resp.Destroyed, threadID(t))
	}
	return resp, nil
}

// bisectThreads finds the largest state upto below the newest such that
// at most limit threads changed in (since, upto], and returns it with the
// changes after it; upto is since when even the first step is too many.
func (h *handler) bisectThreads(ctx context.Context, acct int64, d *threadDelta, limit int) (uint64, *store.AccountChanges, error) {
	lo, hi := d.since, d.ch.ModSeq // fits(lo), !fits(hi)
	var loLater *store.AccountChanges
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		later, err := h.st.Changes(ctx, acct, mid)
		if err != nil {
			return 0, nil, storeErr(err)
		}
		if n := len(d.changedBy(mid, &later)); n <= limit {
			lo, loLater = mid, &later
		} else {
			hi = mid
		}
	}
	if loLater == nil || len(d.changedBy(lo, loLater)) == 0 {
		return d.since, nil, nil // a page of nothing makes no progress
	}
	return lo, loLater, nil
}

// threadDelta holds what Thread/changes reads: the messages now (at
// ch.ModSeq) with their threads, and the changes since the client's state.
//
// The store records when a message was created (Created against Updated)
// and destroyed (a tombstone with its modseq and thread), but not which
// threads existed at a past state, so existence at a state s is proven
// from messages (existedAt): a thread existed at s when a message of it
// did, that is a message there now that was not created after s, or a
// message destroyed after s whose id is below that of a message there now
// and created by s (message ids grow with creation, and are never given
// twice). A thread not proven is taken as not existing: reported created
// when it exists at the new state (a client that has it replaces it), and
// destroyed when it does not (RFC 8620 §5.2 allows reporting a record
// created and destroyed in between as destroyed).
type threadDelta struct {
	since uint64
	ch    store.AccountChanges
	// now maps the messages there at ch.ModSeq to their threads: the
	// listing, less the messages destroyed since since, plus those created
	// or changed since it (so whatever happened between the listing and
	// ch is in).
	now map[int64]int64
	// oldestSince is the largest id of a message there now and at since:
	// a message with a smaller id was created by since.
	oldestSince int64
}

func newThreadDelta(ix *index, ch store.AccountChanges, since uint64) *threadDelta {
	d := &threadDelta{since: since, ch: ch, now: make(map[int64]int64, len(ix.msgs))}
	for id, c := range ix.msgs {
		d.now[id] = c.ThreadID
	}
	for _, c := range ch.Destroyed {
		delete(d.now, c.ID)
	}
	for _, list := range [][]store.ChangedMessage{ch.Created, ch.Updated} {
		for _, c := range list {
			d.now[c.ID] = c.ThreadID
		}
	}
	createdAfter := createdSet(&ch)
	for id := range d.now {
		if !createdAfter[id] {
			d.oldestSince = max(d.oldestSince, id)
		}
	}
	return d
}

// changedBy returns the threads that changed in (since, upto]: those of
// the messages created or destroyed then. later is the changes after upto
// (nil when upto is ch.ModSeq).
func (d *threadDelta) changedBy(upto uint64, later *store.AccountChanges) map[int64]bool {
	createdLater := createdSet(later)
	out := map[int64]bool{}
	for _, c := range d.ch.Created {
		if !createdLater[c.ID] {
			out[c.ThreadID] = true
		}
	}
	for _, c := range d.ch.Destroyed {
		// A message destroyed after upto may have been created by
		// upto, and its thread changed then, unless it is proven older
		// than since.
		if c.ModSeq <= upto || c.ID > d.oldestSince {
			out[c.ThreadID] = true
		}
	}
	return out
}

func createdSet(ch *store.AccountChanges) map[int64]bool {
	out := map[int64]bool{}
	if ch != nil {
		for _, c := range ch.Created {
			out[c.ID] = true
		}
	}
	return out
}

// existedAt returns the threads proven to exist at state s, among
// threads: createdAfter are the messages created after s that are there
// now, destroyedAfter those destroyed after s.
func (d *threadDelta) existedAt(threads map[int64]bool, createdAfter map[int64]bool, destroyedAfter []store.ChangedMessage) map[int64]bool {
	out := map[int64]bool{}
	var oldest int64 // the largest id of a message there now and at s
	for id, t := range d.now {
		if createdAfter[id] {
			continue
		}
		oldest = max(oldest, id)
		if threads[t] {
			out[t] = true
		}
	}
	for _, c := range destroyedAfter {
		if threads[c.ThreadID] && c.ID <= oldest {
			out[c.ThreadID] = true
		}
	}
	return out
}

// classify sorts the threads changed in (since, upto] into created,
// updated and destroyed, each ascending.
func (d *threadDelta) classify(upto uint64, later *store.AccountChanges) (created, updated, destroyed []int64) {
	changed := d.changedBy(upto, later)
	before := d.existedAt(changed, createdSet(&d.ch), d.ch.Destroyed)
	var after map[int64]bool
	if later == nil {
		after = d.existedAt(changed, nil, nil)
	} else {
		var destroyedLater []store.ChangedMessage
		for _, c := range d.ch.Destroyed {
			if c.ModSeq > upto {
				destroyedLater = append(destroyedLater, c)
			}
		}
		after = d.existedAt(changed, createdSet(later), destroyedLater)
	}
	for t := range changed {
		switch {
		case before[t] && after[t]:
			updated = append(updated, t)
		case after[t]:
			created = append(created, t)
		default:
			destroyed = append(destroyed, t)
		}
	}
	for _, l := range [][]int64{created, updated, destroyed} {
		slices.Sort(l)
	}
	return created, updated, destroyed
}
