package imapd

import (
	"slices"

	"postern/internal/query"
	"postern/internal/store"
)

// CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4): SEARCH or SORT RETURN
// (UPDATE) keeps the search alive; whenever the mailbox changes, the
// session tells what entered the result (ADDTO) and what left it
// (REMOVEFROM), until CANCELUPDATE or the mailbox is closed. For SEARCH
// the positions are 0: its result has no order beyond the UIDs'. For SORT
// each message comes with its position in the sorted result, from 1:
// where it was before it left, where it is once added (removals are told
// first, additions in sort order, so a client applying them one by one
// keeps the server's order).

// maxSearchContexts bounds the live searches of one session: each costs a
// search at every change.
const maxSearchContexts = 5

// searchContext is one live SEARCH.
type searchContext struct {
	tag    string
	uid    bool
	search *searchKey
	// sortKeys are the keys of a SORT context; nil for a SEARCH one.
	sortKeys []query.SortKey
	result   []uint32 // UIDs, ascending for SEARCH, in sort order for SORT
	// seen is the state the result was last computed for (zero before
	// the first refresh, which runs the search again): unchanged, the
	// search need not run.
	seen contextKey
}

// contextKey is what a live search's result depends on besides the
// search itself: the mailbox's modseq (every flag change, arrival and
// expunge bumps it), the view's size and pending expunges (message
// numbers, RECENT), and the saved result "$".
type contextKey struct {
	modseq           uint64
	uids, pending    int
	saved            int
	savedLo, savedHi uint32
}

// contextKeyNow reads the key of the selected mailbox; ok false means it
// could not, and every search runs again.
func (s *session) contextKeyNow(sel *selected) (contextKey, bool) {
	modseq, err := s.srv.cfg.Store.HighestModSeq(s.ctx, sel.mbox.ID)
	if err != nil {
		return contextKey{}, false
	}
	k := contextKey{modseq: modseq, uids: len(sel.uids), pending: len(sel.expunged), saved: len(sel.saved)}
	if len(sel.saved) > 0 {
		k.savedLo, k.savedHi = sel.saved[0], sel.saved[len(sel.saved)-1]
	}
	return k, true
}

// startContext keeps the search of c alive, with its result so far. Past
// the limit the search is answered without updates, told by an untagged
// NO [NOUPDATE] (RFC 5267 §4.3.1); a tag already live is BAD (§4.3).
func (s *session) startContext(c *command, uids []uint32) reply {
	sel := s.sel
	for _, ctx := range sel.contexts {
		if ctx.tag == c.tag {
			return bad("", "a search with UPDATE is live under this tag")
		}
	}
	if len(sel.contexts) >= maxSearchContexts {
		s.w.line(`* NO [NOUPDATE "`, c.tag, `"] too many searches with UPDATE in this session`)
		return reply{}
	}
	ctx := &searchContext{tag: c.tag, uid: c.uid, search: c.search, result: slices.Clone(uids)}
	if c.name == "SORT" {
		ctx.sortKeys = slices.Clone(c.sortKeys)
		if len(ctx.sortKeys) == 0 {
			ctx.sortKeys = []query.SortKey{{Field: query.SortArrival}}
		}
	}
	sel.contexts = append(sel.contexts, ctx)
	return reply{}
}

// cmdCancelUpdate implements CANCELUPDATE (RFC 5267 §4.2).
func (s *session) cmdCancelUpdate(c *command) reply {
	sel := s.sel
	for _, tag := range c.strs {
		i := slices.IndexFunc(sel.contexts, func(ctx *searchContext) bool { return ctx.tag == tag })
		if i < 0 {
			return bad("", "no search with UPDATE under tag "+tag)
		}
		sel.contexts = slices.Delete(sel.contexts, i, i+1)
	}
	return ok("", "CANCELUPDATE completed")
}

// contextsBeforeExpunge tells each live search the messages about to be
// expunged that were in its result, while their numbers still hold.
func (s *session) contextsBeforeExpunge(sel *selected) {
	for _, ctx := range sel.contexts {
		var gone []uint32
		var at []uint32
		kept := ctx.result[:0]
		for _, u := range ctx.result {
			if _, expunged := sel.expunged[u]; expunged {
				gone = append(gone, u)
				at = append(at, uint32(len(kept)+1))
				continue
			}
			kept = append(kept, u)
		}
		ctx.result = kept
		if ctx.sortKeys == nil {
			at = nil
		}
		s.writeContextUpdate(ctx, "REMOVEFROM", gone, at)
	}
}

// refreshContexts runs each live search again over the view and tells
// what entered and what left its result.
func (s *session) refreshContexts(sel *selected) {
	// Read before the searches run: a change committed meanwhile makes
	// the next refresh run them again.
	key, keyOK := s.contextKeyNow(sel)
	for _, ctx := range sel.contexts {
		if keyOK && ctx.seen == key {
			continue
		}
		now, err := s.contextResult(sel, ctx)
		if err != nil {
			s.log.Warn("imap search update", "err", err)
			continue
		}
		ctx.seen = key
		if ctx.sortKeys != nil {
			s.updateSortContext(ctx, now)
			continue
		}
		var added, removed []uint32
		for _, u := range now {
			if _, found := slices.BinarySearch(ctx.result, u); !found {
				added = append(added, u)
			}
		}
		for _, u := range ctx.result {
			if _, found := slices.BinarySearch(now, u); !found {
				removed = append(removed, u)
			}
		}
		ctx.result = now
		s.writeContextUpdate(ctx, "REMOVEFROM", removed, nil)
		s.writeContextUpdate(ctx, "ADDTO", added, nil)
	}
}

// contextResult is the live search's result now: UIDs ascending, or in
// sort order; messages with an expunge not yet told are left out.
func (s *session) contextResult(sel *selected, ctx *searchContext) ([]uint32, error) {
	s.resolveObjectIDs(ctx.search)
	q := query.Query{MailboxID: sel.mbox.ID, UIDs: sel.uids, Criteria: sel.criterion(ctx.search)}
	var msgs []store.Message
	var err error
	if ctx.sortKeys != nil {
		msgs, err = query.Sort(s.ctx, s.srv.cfg.Store, q, ctx.sortKeys)
	} else {
		msgs, err = query.Search(s.ctx, s.srv.cfg.Store, q, query.LoadUID)
	}
	if err != nil {
		return nil, err
	}
	now := make([]uint32, 0, len(msgs))
	for _, m := range msgs {
		if _, pending := sel.expunged[m.UID]; !pending {
			now = append(now, m.UID)
		}
	}
	return now, nil
}

// updateSortContext tells a SORT context's changes with positions (RFC
// 5267 §4.3): each removed message at its place in the result as it
// stands, then each added one at its place in the new result. Sort keys
// never change for a message, so the messages that stay keep their order.
func (s *session) updateSortContext(ctx *searchContext, now []uint32) {
	inNow := make(map[uint32]struct{}, len(now))
	for _, u := range now {
		inNow[u] = struct{}{}
	}
	inOld := make(map[uint32]struct{}, len(ctx.result))
	var removed, removedAt []uint32
	kept := 0
	for _, u := range ctx.result {
		inOld[u] = struct{}{}
		if _, stays := inNow[u]; stays {
			kept++
			continue
		}
		removed = append(removed, u)
		removedAt = append(removedAt, uint32(kept+1))
	}
	var added, addedAt []uint32
	for i, u := range now {
		if _, was := inOld[u]; !was {
			added = append(added, u)
			addedAt = append(addedAt, uint32(i+1))
		}
	}
	ctx.result = now
	s.writeContextUpdate(ctx, "REMOVEFROM", removed, removedAt)
	s.writeContextUpdate(ctx, "ADDTO", added, addedAt)
}

// writeContextUpdate writes one ADDTO or REMOVEFROM of a live search, in
// UIDs or message numbers as the search was asked: one set at position 0
// (SEARCH), or each message with its position (SORT, at not nil).
func (s *session) writeContextUpdate(ctx *searchContext, kind string, uids, at []uint32) {
	if len(uids) == 0 {
		return
	}
	num := func(u uint32) uint32 {
		if ctx.uid {
			return u
		}
		return s.sel.seqOf(u)
	}
	s.w.str(`* ESEARCH (TAG "` + ctx.tag + `")`)
	if ctx.uid {
		s.w.str(" UID")
	}
	s.w.str(" " + kind + " (")
	if at == nil {
		nums := make([]uint32, 0, len(uids))
		for _, u := range uids {
			if n := num(u); n > 0 {
				nums = append(nums, n)
			}
		}
		s.w.line("0 ", formatSet(nums), ")")
		return
	}
	for i, u := range uids {
		if i > 0 {
			s.w.byte(' ')
		}
		s.w.str(itoa(int64(at[i])) + " " + itoa(int64(num(u))))
	}
	s.w.line(")")
}
