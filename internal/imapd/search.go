package imapd

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"postern/internal/query"
	"postern/internal/store"
)

// SEARCH, SORT and THREAD are evaluated by the query package; this file
// translates the parsed search program into its criteria over the
// session's view of the mailbox, and writes the answer.

func (s *session) cmdSearch(c *command) reply {
	if r, conflict := s.utf8CharsetConflict(c); conflict {
		return r
	}
	if c.badCharset {
		return badCharsetReply()
	}
	msgs, err := query.Search(s.ctx, s.srv.cfg.Store, s.query(c), query.LoadUID)
	if err != nil {
		return s.mapStoreErr(err, "SEARCH")
	}
	seqs, uids := s.sel.numbered(msgs)
	s.noteSearchModSeq(c, msgs)
	s.writeSearchResult(c, seqs, uids)
	return ok("", "SEARCH completed")
}

// query is the search program of c over the session's view of the
// selected mailbox: a message expunged by another session but not yet
// announced can still match, one delivered but not yet announced cannot.
func (s *session) query(c *command) query.Query {
	s.resolveObjectIDs(c.search)
	return query.Query{MailboxID: s.sel.mbox.ID, UIDs: s.sel.uids, Criteria: s.sel.criterion(c.search)}
}

// resolveObjectIDs finds the messages the EMAILID and THREADID keys of a
// search program name (RFC 8474 §6): ids the store does not know, or not
// of this form, name none.
func (s *session) resolveObjectIDs(k *searchKey) {
	for _, kid := range k.kids {
		s.resolveObjectIDs(kid)
	}
	if k.op != "EMAILID" && k.op != "THREADID" {
		return
	}
	k.ids = map[int64]bool{}
	prefix := "e"
	if k.op == "THREADID" {
		prefix = "t"
	}
	rest, ok := strings.CutPrefix(k.str, prefix)
	n, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil || n <= 0 {
		return
	}
	if k.op == "EMAILID" {
		k.ids[n] = true
		return
	}
	msgs, err := s.srv.cfg.Store.ThreadMessages(s.ctx, s.acct.ID, []int64{n})
	if err != nil {
		s.log.Warn("imap search THREADID", "err", err)
		return
	}
	for _, m := range msgs {
		k.ids[m.ID] = true
	}
}

// numbered returns the sequence numbers and UIDs of msgs, which are in
// UID order and in the view.
func (sel *selected) numbered(msgs []store.Message) (seqs, uids []uint32) {
	seqs, uids = make([]uint32, 0, len(msgs)), make([]uint32, 0, len(msgs))
	i := 0
	for _, m := range msgs {
		for i < len(sel.uids) && sel.uids[i] < m.UID {
			i++
		}
		if i < len(sel.uids) && sel.uids[i] == m.UID {
			seqs, uids = append(seqs, uint32(i+1)), append(uids, m.UID)
		}
	}
	return seqs, uids
}

// criterion translates one search key (RFC 9051 §6.4.4, RFC 7162
// §3.1.5). Text keys are case-insensitive substring matches on the
// decoded text; RECENT, NEW and OLD look at what is recent to the session.
func (sel *selected) criterion(k *searchKey) query.Criterion {
	switch k.op {
	case "AND", "OR":
		kids := make([]query.Criterion, len(k.kids))
		for i, kid := range k.kids {
			kids[i] = sel.criterion(kid)
		}
		if k.op == "OR" {
			return query.Or(kids)
		}
		return query.And(kids)
	case "NOT":
		return query.Not{C: sel.criterion(k.kids[0])}
	case "ALL":
		return query.And{}
	case "RECENT":
		return sel.recentSet()
	case "NEW":
		return query.And{sel.recentSet(), query.Not{C: query.Flag{Flags: store.FlagSeen}}}
	case "OLD":
		return query.Not{C: sel.recentSet()}
	case "SEQ":
		return sel.uidSet(k.seq, false)
	case "UID":
		return sel.uidSet(k.seq, true)
	case "MODSEQ":
		return query.ModSeq{Min: uint64(k.num)}
	case "KEYWORD":
		return query.Keyword{Name: k.str}
	case "UNKEYWORD":
		return query.Not{C: query.Keyword{Name: k.str}}
	case "OLDER": // RFC 5032: received more than num seconds ago
		return query.Date{Field: query.Received, Op: query.Before, Time: time.Now().Add(-time.Duration(k.num) * time.Second)}
	case "YOUNGER":
		return query.Date{Field: query.Received, Op: query.Since, Time: time.Now().Add(-time.Duration(k.num) * time.Second)}
	case "EMAILID", "THREADID": // RFC 8474 §6, resolved by resolveObjectIDs
		return query.MessageIDs(k.ids)
	case "LARGER":
		return query.Size{Op: query.Larger, Bytes: k.num}
	case "SMALLER":
		return query.Size{Op: query.Smaller, Bytes: k.num}
	}
	if c, ok := textCriterion(k); ok {
		return c
	}
	if c, ok := dateCriterion(k); ok {
		return c
	}
	f, _ := flagKey(k.op) // the parser admits no other key
	if strings.HasPrefix(k.op, "UN") {
		return query.Not{C: query.Flag{Flags: f}}
	}
	return query.Flag{Flags: f}
}

func textCriterion(k *searchKey) (query.Criterion, bool) {
	switch k.op {
	case "BODY":
		return query.Text{Field: store.TextBody, Needle: k.str}, true
	case "TEXT":
		return query.Text{Field: store.TextAll, Needle: k.str}, true
	case "HEADER":
		return query.Text{Field: store.TextHeaders, Header: k.str, Needle: k.str2}, true
	case "SUBJECT", "FROM", "TO", "CC", "BCC":
		return query.Text{Field: store.TextHeaders, Header: strings.ToLower(k.op), Needle: k.str}, true
	}
	return nil, false
}

// dateCriterion: SEARCH dates are calendar dates, disregarding time and
// timezone (RFC 9051 §6.4.4).
func dateCriterion(k *searchKey) (query.Criterion, bool) {
	field, op := query.Received, strings.TrimPrefix(k.op, "SENT")
	if op != k.op {
		field = query.Sent
	}
	d := query.Date{Field: field, Time: k.date, Calendar: true}
	switch op {
	case "BEFORE":
		d.Op = query.Before
	case "ON":
		d.Op = query.On
	case "SINCE":
		d.Op = query.Since
	default:
		return nil, false
	}
	return d, true
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

// uidSet turns a sequence set into the UIDs it names in the view: "*" is
// the largest number in use (RFC 9051 §9), "$" the saved result (RFC 5182
// §2.1). A range of sequence numbers is the range of their UIDs, as the
// view is in UID order; numbers past the end name nothing.
func (sel *selected) uidSet(set seqSet, uid bool) query.UIDSet {
	if set.saved {
		out := make(query.UIDSet, len(sel.saved))
		for i, u := range sel.saved {
			out[i] = query.UIDRange{First: u, Last: u}
		}
		return out
	}
	out := make(query.UIDSet, 0, len(set.ranges))
	n := uint32(len(sel.uids))
	for _, r := range set.ranges {
		if uid {
			lo, hi := r.bounds(sel.maxUID())
			out = append(out, query.UIDRange{First: lo, Last: hi})
			continue
		}
		lo, hi := r.bounds(n)
		if lo > n || hi == 0 {
			continue
		}
		out = append(out, query.UIDRange{First: sel.uids[max(lo, 1)-1], Last: sel.uids[min(hi, n)-1]})
	}
	return out
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
	s.writeESearch(c, seqs, uids, false)
}

// writeESearch answers with ESEARCH (RFC 4731): for SEARCH, with seqs and
// uids ascending; for SORT (RFC 5267 ESORT, ordered), in the sort's order,
// which ALL and PARTIAL keep while MIN and MAX are the lowest and highest
// numbers.
func (s *session) writeESearch(c *command, seqs, uids []uint32, ordered bool) {
	s.writeESearchFor(c, seqs, uids, ordered, nil)
}

// writeESearchFor is writeESearch with the MAILBOX and UIDVALIDITY of
// the search correlator when mb is not nil (RFC 7377 §2).
func (s *session) writeESearchFor(c *command, seqs, uids []uint32, ordered bool, mb *store.Mailbox) {
	res := seqs
	if c.uid {
		res = uids
	}
	asc, ascUIDs := res, uids
	if ordered {
		asc, ascUIDs = slices.Sorted(slices.Values(res)), slices.Sorted(slices.Values(uids))
	}
	format := formatSet
	if ordered {
		format = formatSetOrdered
	}
	opts := c.searchRet
	if len(opts) == 0 {
		opts = []string{"ALL"}
	}
	if has(opts, "SAVE") {
		s.sel.saved = savedResult(opts, ascUIDs)
		if len(opts) == 1 {
			return
		}
	}
	c.cond.narrowSearchModSeq(opts, ascUIDs)
	s.w.str(`* ESEARCH (TAG "`)
	s.w.str(c.tag)
	s.w.byte('"')
	if mb != nil {
		s.w.str(" MAILBOX ")
		s.writeMailbox(mb.Name)
		s.w.str(" UIDVALIDITY " + itoa(int64(mb.UIDValidity)))
	}
	s.w.byte(')')
	if c.uid {
		s.w.str(" UID")
	}
	if len(res) > 0 {
		if has(opts, "MIN") {
			s.w.str(" MIN " + itoa(int64(asc[0])))
		}
		if has(opts, "MAX") {
			s.w.str(" MAX " + itoa(int64(asc[len(asc)-1])))
		}
		if has(opts, "ALL") {
			s.w.str(" ALL " + format(res))
		}
	}
	if has(opts, "COUNT") {
		s.w.str(" COUNT " + itoa(int64(len(res))))
	}
	if has(opts, "PARTIAL") {
		s.w.str(" PARTIAL (" + itoa(int64(c.partial[0])) + ":" + itoa(int64(c.partial[1])) + " ")
		if part := partialSlice(res, c.partial); len(part) > 0 {
			s.w.str(format(part))
		} else {
			s.w.str("NIL")
		}
		s.w.byte(')')
	}
	s.w.str(c.cond.searchSuffix(" MODSEQ ", ""))
	s.w.crlf()
}

// partialSlice is the part of res a PARTIAL range names (RFC 9394 §4.1):
// positions from 1, or counted back from the end when negative (-1 is
// the last).
func partialSlice(res []uint32, r [2]int32) []uint32 {
	n := int64(len(res))
	lo, hi := int64(r[0]), int64(r[1])
	if lo < 0 {
		lo, hi = n+lo+1, n+hi+1
	}
	lo, hi = max(lo, 1), min(hi, n)
	if lo > hi {
		return nil
	}
	return res[lo-1 : hi]
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
