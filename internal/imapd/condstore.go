package imapd

import (
	"slices"
	"strings"

	"postern/internal/store"
)

// condState is what RFC 7162 changes for the rest of a connection.
type condState struct {
	// on: CONDSTORE is enabled (§3.1): every untagged FETCH a change causes
	// carries UID and MODSEQ.
	on bool
	// qresync: QRESYNC is enabled (§3.2.3): expunges are reported as
	// VANISHED, and SELECT may carry the QRESYNC parameter.
	qresync bool
}

// condArgs are the RFC 7162 parameters and modifiers of one command.
type condArgs struct {
	selCondstore bool           // SELECT/EXAMINE (CONDSTORE)
	qr           *qresyncParams // SELECT/EXAMINE (QRESYNC (...))

	changedSince    uint64 // FETCH (CHANGEDSINCE n)
	hasChangedSince bool
	vanished        bool // FETCH (... VANISHED)

	unchangedSince uint64 // STORE (UNCHANGEDSINCE n)
	hasUnchanged   bool

	searchModSeq bool              // the SEARCH program has a MODSEQ key
	searchTop    uint64            // highest modseq among the SEARCH results
	searchMods   map[uint32]uint64 // modseq of each result, by UID
}

// qresyncParams is the QRESYNC select parameter (RFC 7162 §3.2.5).
type qresyncParams struct {
	uidValidity uint32
	modseq      uint64
	known       *seqSet // known-uids; nil means every UID
	// seq-match-data is parsed and ignored: the store keeps the whole
	// expunge history, so VANISHED (EARLIER) is always exact (§3.2.5.2
	// lets such a server skip it).
}

// enable turns CONDSTORE on, as every CONDSTORE-enabling command does
// (RFC 7162 §3.1), and reports whether it was off.
func (c *condState) enable() bool {
	if c.on {
		return false
	}
	c.on = true
	return true
}

// enableCondstore is enable for a command that runs with a mailbox
// selected, at a line boundary: the client learns the mailbox's
// HIGHESTMODSEQ along with it (RFC 7162 §3.1.2.1).
func (s *session) enableCondstore() bool {
	if !s.cond.enable() {
		return false
	}
	s.announceHighestModSeq()
	return true
}

// enableCap handles CONDSTORE and QRESYNC for ENABLE (RFC 5161, RFC 7162
// §3.2.3: QRESYNC implies CONDSTORE) and returns the name to list in
// ENABLED, or "" when there is nothing new to report.
func (s *session) enableCap(name string) string {
	switch name {
	case "CONDSTORE":
		if s.enableCondstore() {
			return "CONDSTORE"
		}
	case "UIDONLY":
		if !s.uidOnly {
			s.uidOnly = true
			return "UIDONLY"
		}
	case "QRESYNC":
		if !s.cond.qresync {
			s.cond.qresync = true
			s.enableCondstore()
			return "QRESYNC"
		}
	}
	return ""
}

// announceHighestModSeq tells a client that enabled CONDSTORE with a
// mailbox already selected where its modseqs stand (RFC 7162 §3.1.2.1).
func (s *session) announceHighestModSeq() {
	if s.sel != nil {
		s.w.line("* OK [HIGHESTMODSEQ ", itoa(int64(s.sel.modseq)), "] Highest")
	}
}

// parseSelectParams reads select-params (RFC 4466 §2.1) after the mailbox
// name: (CONDSTORE) or (QRESYNC (uidvalidity modseq [known-uids
// [seq-match-data]])).
func parseSelectParams(p *parser, c *command) {
	p.sp()
	p.list(false, func() {
		name := strings.ToUpper(p.atom())
		switch name {
		case "CONDSTORE":
			c.cond.selCondstore = true
		case "QRESYNC":
			if c.cond.qr != nil {
				p.fail("QRESYNC given twice")
			}
			p.sp()
			c.cond.qr = parseQresync(p)
		default:
			p.fail("unknown select parameter %s", name)
		}
	})
}

// RFC 7162 formal syntax: "(" uidvalidity SP mod-sequence-value [SP known-uids]
// [SP seq-match-data] ")"; seq-match-data = "(" known-sequence-set SP
// known-uid-set ")".
func parseQresync(p *parser) *qresyncParams {
	q := &qresyncParams{}
	p.expect('(')
	q.uidValidity = p.number()
	p.sp()
	q.modseq = p.number64()
	if q.uidValidity == 0 || q.modseq == 0 {
		p.fail("QRESYNC needs a non-zero uidvalidity and modseq")
	}
	if p.peek() == ' ' {
		p.next()
		if p.peek() != '(' {
			set := p.seqSet()
			if set.saved {
				p.fail("$ is not a UID set")
			}
			q.known = &set
			if p.peek() == ' ' {
				p.next()
			}
		}
		if p.peek() == '(' {
			p.next()
			if s := p.seqSet(); s.saved {
				p.fail("$ is not a sequence set")
			}
			p.sp()
			if s := p.seqSet(); s.saved {
				p.fail("$ is not a UID set")
			}
			p.expect(')')
		}
	}
	p.expect(')')
	return q
}

// parseFetchModifiers reads fetch-modifiers (RFC 4466 §2.4, RFC 7162
// §3.1.4, §3.2.6): (CHANGEDSINCE n [VANISHED]).
func parseFetchModifiers(p *parser, c *command) {
	p.sp()
	p.list(false, func() {
		name := strings.ToUpper(p.atom())
		switch name {
		case "CHANGEDSINCE":
			p.sp()
			c.cond.changedSince = p.number64()
			c.cond.hasChangedSince = true
		case "VANISHED":
			c.cond.vanished = true
		default:
			p.fail("unknown fetch modifier %s", name)
		}
	})
	if c.cond.vanished && !c.cond.hasChangedSince {
		p.fail("VANISHED needs CHANGEDSINCE") // RFC 7162 §3.2.6
	}
}

// parseStoreModifiers reads store-modifiers (RFC 4466 §2.5, RFC 7162
// §3.1.3): (UNCHANGEDSINCE n), and the space after them.
func parseStoreModifiers(p *parser, c *command) {
	p.list(false, func() {
		name := strings.ToUpper(p.atom())
		if name != "UNCHANGEDSINCE" || c.cond.hasUnchanged {
			p.fail("unknown store modifier %s", name)
		}
		p.sp()
		c.cond.unchangedSince = p.number64()
		c.cond.hasUnchanged = true
	})
	p.sp()
}

// parseSearchModSeq reads the rest of the MODSEQ search key (RFC 7162
// §3.1.5): [entry-name SP entry-type-req SP] mod-sequence-valzer. Entries
// are accepted and treated as the message's modseq: this server keeps one
// modseq per message, which the RFC allows.
func parseSearchModSeq(p *parser, k *searchKey) {
	p.sp()
	if p.peek() == '"' {
		name := strings.ToLower(p.quoted())
		if !strings.HasPrefix(name, "/flags/") {
			p.fail("bad MODSEQ entry name")
		}
		p.sp()
		switch strings.ToLower(p.atom()) {
		case "priv", "shared", "all":
		default:
			p.fail("bad MODSEQ entry type")
		}
		p.sp()
	}
	k.num = int64(p.number64())
}

// checkSelectParams refuses a QRESYNC parameter before ENABLE QRESYNC
// (RFC 7162 §3.2.5) and turns CONDSTORE on for either parameter.
func (s *session) checkSelectParams(c *command) (reply, bool) {
	if c.cond.qr != nil && !s.cond.qresync {
		return bad("", "ENABLE QRESYNC first"), false
	}
	if c.cond.selCondstore || c.cond.qr != nil {
		s.cond.enable() // SELECT reports HIGHESTMODSEQ itself
	}
	return reply{}, true
}

// writeQresync sends what a client that selected with QRESYNC missed
// (RFC 7162 §3.2.5.1): VANISHED (EARLIER) for the expunged UIDs it may
// know, then FETCH for the messages changed since its modseq. Nothing is
// sent when the UIDVALIDITY changed: the client must start over.
func (s *session) writeQresync(sel *selected, q *qresyncParams) error {
	if q == nil || q.uidValidity != sel.mbox.UIDValidity {
		return nil
	}
	st := s.srv.cfg.Store
	known := func(u uint32) bool { return q.known == nil || q.known.contains(u, ^uint32(0)) }
	gone, err := st.ExpungedSince(s.ctx, sel.mbox.ID, q.modseq)
	if err != nil {
		return err
	}
	// A UID still in the view is reported by a plain VANISHED later, as
	// (EARLIER) does not change sequence numbers (RFC 7162 §3.2.10).
	gone = slicesFilter(gone, func(u uint32) bool { return known(u) && sel.seqOf(u) == 0 })
	if len(gone) > 0 {
		s.w.line("* VANISHED (EARLIER) ", formatSet(gone))
	}
	if q.modseq >= sel.modseq {
		return nil
	}
	changed, err := s.changedSince(sel.mbox.ID, q.modseq, false)
	if err != nil {
		return err
	}
	for _, m := range changed {
		// Messages the view does not hold yet are announced by the next
		// EXISTS; those past its modseq by the next refresh.
		if m.ModSeq > sel.modseq || !known(m.UID) {
			continue
		}
		if seq := sel.seqOf(m.UID); seq > 0 {
			s.writeChangeFetch(seq, m, true)
		}
	}
	return nil
}

// writeChangeFetch writes the untagged FETCH of a flag change: UID, FLAGS
// unless silent, and MODSEQ once CONDSTORE is on (RFC 7162 §3.1: "both UID
// and mod-sequence data in all subsequent untagged FETCH responses").
func (s *session) writeChangeFetch(seq uint32, m store.Message, withFlags bool) {
	if withFlags {
		s.announceKeywords(m.Keywords)
	}
	w := &s.w
	s.fetchStart(seq, m.UID)
	sep := ""
	if !s.uidOnly {
		w.str("UID ")
		w.num(uint64(m.UID))
		sep = " "
	}
	if withFlags {
		w.str(sep + "FLAGS ")
		w.flagList(s.flagNames(m))
		sep = " "
	}
	if s.cond.on {
		w.str(sep + "MODSEQ (")
		w.num(m.ModSeq)
		w.byte(')')
	}
	w.str(")\r\n")
}

// fetchChangedSince checks the CHANGEDSINCE modifier (RFC 7162 §3.1.4;
// loadFetch has narrowed msgs to the changed messages) and, with VANISHED
// (§3.2.6), first reports the UIDs of the set expunged since then.
func (s *session) fetchChangedSince(c *command, msgs []store.Message) ([]store.Message, reply, bool) {
	if !c.cond.hasChangedSince {
		return msgs, reply{}, true
	}
	s.enableCondstore()
	if c.cond.vanished {
		if !c.uid || !s.cond.qresync {
			return nil, bad("", "VANISHED needs UID FETCH and ENABLE QRESYNC"), false
		}
		gone, err := s.srv.cfg.Store.ExpungedSince(s.ctx, s.sel.mbox.ID, c.cond.changedSince)
		if err != nil {
			return nil, s.mapStoreErr(err, "FETCH"), false
		}
		// "*" stands for any UID here: an expunged UID may lie above
		// every UID left in the mailbox.
		gone = slicesFilter(gone, func(u uint32) bool { return c.seq.contains(u, ^uint32(0)) && s.sel.seqOf(u) == 0 })
		if len(gone) > 0 {
			s.w.line("* VANISHED (EARLIER) ", formatSet(gone))
		}
	}
	return msgs, reply{}, true
}

// condFetchItems adds what RFC 7162 makes implicit: MODSEQ with
// CHANGEDSINCE (§3.1.4), and UID and MODSEQ when a FETCH sets \Seen with
// CONDSTORE on (§3.1). A MODSEQ item enables CONDSTORE.
func (s *session) condFetchItems(c *command, items []fetchItem, seenChanged bool) []fetchItem {
	if hasItem(items, "MODSEQ") {
		s.enableCondstore()
	}
	if c.cond.hasChangedSince && !hasItem(items, "MODSEQ") {
		items = append(items, fetchItem{name: "MODSEQ"})
	}
	if seenChanged && s.cond.on {
		if !hasItem(items, "UID") {
			items = append([]fetchItem{{name: "UID"}}, items...)
		}
		if !hasItem(items, "MODSEQ") {
			items = append(items, fetchItem{name: "MODSEQ"})
		}
	}
	return items
}

// storeUnchangedSince runs a conditional STORE (RFC 7162 §3.1.3). It
// returns the update result and the MODIFIED response code ("" if every
// message passed). UNCHANGEDSINCE 0 fails every message, since every
// message has a modseq of at least 1; the store reads 0 as no condition.
func (s *session) storeUnchangedSince(c *command, idx []int, uids []uint32, upd store.FlagUpdate) (store.FlagResult, string, error) {
	s.enableCondstore()
	sel := s.sel
	var res store.FlagResult
	if c.cond.unchangedSince == 0 {
		msgs, err := s.loadMessagesOf(idx, false)
		if err != nil {
			return res, "", err
		}
		for _, m := range msgs {
			if m.UID != 0 {
				res.Failed = append(res.Failed, m.UID)
			}
		}
	} else {
		upd.UnchangedSince = c.cond.unchangedSince
		var err error
		if res, err = s.srv.cfg.Store.UpdateFlags(s.ctx, sel.mbox.ID, uids, upd); err != nil {
			return res, "", err
		}
	}
	if len(res.Failed) == 0 {
		return res, "", nil
	}
	set := res.Failed
	if !c.uid {
		set = make([]uint32, 0, len(res.Failed))
		for _, u := range res.Failed {
			if seq := sel.seqOf(u); seq > 0 {
				set = append(set, seq)
			}
		}
	}
	return res, "MODIFIED " + formatSet(set), nil
}

// hasModSeqKey tells whether a SEARCH program uses MODSEQ, which adds the
// highest modseq of the results to the response (RFC 7162 §3.1.5).
func hasModSeqKey(k *searchKey) bool {
	if k.op == "MODSEQ" {
		return true
	}
	for _, c := range k.kids {
		if hasModSeqKey(c) {
			return true
		}
	}
	return false
}

// expungeCode is the tagged OK code of EXPUNGE and UID EXPUNGE once
// CONDSTORE is on (RFC 7162 §3.2.7, §3.2.9). The view is refreshed first,
// so the value covers the expunge just made and is never ahead of what
// the client was told.
func (s *session) expungeCode() string {
	if !s.cond.on || s.sel == nil {
		return ""
	}
	s.sel.dirty = true
	s.sync(true)
	if len(s.sel.expunged) > 0 {
		return ""
	}
	return "HIGHESTMODSEQ " + itoa(int64(s.sel.modseq))
}

// writeVanished announces pending expunges as VANISHED instead of EXPUNGE
// once QRESYNC is on (RFC 7162 §3.2.10).
func (s *session) writeVanished(sel *selected) {
	var uids []uint32
	for u := range sel.expunged {
		if sel.seqOf(u) > 0 {
			uids = append(uids, u)
		}
	}
	if len(uids) > 0 {
		s.w.line("* VANISHED ", formatSet(uids))
	}
}

// dropFailed removes from idx the messages a conditional STORE left alone:
// they get no FETCH, only the MODIFIED code.
func dropFailed(sel *selected, idx []int, failed []uint32) []int {
	if len(failed) == 0 {
		return idx
	}
	skip := make(map[uint32]struct{}, len(failed))
	for _, u := range failed {
		skip[u] = struct{}{}
	}
	out := make([]int, 0, len(idx))
	for _, x := range idx {
		if _, f := skip[sel.uids[x]]; !f {
			out = append(out, x)
		}
	}
	return out
}

// writeSilentModSeqs reports the new modseqs of a .SILENT STORE once
// CONDSTORE is on: the client needs them to keep its cache current
// (RFC 7162 §3.1.3), without the FLAGS it asked not to get.
func (s *session) writeSilentModSeqs(changed []store.Message) {
	if !s.cond.on {
		return
	}
	for _, m := range changed {
		if seq := s.sel.seqOf(m.UID); seq > 0 {
			s.writeChangeFetch(seq, m, false)
		}
	}
}

// noteSearchModSeq records, for a SEARCH with a MODSEQ key, the highest
// modseq of the matching messages (RFC 7162 §3.1.5), and enables CONDSTORE.
func (s *session) noteSearchModSeq(c *command, matched []store.Message) {
	if !hasModSeqKey(c.search) {
		return
	}
	s.enableCondstore()
	c.cond.searchModSeq = true
	c.cond.searchMods = make(map[uint32]uint64, len(matched))
	for _, m := range matched {
		c.cond.searchTop = max(c.cond.searchTop, m.ModSeq)
		c.cond.searchMods[m.UID] = m.ModSeq
	}
}

// narrowSearchModSeq makes the MODSEQ of an ESEARCH that returns only MIN
// and/or MAX the highest modseq of those messages, not of every match
// (RFC 7162 §3.1.5, RFC 4731 §3.2).
func (a *condArgs) narrowSearchModSeq(opts []string, uids []uint32) {
	if !a.searchModSeq || len(uids) == 0 || has(opts, "ALL") || has(opts, "COUNT") {
		return
	}
	var top uint64
	if has(opts, "MIN") {
		top = a.searchMods[uids[0]]
	}
	if has(opts, "MAX") {
		top = max(top, a.searchMods[uids[len(uids)-1]])
	}
	if top > 0 {
		a.searchTop = top
	}
}

// searchSuffix renders the modseq of a SEARCH result: "(MODSEQ n)" after
// SEARCH, "MODSEQ n" in ESEARCH; nothing without a MODSEQ key or results.
func (a *condArgs) searchSuffix(open, close string) string {
	if !a.searchModSeq || a.searchTop == 0 {
		return ""
	}
	return open + itoa(int64(a.searchTop)) + close
}

// closeBase returns, before CLOSE expunges, the modseq up to which the
// client has been told every change, or 0 when changes are pending.
func (s *session) closeBase() uint64 {
	if !s.cond.on || s.sel == nil {
		return 0
	}
	s.drainEvents()
	if s.sel.dirty {
		return 0
	}
	return max(s.sel.modseq, s.sel.ownSeen)
}

// closeCode is the tagged OK code of a CLOSE that expunged (RFC 7162
// §3.2.8): the new HIGHESTMODSEQ, but only when the expunge is the one
// change past base, so a client that records it misses nothing.
func (s *session) closeCode(sel *selected, base uint64, removed bool) string {
	if base == 0 || !removed {
		return ""
	}
	hms, err := s.highestModSeq(sel.mbox.ID)
	if err != nil || hms != base+1 {
		return ""
	}
	return "HIGHESTMODSEQ " + itoa(int64(hms))
}

// changedSince lists the messages changed since modseq in UID order, the
// light way unless full metadata is needed.
func (s *session) changedSince(mailboxID int64, modseq uint64, full bool) ([]store.Message, error) {
	st := s.srv.cfg.Store
	if !full {
		return st.MessageFlagsChangedSince(s.ctx, mailboxID, modseq)
	}
	return st.MessagesChangedSince(s.ctx, mailboxID, modseq)
}

// loadFetch loads what FETCH answers, aligned with the returned indexes.
// With CHANGEDSINCE only the messages of the set changed since are read,
// through the modseq index rather than the whole set: clients such as
// Thunderbird send UID FETCH 1:* (FLAGS) (CHANGEDSINCE n) at every
// mailbox open, where few messages changed.
func (s *session) loadFetch(c *command, idx []int) ([]int, []store.Message, error) {
	if !c.cond.hasChangedSince {
		msgs, err := s.loadRows(idx, s.fetchRowReader(c.fetch))
		return idx, msgs, err
	}
	changed, err := s.changedSince(s.sel.mbox.ID, c.cond.changedSince, needsFull(c.fetch))
	if err != nil {
		return nil, nil, err
	}
	var outIdx []int
	var out []store.Message
	for _, m := range changed { // in UID order, so outIdx ascends
		seq := s.sel.seqOf(m.UID)
		if seq == 0 {
			continue // not in the view yet: the next EXISTS announces it
		}
		if _, in := slices.BinarySearch(idx, int(seq-1)); in {
			outIdx = append(outIdx, int(seq-1))
			out = append(out, m)
		}
	}
	return outIdx, out, nil
}

// refreshNow tells whether sync may read other sessions' changes now.
// With QRESYNC a client resyncs later from the highest MODSEQ it saw; a
// flag change reported while an earlier expunge must wait (FETCH, STORE,
// SEARCH by number) would carry a MODSEQ past that expunge, and the
// client would never learn of it. So under QRESYNC changes wait whole
// until they can be reported together (VANISHED has EXPUNGE's timing
// rules, RFC 7162 §3.2.10).
func (s *session) refreshNow(allowExpunge bool) bool {
	return allowExpunge || !s.cond.qresync
}
