package imapd

import (
	"strings"
	"unicode/utf8"

	"postern/internal/mutf7"
	"postern/internal/store"
)

// listOptions are the LIST-EXTENDED options of one LIST (RFC 5258,
// RFC 6154 §5, RFC 5819), or what LSUB means in their terms.
type listOptions struct {
	extended    bool // selection or return options were given
	subOnly     bool // SUBSCRIBED selection, or LSUB
	specialOnly bool // SPECIAL-USE selection (RFC 6154 §5.2)
	recursive   bool // RECURSIVEMATCH
	retSub      bool // report \Subscribed
}

// listOptionsOf checks the options; a reply with a status is the BAD
// that unknown or inconsistent options get (RFC 5258 §3).
func listOptionsOf(c *command) (listOptions, reply) {
	la := c.list
	o := listOptions{extended: la.extended, subOnly: c.name == "LSUB"}
	for _, opt := range la.selOpts {
		switch opt {
		case "SUBSCRIBED":
			o.subOnly = true
		case "SPECIAL-USE":
			o.specialOnly = true
		case "RECURSIVEMATCH":
			o.recursive = true
		case "REMOTE": // no remote mailboxes here (RFC 2193)
		default:
			return o, bad("", "unknown LIST selection option "+opt)
		}
	}
	// RFC 5258 §3: RECURSIVEMATCH needs another selection option that
	// RECURSIVEMATCH applies to.
	if o.recursive && !o.subOnly {
		return o, bad("", "RECURSIVEMATCH needs SUBSCRIBED")
	}
	for _, opt := range la.retOpts {
		switch opt {
		case "SUBSCRIBED":
			o.retSub = true
		case "CHILDREN", "SPECIAL-USE", "STATUS":
			// Children and special-use attributes are always sent
			// (RFC 5258 §4, RFC 6154 §5.1 allow it); STATUS is retStatus.
		default:
			return o, bad("", "unknown LIST return option "+opt)
		}
	}
	o.retSub = o.retSub || o.subOnly
	return o, reply{}
}

// selects tells whether e meets the selection criteria.
func (o listOptions) selects(e listEntry) bool {
	return (!o.subOnly || e.subscribed) && (!o.specialOnly || e.mb.SpecialUse != "")
}

// subscribedAncestors are the names of mailboxes (existing or not) with a
// subscribed descendant that the patterns do not match themselves, for
// RECURSIVEMATCH: a descendant that is listed anyway needs no CHILDINFO
// on its parent (RFC 5258 §3.5, as Dovecot and imaptest read it).
func subscribedAncestors(mbs []store.Mailbox, la listArgs) map[string]bool {
	out := map[string]bool{}
	for _, mb := range mbs {
		if !mb.Subscribed || matchAny(la.ref, la.patterns, mb.Name) {
			continue
		}
		name := mb.Name
		for i := strings.LastIndexByte(name, '/'); i > 0; i = strings.LastIndexByte(name, '/') {
			name = name[:i]
			out[name] = true
		}
	}
	return out
}

// lsubNoselect are the unsubscribed mailboxes that LSUB lists because the
// pattern matches them but not their subscribed descendant (a "%" stops
// at the delimiter).
func lsubNoselect(mbs []store.Mailbox, la listArgs) map[string]bool {
	out := map[string]bool{}
	for _, mb := range mbs {
		if !mb.Subscribed || matchAny(la.ref, la.patterns, mb.Name) {
			continue
		}
		name := mb.Name
		for i := strings.LastIndexByte(name, '/'); i > 0; i = strings.LastIndexByte(name, '/') {
			name = name[:i]
			if matchAny(la.ref, la.patterns, name) {
				out[name] = true
			}
		}
	}
	for _, mb := range mbs {
		if mb.Subscribed {
			delete(out, mb.Name)
		}
	}
	return out
}

// writeMailbox writes a mailbox name as this session reads them: modified
// UTF-7 for IMAP4rev1 (RFC 3501 §5.1.3); UTF-8 once IMAP4rev2 (RFC 9051
// §5.1) or UTF8=ACCEPT (RFC 6855 §3) is enabled, as a quoted string,
// which then may hold UTF-8 (RFC 9051 §9 QUOTED-CHAR).
func (s *session) writeMailbox(name string) {
	if !s.rev2 && !s.utf8 {
		s.w.astring(mutf7.Encode(name))
		return
	}
	if len(name) > 1024 || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		s.w.astring(name) // a literal
		return
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			s.w.byte('"')
			for _, c := range []byte(name) {
				if c == '"' || c == '\\' {
					s.w.byte('\\')
				}
				s.w.byte(c)
			}
			s.w.byte('"')
			return
		}
	}
	s.w.astring(name)
}

// parseCreateParams reads CREATE's parameter list; only USE is known
// (RFC 6154 §3: create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")").
func parseCreateParams(p *parser, c *command) {
	p.sp()
	p.list(false, func() {
		if strings.ToUpper(p.atom()) != "USE" {
			p.fail("unknown CREATE parameter")
		}
		p.sp()
		p.list(true, func() { c.use = append(c.use, p.flag()) })
	})
}

// createSpecialUse picks the special use CREATE asked for: one of the
// uses the store keeps, else NO [USEATTR] (RFC 6154 §3).
func createSpecialUse(attrs []string) (string, reply) {
	if len(attrs) == 0 {
		return "", reply{}
	}
	if len(attrs) > 1 {
		return "", no("USEATTR", "one special use per mailbox")
	}
	for _, d := range store.DefaultMailboxes {
		if d.SpecialUse != "" && strings.EqualFold(d.SpecialUse, attrs[0]) {
			return d.SpecialUse, reply{}
		}
	}
	return "", no("USEATTR", "unsupported special use "+attrs[0])
}

// writeSelectList writes the LIST response IMAP4rev2 requires in SELECT
// and EXAMINE, with accurate attributes (RFC 9051 §6.3.2).
func (s *session) writeSelectList(mb store.Mailbox) {
	e := listEntry{mb: mb, exists: true}
	if mbs, err := s.srv.cfg.Store.Mailboxes(s.ctx, s.acct.ID); err == nil {
		for _, m := range mbs {
			if strings.HasPrefix(m.Name, mb.Name+"/") {
				e.hasChildren = true
				break
			}
		}
	}
	s.writeListEntry("LIST", e, listOptions{}, false)
}
