package imapd

import (
	"sort"
	"strings"

	"postern/internal/store"
)

// listEntry is one mailbox LIST may report; implied parents of existing
// mailboxes are listed as non-existent (RFC 9051 §6.3.9.1).
type listEntry struct {
	mb          store.Mailbox
	exists      bool
	hasChildren bool
	subscribed  bool
}

// cmdList implements LIST (with the RFC 5258 options IMAP4rev2 includes)
// and LSUB (RFC 3501 §6.3.9).
func (s *session) cmdList(c *command) reply {
	la := c.list
	o, r := listOptionsOf(c)
	if r.status != "" {
		return r
	}
	if c.name == "LIST" && len(la.patterns) == 1 && la.patterns[0] == "" && !o.extended {
		// RFC 9051 §6.3.9: an empty pattern asks for the delimiter.
		s.w.line(`* LIST (\Noselect) "/" ""`)
		return ok("", "LIST completed")
	}
	mbs, err := s.srv.cfg.Store.Mailboxes(s.ctx, s.acct.ID)
	if err != nil {
		return s.mapStoreErr(err, c.name)
	}
	shared, unreadable, err := s.sharedListEntries()
	if err != nil {
		return s.mapStoreErr(err, c.name)
	}
	mbs = append(mbs, shared...)
	var kept []string
	if o.subOnly || o.retSub || c.name == "LSUB" {
		if kept, err = s.srv.cfg.Store.KeptSubscriptions(s.ctx, s.acct.ID); err != nil {
			return s.mapStoreErr(err, c.name)
		}
	}
	entries := buildEntries(mbs, kept)
	subs := mbs
	for _, name := range kept {
		subs = append(subs[:len(subs):len(subs)], store.Mailbox{Name: name, Subscribed: true})
	}
	subParents := subscribedAncestors(subs, la)
	var lsubParents map[string]bool
	if c.name == "LSUB" {
		lsubParents = lsubNoselect(subs, la)
	}
	for _, e := range entries {
		if !matchAny(la.ref, la.patterns, e.mb.Name) {
			continue
		}
		childInfo := false
		switch {
		case o.selects(e):
		case lsubParents[e.mb.Name]:
			// RFC 3501 §6.3.9: "%" hid a subscribed child of this
			// unsubscribed mailbox; LSUB shows it as \Noselect.
			e.exists = false
		case o.recursive && subParents[e.mb.Name]:
			// RFC 5258 §3.5: with RECURSIVEMATCH a parent that fails the
			// criteria is listed when a descendant meets them.
			childInfo = true
		default:
			continue
		}
		s.writeListEntry(c.name, e, o, childInfo)
		if len(la.retStatus) > 0 && e.exists && !unreadable[e.mb.ID] {
			if r := s.writeStatus(e.mb, la.retStatus); r.status != "" {
				return r
			}
		}
	}
	return ok("", c.name+" completed")
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// buildEntries lists the mailboxes, their implied parents, and the kept
// subscriptions of deleted mailboxes (non-existent, subscribed).
func buildEntries(mbs []store.Mailbox, kept []string) []listEntry {
	byName := make(map[string]*listEntry, len(mbs)+len(kept))
	for _, mb := range mbs {
		byName[mb.Name] = &listEntry{mb: mb, exists: true, subscribed: mb.Subscribed}
	}
	for _, name := range kept {
		if byName[name] == nil {
			byName[name] = &listEntry{mb: store.Mailbox{Name: name}, subscribed: true}
		}
	}
	for _, mb := range mbs {
		name := mb.Name
		for i := strings.LastIndexByte(name, '/'); i > 0; i = strings.LastIndexByte(name, '/') {
			name = name[:i]
			p := byName[name]
			if p == nil {
				p = &listEntry{mb: store.Mailbox{Name: name}}
				byName[name] = p
			}
			p.hasChildren = true
		}
	}
	out := make([]listEntry, 0, len(byName))
	for _, e := range byName {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		// INBOX first, as clients expect.
		if (out[i].mb.Name == "INBOX") != (out[j].mb.Name == "INBOX") {
			return out[i].mb.Name == "INBOX"
		}
		return out[i].mb.Name < out[j].mb.Name
	})
	return out
}

func (s *session) writeListEntry(kind string, e listEntry, o listOptions, childInfo bool) {
	var attrs []string
	if !e.exists {
		if s.rev2 || o.extended {
			attrs = append(attrs, `\NonExistent`) // RFC 5258 §3.4, implies \Noselect
		} else {
			attrs = append(attrs, `\Noselect`)
		}
	}
	if e.hasChildren {
		attrs = append(attrs, `\HasChildren`)
	} else {
		attrs = append(attrs, `\HasNoChildren`)
	}
	if o.retSub && e.subscribed {
		attrs = append(attrs, `\Subscribed`)
	}
	if e.mb.SpecialUse != "" {
		attrs = append(attrs, e.mb.SpecialUse) // RFC 6154 §2
	}
	s.w.str("* ")
	s.w.str(kind)
	s.w.byte(' ')
	s.w.flagList(attrs)
	s.w.str(` "/" `)
	s.writeMailbox(e.mb.Name)
	if childInfo {
		s.w.str(` ("CHILDINFO" ("SUBSCRIBED"))`) // RFC 5258 §3.5
	}
	s.w.crlf()
}

func matchAny(ref string, patterns []string, name string) bool {
	for _, p := range patterns {
		full := p
		if ref != "" && !strings.HasPrefix(p, "/") {
			full = ref + p
		}
		if matchPattern(canonMailbox(full), name) {
			return true
		}
	}
	return false
}

// matchPattern matches a LIST pattern: "*" matches anything, "%" anything
// but the delimiter (RFC 9051 §6.3.9). Dynamic programming keeps it
// linear in len(pattern)×len(name) whatever the wildcards.
func matchPattern(pattern, name string) bool {
	if len(pattern) > maxMailboxName*2 {
		return false
	}
	prev := make([]bool, len(name)+1)
	cur := make([]bool, len(name)+1)
	prev[0] = true
	for i := 0; i < len(pattern); i++ {
		pc := pattern[i]
		cur[0] = prev[0] && (pc == '*' || pc == '%')
		for j := 1; j <= len(name); j++ {
			switch pc {
			case '*':
				cur[j] = prev[j] || cur[j-1]
			case '%':
				cur[j] = prev[j] || (cur[j-1] && name[j-1] != '/')
			default:
				cur[j] = prev[j-1] && pc == name[j-1]
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(name)]
}
