package imapd

import (
	"slices"
	"strings"

	"postern/internal/query"
	"postern/internal/store"
)

// MULTISEARCH (RFC 7377): ESEARCH [IN (sources)] [RETURN (...)] program
// searches several mailboxes at once, answering one ESEARCH per mailbox
// with matches, named by MAILBOX and UIDVALIDITY, in UIDs.

// searchSource is one filter-mailboxes item of ESEARCH IN (RFC 7377 §2).
type searchSource struct {
	kind  string   // selected, selected-delayed, inboxes, personal, subscribed, subtree, subtree-one, mailboxes
	names []string // for subtree, subtree-one, mailboxes
}

// maxSearchSources bounds the sources and mailbox names of one ESEARCH.
const maxSearchSources = 100

// parseESearch reads ESEARCH's arguments (RFC 7377 §2).
func parseESearch(p *parser, c *command) {
	p.sp()
	if strings.ToUpper(string(p.peekAtom())) == "IN" {
		p.atom()
		p.sp()
		p.expect('(')
		for {
			src := searchSource{kind: strings.ToLower(p.atom())}
			switch src.kind {
			case "selected", "selected-delayed", "inboxes", "personal", "subscribed":
			case "subtree", "subtree-one", "mailboxes":
				p.sp()
				if p.peek() == '(' {
					p.list(false, func() { src.names = append(src.names, p.mailbox()) })
				} else {
					src.names = []string{p.mailbox()}
				}
			default:
				p.fail("unknown search source %s", src.kind)
			}
			c.sources = append(c.sources, src)
			if len(c.sources)+len(src.names) > maxSearchSources {
				p.fail("too many search sources")
			}
			if p.peek() == ')' {
				p.next()
				break
			}
			p.sp()
		}
		p.sp()
	}
	parseSearchReturn(p, c)
	count := 0
	root := &searchKey{op: "AND"}
	for {
		root.kids = append(root.kids, parseSearchKey(p, 0, &count))
		if p.atEOL() {
			break
		}
		p.sp()
	}
	c.search = root
}

// cmdESearch implements ESEARCH. Without IN it searches the selected
// mailbox. Message numbers, $ and \Recent belong to the selected
// mailbox's view: they are refused when other mailboxes are searched.
func (s *session) cmdESearch(c *command) reply {
	if len(c.sources) == 0 {
		c.sources = []searchSource{{kind: "selected"}}
	}
	mbs, r := s.searchMailboxes(c.sources)
	if r.status != "" {
		return r
	}
	onlySelected := len(mbs) == 1 && s.sel != nil && mbs[0].ID == s.sel.mbox.ID
	if !onlySelected && usesSessionView(c.search) {
		return bad("", "message numbers, $ and RECENT need the selected mailbox alone")
	}
	if has(c.searchRet, "SAVE") && !onlySelected {
		return bad("", "SAVE needs the selected mailbox alone")
	}
	c.uid = true
	s.resolveObjectIDs(c.search)
	st := s.srv.cfg.Store
	for _, mb := range mbs {
		sel := s.sel
		if sel == nil || sel.mbox.ID != mb.ID {
			uids, err := st.MessageUIDs(s.ctx, mb.ID)
			if err != nil {
				return s.mapStoreErr(err, "ESEARCH")
			}
			sel = &selected{mbox: mb, uids: uids}
		}
		msgs, err := query.Search(s.ctx, st, query.Query{MailboxID: mb.ID, UIDs: sel.uids, Criteria: sel.criterion(c.search)}, query.LoadUID)
		if err != nil {
			return s.mapStoreErr(err, "ESEARCH")
		}
		if len(msgs) == 0 {
			continue // only mailboxes with matches answer (RFC 7377 §2)
		}
		seqs, uids := sel.numbered(msgs)
		s.writeESearchFor(c, seqs, uids, false, &mb)
	}
	return ok("", "ESEARCH completed")
}

// searchMailboxes resolves the sources to mailboxes, each once, in name
// order with INBOX first.
func (s *session) searchMailboxes(sources []searchSource) ([]store.Mailbox, reply) {
	all, err := s.srv.cfg.Store.Mailboxes(s.ctx, s.acct.ID)
	if err != nil {
		return nil, s.mapStoreErr(err, "ESEARCH")
	}
	want := map[int64]bool{}
	for _, src := range sources {
		switch src.kind {
		case "selected", "selected-delayed":
			if s.sel == nil {
				return nil, bad("", "no mailbox selected")
			}
			want[s.sel.mbox.ID] = true
		}
		for _, mb := range all {
			if src.matches(mb) {
				want[mb.ID] = true
			}
		}
	}
	var out []store.Mailbox
	for _, mb := range all {
		if want[mb.ID] {
			out = append(out, mb)
		}
	}
	slices.SortStableFunc(out, func(a, b store.Mailbox) int {
		switch {
		case a.Name == "INBOX":
			return -1
		case b.Name == "INBOX":
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, reply{}
}

// matches tells whether mb is one of the source's mailboxes (the
// selected one is added by the caller).
func (src searchSource) matches(mb store.Mailbox) bool {
	switch src.kind {
	case "inboxes":
		return mb.Name == "INBOX"
	case "personal":
		return true
	case "subscribed":
		return mb.Subscribed
	}
	for _, n := range src.names {
		n = canonMailbox(n)
		switch {
		case mb.Name == n:
			return true
		case src.kind == "subtree" && strings.HasPrefix(mb.Name, n+"/"):
			return true
		case src.kind == "subtree-one" && strings.HasPrefix(mb.Name, n+"/") && !strings.Contains(mb.Name[len(n)+1:], "/"):
			return true
		}
	}
	return false
}

// usesSessionView tells whether a search program uses message numbers, the
// saved result or \Recent, which only the selected mailbox's view gives.
func usesSessionView(k *searchKey) bool {
	switch k.op {
	case "SEQ", "RECENT", "NEW", "OLD":
		return true
	case "UID":
		if k.seq.saved {
			return true
		}
	}
	return slices.ContainsFunc(k.kids, usesSessionView)
}
