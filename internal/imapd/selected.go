package imapd

import (
	"errors"
	"sort"
	"strings"

	"postern/internal/query"
	"postern/internal/store"
)

// selected is the session's view of its selected mailbox: the sequence
// number ↔ UID map as the client knows it, and the changes of other
// sessions not yet announced.
type selected struct {
	mbox     store.Mailbox // Name as the session names it
	readOnly bool
	uids     []uint32 // uids[seq-1], ascending
	exists   int      // the message count last announced
	modseq   uint64   // every change up to here is reflected in uids
	dirty    bool     // a change event arrived since the last refresh
	// own holds modseqs of flag changes this session made and reported
	// itself, so that the refresh does not report them twice.
	own map[uint64]struct{}
	// ownSeen is the highest own modseq whose change event came back with
	// no foreign event beside it: the view is current up to there.
	ownSeen uint64
	// expunged holds UIDs removed from the store but still in uids, because
	// EXPUNGE could not be announced yet (RFC 9051 §7.5.1).
	expunged map[uint32]struct{}
	saved    []uint32 // SEARCHRES "$" as UIDs (RFC 5182)
	// keywords are those FLAGS has announced: a FETCH may show only
	// those, so a new one is announced first (RFC 9051 §7.3.5).
	keywords map[string]struct{}
	// recent are the UIDs recent to this session as ascending ranges
	// (recent.go); recentTold is the count last told with RECENT.
	recent     query.UIDSet
	recentTold int
	// contexts are the live searches (SEARCH RETURN (UPDATE), context.go).
	contexts []*searchContext

	// rights are the session's on the mailbox (RFC 4314), all of them for
	// its own; owner is the owner's address when shared, else "".
	rights store.Rights
	owner  string
}

// seqOf returns the sequence number of uid, or 0.
func (sel *selected) seqOf(uid uint32) uint32 {
	i := sort.Search(len(sel.uids), func(i int) bool { return sel.uids[i] >= uid })
	if i < len(sel.uids) && sel.uids[i] == uid {
		return uint32(i + 1)
	}
	return 0
}

func (sel *selected) maxUID() uint32 {
	if len(sel.uids) == 0 {
		return 0
	}
	return sel.uids[len(sel.uids)-1]
}

func (s *session) cmdSelect(c *command) reply {
	if r, okParams := s.checkSelectParams(c); !okParams {
		return r
	}
	if s.sel != nil {
		s.sel = nil
		s.state = stateAuth
		s.w.line("* OK [CLOSED] previous mailbox closed") // RFC 9051 §6.3.2
	}
	st := s.srv.cfg.Store
	ref, err := s.lookupMailbox(c.mailbox)
	if err != nil {
		return s.mapStoreErr(err, c.name)
	}
	if r, allowed := need(ref, store.RightRead, c.name); !allowed {
		return r
	}
	mb := ref.mb
	if ref.shared() {
		s.watchOwner(mb.AccountID)
	}
	sel := &selected{mbox: ref.withName(), modseq: mb.HighestModSeq, rights: ref.rights, owner: ref.owner,
		readOnly: c.name == "EXAMINE" || ref.rights&selectWritable == 0,
		own:      map[uint64]struct{}{}, expunged: map[uint32]struct{}{}}
	firstUnseen := uint32(0)
	keywords := map[string]struct{}{}
	// The light listing: no envelope or body structure is read.
	l, hit := s.srv.lists.get(mb)
	if !hit {
		if l, err = st.SelectListing(s.ctx, mb.ID); err == nil {
			s.srv.lists.put(mb, l)
		}
	}
	sel.uids, firstUnseen = l.UIDs, l.FirstUnseen
	for _, k := range l.Keywords {
		keywords[k] = struct{}{}
	}
	if err != nil {
		return s.mapStoreErr(err, c.name)
	}
	sel.exists = len(sel.uids)
	if _, err := s.srv.recent.load(s.ctx, st, mb.ID); err != nil {
		return s.mapStoreErr(err, c.name)
	}
	s.takeRecent(sel, sel.readOnly)
	if !sel.readOnly {
		if err := s.srv.recent.save(s.ctx, st, mb.ID); err != nil {
			s.log.Warn("imap: saving the \\Recent watermark", "err", err)
		}
	}
	sel.recentTold = sel.recentCount()
	s.writeSelectData(sel, firstUnseen, keywords)
	if err := s.writeQresync(sel, c.cond.qr); err != nil {
		return s.mapStoreErr(err, c.name)
	}
	s.sel, s.state = sel, stateSelected
	if sel.readOnly {
		return ok("READ-ONLY", c.name+" completed")
	}
	return ok("READ-WRITE", c.name+" completed")
}

func (s *session) writeSelectData(sel *selected, firstUnseen uint32, keywords map[string]struct{}) {
	sel.keywords = keywords
	s.writeFlags(sel)
	s.w.line("* ", itoa(int64(len(sel.uids))), " EXISTS")
	if !s.rev2 {
		s.w.line("* ", itoa(int64(sel.recentTold)), " RECENT") // RFC 3501 §6.3.1
		if firstUnseen > 0 {
			s.w.line("* OK [UNSEEN ", itoa(int64(firstUnseen)), "] first unseen")
		}
	}
	s.w.line("* OK [UIDVALIDITY ", itoa(int64(sel.mbox.UIDValidity)), "] UIDs valid")
	s.w.line("* OK [UIDNEXT ", itoa(int64(sel.mbox.UIDNext)), "] predicted next UID")
	s.w.line("* OK [MAILBOXID (m", itoa(sel.mbox.ID), ")] JMAP id") // RFC 8474 §4.2
	if s.rev2 {
		s.writeSelectList(sel.mbox) // RFC 9051 §6.3.2
	}
	// Every mailbox keeps modseqs, so never NOMODSEQ (RFC 7162 §3.1.2.1).
	s.w.line("* OK [HIGHESTMODSEQ ", itoa(int64(sel.modseq)), "] highest modseq")
	if mech := s.urlMech(); mech != "" {
		s.w.line("* OK [", mech, "] URLAUTH mechanisms") // RFC 4467 §8
	}
}

// cmdClose implements CLOSE (expunging silently, RFC 9051 §6.4.1) and
// UNSELECT (RFC 3691).
func (s *session) cmdClose(c *command) reply {
	base := s.closeBase()
	sel := s.sel
	s.sel, s.state = nil, stateAuth
	// RFC 4314 §4: without "e" CLOSE closes without expunging.
	if c.name == "CLOSE" && !sel.readOnly && sel.rights.Has(store.RightExpunge) {
		removed, err := s.expungeDeleted(sel, nil)
		if err != nil {
			return s.mapStoreErr(err, "CLOSE")
		}
		return ok(s.closeCode(sel, base, len(removed) > 0), "CLOSE completed")
	}
	return ok("", c.name+" completed")
}

// expungeDeleted removes the \Deleted messages (of uidSet when given) and
// returns the UIDs removed.
func (s *session) expungeDeleted(sel *selected, uidSet *seqSet) ([]uint32, error) {
	st := s.srv.cfg.Store
	from, to := uint32(1), uint32(0)
	if uidSet != nil {
		from, to = uidSet.uidBounds(sel.maxUID())
	}
	msgs, err := s.listMessages(sel.mbox.ID, from, to, false)
	if err != nil {
		return nil, err
	}
	var del []uint32
	for _, m := range msgs {
		if m.Flags&store.FlagDeleted != 0 && (uidSet == nil || uidSet.contains(m.UID, sel.maxUID())) {
			del = append(del, m.UID)
		}
	}
	if len(del) == 0 {
		return nil, nil
	}
	removed, _, err := st.Expunge(s.ctx, sel.mbox.ID, del)
	return removed, err
}

// cmdExpunge implements EXPUNGE and UID EXPUNGE (RFC 4315 §2.1).
func (s *session) cmdExpunge(c *command) reply {
	if s.sel.readOnly {
		return no("READ-ONLY", "mailbox is read-only")
	}
	if !s.sel.rights.Has(store.RightExpunge) {
		return no("NOPERM", "EXPUNGE: permission denied (e needed)") // RFC 4314 §4
	}
	var set *seqSet
	if c.uid {
		if c.seq.saved {
			c.seq = seqSet{ranges: uidRanges(s.sel.saved)}
		}
		set = &c.seq
	}
	removed, err := s.expungeDeleted(s.sel, set)
	if err != nil {
		return s.mapStoreErr(err, "EXPUNGE")
	}
	for _, u := range removed {
		s.sel.expunged[u] = struct{}{}
	}
	return ok(s.expungeCode(), "EXPUNGE completed")
}

func uidRanges(uids []uint32) []seqRange {
	out := make([]seqRange, 0, len(uids))
	for _, u := range uids {
		out = append(out, seqRange{u, u})
	}
	if len(out) == 0 {
		// An empty saved result matches nothing; UID 0 never exists.
		out = append(out, seqRange{^uint32(0), ^uint32(0)})
	}
	return out
}

// writeFlags announces the flags of the mailbox: the system flags and the
// keywords in use (FLAGS, and PERMANENTFLAGS with \* for new ones).
func (s *session) writeFlags(sel *selected) {
	kw := make([]string, 0, len(sel.keywords))
	for k := range sel.keywords {
		kw = append(kw, k)
	}
	sort.Strings(kw)
	sys := `\Answered \Flagged \Deleted \Seen \Draft`
	s.w.line("* FLAGS (", sys, prefixSpace(kw), ")")
	switch {
	case sel.readOnly:
		s.w.line("* OK [PERMANENTFLAGS ()] read-only")
	case sel.rights.Has(flagRights):
		s.w.line("* OK [PERMANENTFLAGS (", sys, prefixSpace(kw), ` \*)] flags permitted`)
	default:
		// RFC 4314 §4: only the flags the rights let this session change.
		f, kws := allowedFlags(sel.rights, store.FlagSeen|store.FlagAnswered|store.FlagFlagged|store.FlagDeleted|store.FlagDraft, kw)
		perm := append(f.Names(), kws...)
		if sel.rights.Has(store.RightWrite) {
			perm = append(perm, `\*`)
		}
		s.w.line("* OK [PERMANENTFLAGS (", strings.Join(perm, " "), ")] flags permitted")
	}
}

// announceKeywords sends a new FLAGS before a FETCH shows a keyword that
// FLAGS has not announced, as clients (and imaptest) expect.
func (s *session) announceKeywords(kws []string) {
	sel := s.sel
	if sel == nil || len(kws) == 0 {
		return
	}
	added := false
	for _, k := range kws {
		if _, ok := sel.keywords[k]; !ok {
			if sel.keywords == nil {
				sel.keywords = map[string]struct{}{}
			}
			sel.keywords[k] = struct{}{}
			added = true
		}
	}
	if added {
		s.writeFlags(sel)
	}
}

// sync reports changes since the last command: new messages (EXISTS),
// flag changes of other sessions (FETCH) and, when allowed, expunges.
func (s *session) sync(allowExpunge bool) {
	s.drainEvents()
	s.flushNotify()
	sel := s.sel
	if sel == nil || !sel.rights.Has(store.RightRead) {
		return // nothing more is told of a mailbox whose access was withdrawn
	}
	if sel.dirty {
		if s.refreshNow(allowExpunge) {
			sel.dirty = false
			s.refresh(sel)
		}
	} else if sel.ownSeen > sel.modseq {
		// Only our own flag changes happened: the writer publishes in
		// commit order, so every earlier change's event was seen too.
		sel.modseq = sel.ownSeen
		sel.pruneOwn()
	}
	if allowExpunge && len(sel.expunged) > 0 {
		// A message that came and went since the last command was never
		// announced: it leaves silently. Then EXPUNGE the known ones and
		// count the new ones after, as a MOVE within the mailbox is told
		// (RFC 6851 §3.3: EXPUNGE, then EXISTS).
		sel.dropUnannounced()
		s.contextsBeforeExpunge(sel)
		s.announceExpunges(sel)
	}
	// An EXPUNGE lowers the recent count without a word (the client
	// counts); new messages are told with EXISTS, then RECENT.
	sel.recentTold = min(sel.recentTold, sel.recentCount())
	if len(sel.uids) > sel.exists {
		sel.exists = len(sel.uids)
		s.w.line("* ", itoa(int64(sel.exists)), " EXISTS")
		s.takeRecent(sel, sel.readOnly)
		if n := sel.recentCount(); n != sel.recentTold {
			sel.recentTold = n
			if !s.rev2 {
				s.w.line("* ", itoa(int64(n)), " RECENT")
			}
		}
	}
	if len(sel.contexts) > 0 {
		s.refreshContexts(sel)
	}
}

// dropUnannounced removes from the view the expunged messages beyond what
// EXISTS has told the client.
func (sel *selected) dropUnannounced() {
	if len(sel.uids) <= sel.exists {
		return
	}
	kept := sel.uids[:sel.exists]
	for _, u := range sel.uids[sel.exists:] {
		if _, gone := sel.expunged[u]; gone {
			delete(sel.expunged, u)
			continue
		}
		kept = append(kept, u)
	}
	sel.uids = kept
}

// drainEvents reads pending change events without blocking.
func (s *session) drainEvents() {
	for {
		select {
		case ev := <-s.events:
			s.noteEvent(ev)
		default:
			s.drainSharedEvents()
			return
		}
	}
}

func (s *session) noteEvent(ev store.Change) {
	s.noteNotify(ev)
	s.noteSelectedEvent(ev)
}

// noteSelectedEvent applies an event to the selected view.
func (s *session) noteSelectedEvent(ev store.Change) {
	if s.sel == nil {
		return
	}
	sel := s.sel
	if ev.Kind == store.ChangeFlags && ev.MailboxID == sel.mbox.ID {
		if _, mine := sel.own[ev.ModSeq]; mine {
			sel.ownSeen = max(sel.ownSeen, ev.ModSeq)
			return
		}
	}
	if sel.takeNew(ev) {
		return
	}
	// Kind 0 means events were lost: resync whatever they were.
	if ev.Kind == 0 || (ev.MailboxID == s.sel.mbox.ID && ev.Kind != store.ChangeMailboxes) {
		s.sel.dirty = true
	}
}

// takeNew applies a delivery that directly follows what the view reflects
// without asking the store: the event names the mailbox's modseq before it
// and events come in commit order, so when that is the view's modseq the
// event is the whole change. Ten thousand IDLE sessions then learn of a
// delivery without a query each.
func (sel *selected) takeNew(ev store.Change) bool {
	if ev.Kind != store.ChangeNewMessage || ev.MailboxID != sel.mbox.ID || sel.dirty ||
		len(sel.own) > 0 || ev.PrevModSeq == 0 || ev.PrevModSeq != sel.modseq || len(ev.UIDs) == 0 {
		return false
	}
	top := sel.maxUID()
	for _, u := range ev.UIDs {
		if u <= top {
			return false
		}
		top = u
	}
	sel.uids = append(sel.uids, ev.UIDs...)
	sel.modseq = ev.ModSeq
	return true
}

// refresh brings the view up to date with the store by modseq, which
// covers lost events and other nodes alike.
func (s *session) refresh(sel *selected) {
	st := s.srv.cfg.Store
	highest, err := s.highestModSeq(sel.mbox.ID)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted under us: every message is gone.
		for _, u := range sel.uids {
			sel.expunged[u] = struct{}{}
		}
		return
	}
	if err != nil {
		s.log.Error("imap refresh", "err", err)
		return
	}
	changed, err := st.MessagesChangedSince(s.ctx, sel.mbox.ID, sel.modseq)
	if err != nil {
		s.log.Error("imap refresh", "err", err)
		return
	}
	gone, err := st.ExpungedSince(s.ctx, sel.mbox.ID, sel.modseq)
	if err != nil {
		s.log.Error("imap refresh", "err", err)
		return
	}
	top := sel.maxUID()
	for _, m := range changed {
		if m.UID > top {
			sel.uids = append(sel.uids, m.UID)
			top = m.UID
			continue
		}
		if _, mine := sel.own[m.ModSeq]; mine {
			continue
		}
		// A message the client has not been told of with EXISTS yet
		// has no sequence number for it: it reads the flags after EXISTS.
		if seq := sel.seqOf(m.UID); seq > 0 && int(seq) <= sel.exists {
			s.writeFlagsFetch(seq, m)
		}
	}
	for _, u := range gone {
		if sel.seqOf(u) > 0 {
			sel.expunged[u] = struct{}{}
		}
	}
	sel.modseq = max(sel.modseq, highest)
	sel.pruneOwn()
}

// highestModSeq reads the mailbox's modseq; MailboxStatus would also count
// the messages, a scan per refresh that made APPEND and IDLE slow down as
// the mailbox grew.
func (s *session) highestModSeq(mailboxID int64) (uint64, error) {
	return s.srv.cfg.Store.HighestModSeq(s.ctx, mailboxID)
}

// pruneOwn forgets own modseqs the view has moved past.
func (sel *selected) pruneOwn() {
	for m := range sel.own {
		if m <= sel.modseq {
			delete(sel.own, m)
		}
	}
}

func (s *session) writeFlagsFetch(seq uint32, m store.Message) {
	s.writeChangeFetch(seq, m, true)
}

func flagNames(m store.Message) []string {
	return append(m.Flags.Names(), m.Keywords...)
}

// flagNames are the flags of m as this session shows them: with \Recent
// when the message is recent to it (IMAP4rev1 only).
func (s *session) flagNames(m store.Message) []string {
	if s.sel != nil && !s.rev2 {
		if s.sel.isRecent(m.UID) {
			return append(append(m.Flags.Names(), `\Recent`), m.Keywords...)
		}
	}
	return flagNames(m)
}

// announceExpunges sends EXPUNGE for pending UIDs, highest sequence
// number first so that each number is valid when the client reads it.
func (s *session) announceExpunges(sel *selected) {
	seqs := make([]uint32, 0, len(sel.expunged))
	for u := range sel.expunged {
		if seq := sel.seqOf(u); seq > 0 {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] > seqs[j] })
	if s.cond.qresync || s.uidOnly {
		s.writeVanished(sel)
	} else {
		for _, seq := range seqs {
			s.w.line("* ", itoa(int64(seq)), " EXPUNGE")
		}
	}
	kept := sel.uids[:0]
	for _, u := range sel.uids {
		if _, gone := sel.expunged[u]; !gone {
			kept = append(kept, u)
		}
	}
	sel.uids = kept
	sel.exists -= len(seqs)
	clear(sel.expunged)
	if len(sel.saved) > 0 {
		sel.saved = slicesFilter(sel.saved, func(u uint32) bool { return sel.seqOf(u) > 0 })
	}
}

func slicesFilter(in []uint32, keep func(uint32) bool) []uint32 {
	out := in[:0]
	for _, v := range in {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}
