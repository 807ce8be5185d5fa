package imapd

import (
	"slices"
	"strings"
	"time"

	"postern/internal/message"
	"postern/internal/store"
)

// searchCtx holds what evaluating a SEARCH program needs beyond one
// message: full-text results computed once per key.
type searchCtx struct {
	s    *session
	text map[*searchKey]map[uint32]bool // BODY, TEXT, HEADER matches
	max  uint32                         // largest sequence number
	maxU uint32                         // largest UID
}

func (s *session) cmdSearch(c *command) reply {
	if c.badCharset {
		return badCharsetReply()
	}
	seqs, msgs, err := s.searchMatches(c, false)
	if err != nil {
		return s.mapStoreErr(err, "SEARCH")
	}
	uids := make([]uint32, len(msgs))
	for i := range msgs {
		uids[i] = msgs[i].UID
	}
	s.noteSearchModSeq(c, msgs)
	s.writeSearchResult(c, seqs, uids)
	return ok("", "SEARCH completed")
}

// searchMatches evaluates the search program of c and returns the
// sequence numbers of the matching messages with the messages; their
// metadata is loaded when meta is set or the program needs it.
func (s *session) searchMatches(c *command, meta bool) ([]uint32, []store.Message, error) {
	sel := s.sel
	sc := &searchCtx{s: s, text: map[*searchKey]map[uint32]bool{}, max: uint32(len(sel.uids)), maxU: sel.maxUID()}
	if err := sc.prepare(c.search); err != nil {
		return nil, nil, err
	}
	var msgs []store.Message
	if meta || needsMeta(c.search) {
		all := make([]int, len(sel.uids))
		for i := range all {
			all[i] = i
		}
		var err error
		if msgs, err = s.loadMessages(all); err != nil {
			return nil, nil, err
		}
	} else {
		msgs = make([]store.Message, len(sel.uids))
		for i, u := range sel.uids {
			msgs[i] = store.Message{UID: u}
		}
	}
	var seqs []uint32
	var out []store.Message
	for i := range msgs {
		m := &msgs[i]
		if m.UID == 0 {
			continue
		}
		if sc.match(c.search, uint32(i+1), m, &msgMemo{}) {
			seqs = append(seqs, uint32(i+1))
			out = append(out, *m)
		}
	}
	return seqs, out, nil
}

// writeSearchResult answers with SEARCH, or ESEARCH when RETURN was given
// or IMAP4rev2 is enabled (RFC 9051 §6.4.4, RFC 4731, RFC 5182 SAVE).
func (s *session) writeSearchResult(c *command, seqs, uids []uint32) {
	res := seqs
	if c.uid {
		res = uids
	}
	if !c.retGiven && !s.rev2 {
		s.w.str("* SEARCH")
		for _, n := range res {
			s.w.byte(' ')
			s.w.num(uint64(n))
		}
		s.w.str(c.cond.searchSuffix(" (MODSEQ ", ")"))
		s.w.crlf()
		return
	}
	opts := c.searchRet
	if len(opts) == 0 {
		opts = []string{"ALL"}
	}
	if has(opts, "SAVE") {
		s.sel.saved = savedResult(opts, uids)
		if len(opts) == 1 {
			return
		}
	}
	s.w.str(`* ESEARCH (TAG "`)
	s.w.str(c.tag)
	s.w.str(`")`)
	if c.uid {
		s.w.str(" UID")
	}
	if len(res) > 0 {
		if has(opts, "MIN") {
			s.w.str(" MIN " + itoa(int64(res[0])))
		}
		if has(opts, "MAX") {
			s.w.str(" MAX " + itoa(int64(res[len(res)-1])))
		}
		if has(opts, "ALL") {
			s.w.str(" ALL " + formatSet(res))
		}
	}
	if has(opts, "COUNT") {
		s.w.str(" COUNT " + itoa(int64(len(res))))
	}
	s.w.str(c.cond.searchSuffix(" MODSEQ ", ""))
	s.w.crlf()
}

// savedResult is what SAVE keeps: with MIN or MAX but neither ALL nor
// COUNT, only those messages (RFC 5182 §2.4).
func savedResult(opts []string, uids []uint32) []uint32 {
	if has(opts, "ALL") || has(opts, "COUNT") || !has(opts, "MIN") && !has(opts, "MAX") || len(uids) == 0 {
		return slices.Clone(uids)
	}
	var out []uint32
	if has(opts, "MIN") {
		out = append(out, uids[0])
	}
	if has(opts, "MAX") && (len(out) == 0 || uids[len(uids)-1] != out[0]) {
		out = append(out, uids[len(uids)-1])
	}
	return out
}

// needsMeta tells whether evaluating k needs message metadata beyond UIDs.
func needsMeta(k *searchKey) bool {
	switch k.op {
	case "AND", "OR", "NOT":
		for _, c := range k.kids {
			if needsMeta(c) {
				return true
			}
		}
		return false
	case "ALL", "SEQ", "UID", "BODY", "TEXT", "HEADER", "SUBJECT", "FROM", "TO", "CC", "BCC", "RECENT", "NEW", "OLD":
		return false
	}
	return true
}

// prepare runs the text searches of the program, once per key.
func (sc *searchCtx) prepare(k *searchKey) error {
	for _, c := range k.kids {
		if err := sc.prepare(c); err != nil {
			return err
		}
	}
	switch k.op {
	case "BODY", "TEXT", "HEADER", "SUBJECT", "FROM", "TO", "CC", "BCC":
		return sc.prepareText(k)
	}
	return nil
}

// msgMemo caches what several keys of one message share.
type msgMemo struct {
	env *message.Envelope
}

func (sc *searchCtx) match(k *searchKey, seq uint32, m *store.Message, mm *msgMemo) bool {
	switch k.op {
	case "AND":
		for _, c := range k.kids {
			if !sc.match(c, seq, m, mm) {
				return false
			}
		}
		return true
	case "OR":
		return sc.match(k.kids[0], seq, m, mm) || sc.match(k.kids[1], seq, m, mm)
	case "NOT":
		return !sc.match(k.kids[0], seq, m, mm)
	case "ALL", "OLD":
		return true
	case "RECENT", "NEW":
		return false // no \Recent is kept
	case "SEQ":
		if k.seq.saved {
			return sc.s.sel.savedHas(m.UID)
		}
		return k.seq.contains(seq, sc.max)
	case "UID":
		if k.seq.saved {
			return sc.s.sel.savedHas(m.UID)
		}
		return k.seq.contains(m.UID, sc.maxU)
	case "BODY", "TEXT", "HEADER", "SUBJECT", "FROM", "TO", "CC", "BCC":
		return sc.text[k][m.UID]
	case "MODSEQ":
		return matchModSeq(k, m)
	}
	if f, ok := flagKey(k.op); ok {
		return (m.Flags&f != 0) != strings.HasPrefix(k.op, "UN")
	}
	return sc.matchMeta(k, m, mm)
}

func flagKey(op string) (store.Flags, bool) {
	switch strings.TrimPrefix(op, "UN") {
	case "SEEN":
		return store.FlagSeen, true
	case "ANSWERED":
		return store.FlagAnswered, true
	case "FLAGGED":
		return store.FlagFlagged, true
	case "DELETED":
		return store.FlagDeleted, true
	case "DRAFT":
		return store.FlagDraft, true
	}
	return 0, false
}

func (sc *searchCtx) matchMeta(k *searchKey, m *store.Message, mm *msgMemo) bool {
	switch k.op {
	case "KEYWORD", "UNKEYWORD":
		found := false
		for _, kw := range m.Keywords {
			found = found || strings.EqualFold(kw, k.str)
		}
		return found == (k.op == "KEYWORD")
	case "LARGER":
		return m.Size > k.num
	case "SMALLER":
		return m.Size < k.num
	case "BEFORE", "ON", "SINCE":
		return compareDay(dayOf(m.InternalDate), k.date, k.op)
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		t, ok := sc.envelope(m, mm).Time()
		if !ok {
			return false
		}
		return compareDay(dayOf(t), k.date, strings.TrimPrefix(k.op, "SENT"))
	}
	return false
}

// dayOf keeps the calendar date of t in its own zone: SEARCH dates ignore
// time and timezone (RFC 9051 §6.4.4).
func dayOf(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

func compareDay(day, key time.Time, op string) bool {
	switch op {
	case "BEFORE":
		return day.Before(key)
	case "ON":
		return day.Equal(key)
	}
	return !day.Before(key) // SINCE: on or after
}

func (sc *searchCtx) envelope(m *store.Message, mm *msgMemo) *message.Envelope {
	if mm.env != nil {
		return mm.env
	}
	env, err := message.UnmarshalEnvelope(m.Envelope)
	if err != nil {
		f := fetcher{s: sc.s}
		if env, err = f.envelope(*m); err != nil || env == nil {
			env = &message.Envelope{}
		}
	}
	mm.env = env
	return env
}

// savedHas looks uid up in the saved result, which is in UID order.
func (sel *selected) savedHas(uid uint32) bool {
	_, found := slices.BinarySearch(sel.saved, uid)
	return found
}
