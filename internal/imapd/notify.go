package imapd

import (
	"slices"
	"strings"

	"postern/internal/store"
)

// NOTIFY (RFC 5465): the client names the mailboxes it wants to hear
// about and the events; the session then reports other mailboxes'
// changes as STATUS (messages, flags) and LIST (names, subscriptions),
// at the next command boundary or at once while idling. The selected
// mailbox is reported as without NOTIFY.

// notifyRule is one filter-mailboxes with its events.
type notifyRule struct {
	source searchSource
	events map[string]bool // event names, lower case
}

// notifyEvents are the events RFC 5465 §5 defines, lower case.
var notifyEvents = []string{"messagenew", "messageexpunge", "flagchange", "annotationchange",
	"mailboxname", "subscriptionchange", "mailboxmetadatachange", "servermetadatachange"}

// parseNotify reads NOTIFY NONE or NOTIFY SET [STATUS] (filter events)...
func parseNotify(p *parser, c *command) {
	p.sp()
	switch strings.ToUpper(p.atom()) {
	case "NONE":
		c.notifySet = false
		return
	case "SET":
	default:
		p.fail("expected NONE or SET")
	}
	c.notifySet = true
	p.sp()
	if strings.ToUpper(string(p.peekAtom())) == "STATUS" {
		p.atom()
		p.sp()
		c.notifyStatus = true
	}
	for {
		p.expect('(')
		var rule notifyRule
		rule.source.kind = strings.ToLower(p.atom())
		switch rule.source.kind {
		case "selected", "selected-delayed", "inboxes", "personal", "subscribed":
		case "subtree", "mailboxes":
			p.sp()
			if p.peek() == '(' {
				p.list(false, func() { rule.source.names = append(rule.source.names, p.mailbox()) })
			} else {
				rule.source.names = []string{p.mailbox()}
			}
		default:
			p.fail("unknown NOTIFY filter %s", rule.source.kind)
		}
		p.sp()
		rule.events = map[string]bool{}
		if p.peek() == '(' {
			p.list(false, func() {
				ev := strings.ToLower(p.atom())
				if !slices.Contains(notifyEvents, ev) {
					p.fail("unknown NOTIFY event %s", ev)
				}
				rule.events[ev] = true
				if ev == "messagenew" && p.peek() == ' ' && p.peekAt(1) == '(' {
					p.sp()
					parseFetchItems(p) // the FETCH items for new mail: unused, FETCH tells
				}
			})
		} else if strings.ToUpper(p.atom()) != "NONE" {
			p.fail("expected events or NONE")
		}
		p.expect(')')
		c.notify = append(c.notify, rule)
		if len(c.notify) > maxSearchSources {
			p.fail("too many NOTIFY filters")
		}
		if p.atEOL() {
			return
		}
		p.sp()
	}
}

// notifyState is what a session's NOTIFY asked for and what is pending.
type notifyState struct {
	rules   []notifyRule
	names   map[int64]string // mailbox names when NOTIFY was set, for MailboxName
	pending map[int64]bool   // mailboxes with message events not yet told
	listing bool             // a mailbox was created, deleted, renamed or (un)subscribed
}

// cmdNotify implements NOTIFY.
func (s *session) cmdNotify(c *command) reply {
	if !c.notifySet {
		s.notify = nil
		return ok("", "NOTIFY completed")
	}
	mbs, err := s.srv.cfg.Store.Mailboxes(s.ctx, s.acct.ID)
	if err != nil {
		return s.mapStoreErr(err, "NOTIFY")
	}
	n := &notifyState{rules: c.notify, names: map[int64]string{}, pending: map[int64]bool{}}
	for _, mb := range mbs {
		n.names[mb.ID] = mb.Name
	}
	s.notify = n
	if c.notifyStatus {
		for _, mb := range mbs {
			if s.sel != nil && mb.ID == s.sel.mbox.ID {
				continue
			}
			if items := s.notifyItems(mb); len(items) > 0 {
				if r := s.writeStatus(mb, items); r.status != "" {
					return r
				}
			}
		}
	}
	return ok("", "NOTIFY completed")
}

// notifyItems are the STATUS items the rules ask for mb (RFC 5465 §5.1,
// §5.2, §5.4): none when no rule names it with a message event.
func (s *session) notifyItems(mb store.Mailbox) []string {
	var ev map[string]bool
	for _, r := range s.notify.rules {
		if r.source.kind != "selected" && r.source.kind != "selected-delayed" && r.source.matches(mb) {
			ev = r.events
			break
		}
	}
	var items []string
	if ev["messagenew"] || ev["messageexpunge"] {
		items = append(items, "MESSAGES")
	}
	if ev["messagenew"] {
		items = append(items, "UIDNEXT", "UIDVALIDITY")
	}
	if ev["flagchange"] {
		if !slices.Contains(items, "UIDVALIDITY") {
			items = append(items, "UIDVALIDITY")
		}
		items = append(items, "HIGHESTMODSEQ")
	}
	return items
}

// noteNotify records an event about another mailbox for the next
// notification.
func (s *session) noteNotify(ev store.Change) {
	n := s.notify
	if n == nil || (s.sel != nil && ev.MailboxID == s.sel.mbox.ID && ev.Kind != store.ChangeMailboxes) {
		return
	}
	if ev.Kind == store.ChangeMailboxes || ev.Kind == 0 {
		n.listing = true
	}
	if ev.Kind != store.ChangeMailboxes && ev.MailboxID != 0 {
		n.pending[ev.MailboxID] = true
	}
}

// flushNotify tells what NOTIFY asked about since the last time.
func (s *session) flushNotify() {
	n := s.notify
	if n == nil || (len(n.pending) == 0 && !n.listing) {
		return
	}
	mbs, err := s.srv.cfg.Store.Mailboxes(s.ctx, s.acct.ID)
	if err != nil {
		s.log.Warn("imap notify", "err", err)
		return
	}
	for _, mb := range mbs {
		if !n.pending[mb.ID] {
			continue
		}
		if items := s.notifyItems(mb); len(items) > 0 {
			s.writeStatus(mb, items)
		}
	}
	clear(n.pending)
	if n.listing {
		n.listing = false
		s.notifyListChanges(mbs)
	}
}

// notifyListChanges sends LIST for mailboxes created, renamed (with
// OLDNAME, RFC 5465 §5.4) or deleted (\NonExistent) since the last time,
// to rules with MailboxName.
func (s *session) notifyListChanges(mbs []store.Mailbox) {
	n := s.notify
	wants := func(mb store.Mailbox) bool {
		for _, r := range n.rules {
			if r.events["mailboxname"] && (r.source.kind == "personal" || r.source.matches(mb)) {
				return true
			}
		}
		return false
	}
	seen := map[int64]bool{}
	for _, mb := range mbs {
		seen[mb.ID] = true
		old, known := n.names[mb.ID]
		if known && old == mb.Name || !wants(mb) {
			n.names[mb.ID] = mb.Name
			continue
		}
		s.w.str(`* LIST () "/" `)
		s.writeMailbox(mb.Name)
		if known {
			s.w.str(` ("OLDNAME" (`)
			s.writeMailbox(old)
			s.w.str("))")
		}
		s.w.crlf()
		n.names[mb.ID] = mb.Name
	}
	for id, name := range n.names {
		if !seen[id] {
			if wants(store.Mailbox{Name: name}) {
				s.w.str(`* LIST (\NonExistent) "/" `)
				s.writeMailbox(name)
				s.w.crlf()
			}
			delete(n.names, id)
		}
	}
}
