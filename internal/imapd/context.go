package imapd

import (
	"slices"

	"postern/internal/query"
)

// CONTEXT=SEARCH (RFC 5267 §4): SEARCH RETURN (UPDATE) keeps the search
// alive; whenever the mailbox changes, the session tells what entered the
// result (ADDTO) and what left it (REMOVEFROM), until CANCELUPDATE or the
// mailbox is closed. Positions are 0: the result of SEARCH has no order
// beyond the UIDs'.

// maxSearchContexts bounds the live searches of one session: each costs a
// search at every change.
const maxSearchContexts = 5

// searchContext is one live SEARCH.
type searchContext struct {
	tag    string
	uid    bool
	search *searchKey
	result []uint32 // UIDs, ascending
}

// startContext keeps the search of c alive, with its result so far.
func (s *session) startContext(c *command, uids []uint32) reply {
	sel := s.sel
	if len(sel.contexts) >= maxSearchContexts {
		return no("LIMIT", "too many searches with UPDATE in this session")
	}
	for _, ctx := range sel.contexts {
		if ctx.tag == c.tag {
			return bad("", "a search with UPDATE is live under this tag")
		}
	}
	sel.contexts = append(sel.contexts, &searchContext{tag: c.tag, uid: c.uid, search: c.search, result: slices.Clone(uids)})
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
		ctx.result = slices.DeleteFunc(ctx.result, func(u uint32) bool {
			_, expunged := sel.expunged[u]
			if expunged {
				gone = append(gone, u)
			}
			return expunged
		})
		s.writeContextUpdate(ctx, "REMOVEFROM", gone)
	}
}

// refreshContexts runs each live search again over the view and tells
// what entered and what left its result.
func (s *session) refreshContexts(sel *selected) {
	for _, ctx := range sel.contexts {
		s.resolveObjectIDs(ctx.search)
		msgs, err := query.Search(s.ctx, s.srv.cfg.Store, query.Query{MailboxID: sel.mbox.ID, UIDs: sel.uids, Criteria: sel.criterion(ctx.search)}, query.LoadUID)
		if err != nil {
			s.log.Warn("imap search update", "err", err)
			continue
		}
		now := make([]uint32, 0, len(msgs))
		for _, m := range msgs {
			if _, pending := sel.expunged[m.UID]; !pending {
				now = append(now, m.UID)
			}
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
		s.writeContextUpdate(ctx, "REMOVEFROM", removed)
		s.writeContextUpdate(ctx, "ADDTO", added)
	}
}

// writeContextUpdate writes one ADDTO or REMOVEFROM of a live search, in
// UIDs or message numbers as the search was asked.
func (s *session) writeContextUpdate(ctx *searchContext, kind string, uids []uint32) {
	if len(uids) == 0 {
		return
	}
	nums := uids
	if !ctx.uid {
		nums = make([]uint32, 0, len(uids))
		for _, u := range uids {
			if seq := s.sel.seqOf(u); seq > 0 {
				nums = append(nums, seq)
			}
		}
	}
	s.w.str(`* ESEARCH (TAG "` + ctx.tag + `")`)
	if ctx.uid {
		s.w.str(" UID")
	}
	s.w.line(" ", kind, " (0 ", formatSet(nums), ")")
}
