package imapd

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"postern/internal/message"
	"postern/internal/store"
)

// maxRangeQueries is how many separate UID runs a command may fetch with
// one query each before one query over the whole span is cheaper.
const maxRangeQueries = 16

// resolve returns the indexes into sel.uids named by a sequence set (or a
// UID set with uid), ascending and distinct. invalid reports a sequence
// number beyond the mailbox (RFC 9051 §6.4.5 wants BAD for those).
func (sel *selected) resolve(set seqSet, uid bool) (idx []int, invalid bool) {
	n := len(sel.uids)
	if set.saved {
		uid = true
		set = seqSet{ranges: uidRanges(sel.saved)}
	}
	// Each range is a run [a, b) of indexes; a UID FETCH of one message on
	// a large mailbox then costs a binary search, not a pass over all.
	runs := make([][2]int, 0, len(set.ranges))
	for _, r := range set.ranges {
		if uid {
			lo, hi := r.bounds(sel.maxUID())
			a := sort.Search(n, func(i int) bool { return sel.uids[i] >= lo })
			b := sort.Search(n, func(i int) bool { return sel.uids[i] > hi })
			runs = append(runs, [2]int{a, b})
			continue
		}
		lo, hi := r.bounds(uint32(n))
		if hi > uint32(n) {
			// A range with "*" is clamped; an explicit number past the
			// end is the client's error.
			invalid = invalid || (r.lo != 0 && r.hi != 0)
			hi = uint32(n)
		}
		runs = append(runs, [2]int{int(max(lo, 1)) - 1, int(hi)})
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i][0] < runs[j][0] })
	next := 0 // indexes below next are taken
	for _, r := range runs {
		for i := max(r[0], next); i < r[1]; i++ {
			idx = append(idx, i)
		}
		next = max(next, r[1])
	}
	return idx, invalid
}

// loadMessages reads the metadata of the messages at idx with as few range
// queries as possible; the result is aligned with idx, with zero Messages
// (UID 0) for any that vanished.
func (s *session) loadMessages(idx []int) ([]store.Message, error) {
	return s.loadMessagesOf(idx, true)
}

// loadMessagesOf is loadMessages; without full, the cached envelope, body
// structure and preview may be left out (store.Lister).
func (s *session) loadMessagesOf(idx []int, full bool) ([]store.Message, error) {
	return s.loadRows(idx, s.rowReader(full))
}

// rowReader reads the messages of a UID range of a mailbox.
type rowReader func(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error)

// loadRows reads the messages at idx with read, in as few range queries
// as possible; the result is aligned with idx, with zero Messages (UID 0)
// for any that vanished.
func (s *session) loadRows(idx []int, read rowReader) ([]store.Message, error) {
	sel := s.sel
	if len(idx) == 0 {
		return []store.Message{}, nil
	}
	var out []store.Message
	// Runs of consecutive indexes are contiguous UID ranges.
	type run struct{ a, b int }
	var runs []run
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		runs = append(runs, run{i, j})
		i = j + 1
	}
	if len(runs) > maxRangeQueries {
		runs = []run{{0, len(idx) - 1}}
	}
	for _, r := range runs {
		msgs, err := read(s.ctx, sel.mbox.ID, sel.uids[idx[r.a]], sel.uids[idx[r.b]])
		if err != nil {
			return nil, err
		}
		if len(runs) == 1 && aligned(msgs, idx, sel.uids) {
			return msgs, nil // the common 1:*, without a copy of every row
		}
		if out == nil {
			out = make([]store.Message, len(idx))
		}
		placeRows(out, idx, r.a, r.b, sel.uids, msgs)
	}
	return out, nil
}

// aligned tells whether msgs are exactly the messages at idx, in order.
func aligned(msgs []store.Message, idx []int, uids []uint32) bool {
	if len(msgs) != len(idx) {
		return false
	}
	for i, m := range msgs {
		if m.UID != uids[idx[i]] {
			return false
		}
	}
	return true
}

// placeRows puts the rows msgs (ascending UIDs) read for idx[a..b] at
// their places in out. Both lists ascend, so one merge pass aligns them.
func placeRows(out []store.Message, idx []int, a, b int, uids []uint32, msgs []store.Message) {
	j := 0
	for i := a; i <= b && j < len(msgs); i++ {
		want := uids[idx[i]]
		for j < len(msgs) && msgs[j].UID < want {
			j++
		}
		if j < len(msgs) && msgs[j].UID == want {
			out[i] = msgs[j]
			j++
		}
	}
}

// listMessages reads the messages of a UID range, through the store's light
// listing when full is false.
func (s *session) listMessages(mailboxID int64, from, to uint32, full bool) ([]store.Message, error) {
	return s.rowReader(full)(s.ctx, mailboxID, from, to)
}

func (s *session) rowReader(full bool) rowReader {
	st := s.srv.cfg.Store
	if !full {
		return st.MessageFlags
	}
	return st.Messages
}

// fetchRowReader picks the lightest listing that answers items: a
// client's message list (FLAGS UID ENVELOPE) needs no body structure or
// preview, which are most of a row's bytes.
func (s *session) fetchRowReader(items []fetchItem) rowReader {
	if !needsFull(items) {
		return s.rowReader(false)
	}
	for _, it := range items {
		switch it.name {
		case "ENVELOPE", "UID", "FLAGS", "MODSEQ": // what MessageEnvelopes reads
		default:
			return s.rowReader(true)
		}
	}
	return s.srv.cfg.Store.MessageEnvelopes
}

// needsFull tells whether some item needs the cached envelope, body
// structure or preview; the others are answered from a light listing.
func needsFull(items []fetchItem) bool {
	for _, it := range items {
		switch it.name {
		case "UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ", "EMAILID", "THREADID":
		case "BODY[]", "RFC822":
			// The whole message needs its blob, not its structure.
			if len(it.section.part) > 0 || it.section.spec != "" {
				return true
			}
		default:
			return true
		}
	}
	return false
}

func (s *session) cmdFetch(c *command) reply {
	sel := s.sel
	idx, invalid := sel.resolve(c.seq, c.uid)
	if invalid && !c.uid {
		return bad("", "invalid message sequence number")
	}
	if chunk := cmp.Or(s.srv.cfg.fetchChunk, fetchStreamChunk); streams(c, idx, chunk) {
		return s.fetchStream(c, idx, chunk)
	}
	idx, msgs, err := s.loadFetch(c, idx)
	if err != nil {
		return s.mapStoreErr(err, "FETCH")
	}
	msgs, r, okCond := s.fetchChangedSince(c, msgs)
	if !okCond {
		return r
	}
	items := s.fetchItems(c)
	seenChanged := s.markSeen(items, msgs)
	if seenChanged != nil && !hasItem(items, "FLAGS") {
		items = append(items, fetchItem{name: "FLAGS"})
	}
	items = s.condFetchItems(c, items, seenChanged != nil)
	f := fetcher{s: s}
	vanished, r := f.writeAll(idx, msgs, items)
	if r.status != "" {
		return r
	}
	return fetchDone(vanished)
}

// fetchItems are the items a FETCH answers before CONDSTORE adds its own:
// UID FETCH always tells the UID.
func (s *session) fetchItems(c *command) []fetchItem {
	items := c.fetch
	if c.uid && !hasItem(items, "UID") {
		items = append([]fetchItem{{name: "UID"}}, items...)
	}
	return items
}

// fetchDone is the tagged reply of a FETCH whose responses went out.
func fetchDone(vanished bool) reply {
	if vanished {
		// RFC 2180 §4.1.3: the others are answered, then a tagged NO;
		// the EXPUNGE comes once the client may be told (RFC 5530 §3).
		return no("EXPUNGEISSUED", "some of the requested messages no longer exist")
	}
	return ok("", "FETCH completed")
}

// fetchStreamChunk is how many messages a long FETCH reads at a time.
const fetchStreamChunk = 1000

// streams tells whether a FETCH goes out chunk by chunk: a long one that
// neither sets \Seen nor filters on CHANGEDSINCE, both of which act on
// the whole set at once. Reading every row before the first response
// kept the client waiting for all of them; chunk by chunk it parses the
// first responses while the server reads the next rows.
func streams(c *command, idx []int, chunk int) bool {
	if len(idx) <= chunk || c.cond.hasChangedSince {
		return false
	}
	for _, it := range c.fetch {
		if it.setsSeen() {
			return false
		}
	}
	return true
}

// fetchStream answers a FETCH that streams (see streams) chunk by chunk.
func (s *session) fetchStream(c *command, idx []int, chunkSize int) reply {
	items := s.condFetchItems(c, s.fetchItems(c), false)
	read := s.fetchRowReader(c.fetch)
	f := fetcher{s: s}
	vanished := false
	for start := 0; start < len(idx); start += chunkSize {
		chunk := idx[start:min(start+chunkSize, len(idx))]
		msgs, err := s.loadRows(chunk, read)
		if err != nil {
			return s.mapStoreErr(err, "FETCH")
		}
		gone, r := f.writeAll(chunk, msgs, items)
		if r.status != "" {
			return r
		}
		vanished = vanished || gone
	}
	return fetchDone(vanished)
}

// writeAll writes the FETCH responses of msgs (aligned with idx); gone
// tells that some message had vanished, and a reply with a status is the
// failure that ends the command.
func (f *fetcher) writeAll(idx []int, msgs []store.Message, items []fetchItem) (gone bool, failed reply) {
	s := f.s
	for i, m := range msgs {
		if m.UID == 0 {
			gone = true // expunged by another session meanwhile
			continue
		}
		// The expunge may also land between the metadata and the body:
		// read the body before the response starts, so that a vanished
		// message gets none rather than half of one.
		if err := f.readBodyFor(m, items); errors.Is(err, store.ErrNotFound) {
			gone = true
			continue
		} else if err != nil {
			s.log.Error("imap fetch", "uid", m.UID, "err", err)
			return gone, no("SERVERBUG", "FETCH failed for some messages")
		}
		if err := f.writeOne(uint32(idx[i]+1), m, items); err != nil {
			if errors.Is(err, errUnknownCTE) {
				return gone, no("UNKNOWN-CTE", "cannot decode this part")
			}
			s.log.Error("imap fetch", "uid", m.UID, "err", err)
			return gone, no("SERVERBUG", "FETCH failed for some messages")
		}
	}
	return gone, reply{}
}

// readsBody tells whether an item is rendered from the message's blob
// rather than from the metadata kept at delivery.
func readsBody(it fetchItem) bool {
	switch it.name {
	case "UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "EMAILID", "THREADID", "SAVEDATE",
		"PREVIEW", "MODSEQ", "ENVELOPE", "BODYSTRUCTURE", "BODY":
		return false
	}
	return true
}

func hasItem(items []fetchItem, name string) bool {
	for _, it := range items {
		if it.name == name {
			return true
		}
	}
	return false
}

// markSeen sets \Seen on messages fetched with a non-PEEK body item
// (RFC 9051 §6.4.5) and updates msgs in place.
func (s *session) markSeen(items []fetchItem, msgs []store.Message) []uint32 {
	if s.sel.readOnly || !s.sel.rights.Has(store.RightSeen) {
		return nil // RFC 4314 §4: \Seen is set only with "s"
	}
	sets := false
	for _, it := range items {
		sets = sets || it.setsSeen()
	}
	if !sets {
		return nil
	}
	var uids []uint32
	for _, m := range msgs {
		if m.UID != 0 && m.Flags&store.FlagSeen == 0 {
			uids = append(uids, m.UID)
		}
	}
	if len(uids) == 0 {
		return nil
	}
	res, err := s.srv.cfg.Store.UpdateFlags(s.ctx, s.sel.mbox.ID, uids, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen})
	if err != nil {
		s.log.Error("imap fetch: setting \\Seen", "err", err)
		return nil
	}
	changed := make(map[uint32]store.Message, len(res.Changed))
	for _, m := range res.Changed {
		changed[m.UID] = m
		s.sel.own[m.ModSeq] = struct{}{}
	}
	for i := range msgs {
		if cm, ok := changed[msgs[i].UID]; ok {
			msgs[i].Flags, msgs[i].Keywords, msgs[i].ModSeq = cm.Flags, cm.Keywords, cm.ModSeq
		}
	}
	return uids
}

// fetcher renders FETCH responses, reading each body at most once.
type fetcher struct {
	s       *session
	needSep bool
	raw     []byte
	root    *message.Part
	env     *message.Envelope
	scratch []byte // the last envelope rendered from its stored form
}

// readBodyFor reads m's body when some item needs it, for writeOne.
func (f *fetcher) readBodyFor(m store.Message, items []fetchItem) error {
	f.raw, f.root, f.env = nil, nil, nil
	for _, it := range items {
		if readsBody(it) {
			_, err := f.body(m)
			return err
		}
	}
	return nil
}

// writeOne writes m's FETCH response, with the body readBodyFor read.
func (f *fetcher) writeOne(seq uint32, m store.Message, items []fetchItem) error {
	if hasItem(items, "FLAGS") {
		f.s.announceKeywords(m.Keywords)
	}
	w := &f.s.w
	f.s.fetchStart(seq, m.UID)
	f.needSep = false
	for _, it := range items {
		if it.name == "UID" && f.s.uidOnly {
			continue // UIDFETCH names the message by its UID already
		}
		if err := f.writeItem(m, it); err != nil {
			w.str(")\r\n")
			return err
		}
	}
	w.str(")\r\n")
	return nil
}

// begin separates items; every item calls it once it can no longer fail,
// so a failed item leaves a well-formed response.
func (f *fetcher) begin() {
	if f.needSep {
		f.s.w.byte(' ')
	}
	f.needSep = true
}

func (f *fetcher) writeItem(m store.Message, it fetchItem) error {
	w := &f.s.w
	switch it.name {
	case "UID":
		f.begin()
		w.str("UID ")
		w.num(uint64(m.UID))
	case "FLAGS":
		f.begin()
		w.str("FLAGS ")
		w.flagList(f.s.flagNames(m))
	case "INTERNALDATE":
		f.begin()
		w.str("INTERNALDATE ")
		w.dateTime(m.InternalDate)
	case "RFC822.SIZE":
		f.begin()
		w.str("RFC822.SIZE ")
		w.num(uint64(m.Size))
	case "EMAILID": // RFC 8474 §5.1: the JMAP id, kept across moves
		f.begin()
		w.str("EMAILID (e")
		w.num(uint64(m.ID))
		w.byte(')')
	case "THREADID": // RFC 8474 §5.2
		f.begin()
		w.str("THREADID (t")
		w.num(uint64(m.ThreadID))
		w.byte(')')
	case "SAVEDATE": // RFC 8514 §4.1: NIL when not known
		f.begin()
		w.str("SAVEDATE ")
		if m.SaveDate.IsZero() {
			w.str("NIL")
		} else {
			w.dateTime(m.SaveDate)
		}
	case "PREVIEW": // RFC 8970 §3: the preview kept at delivery
		f.begin()
		w.str("PREVIEW ")
		w.nstring(m.Preview)
	case "MODSEQ": // RFC 7162 §3.1.4.1
		f.begin()
		w.str("MODSEQ (")
		w.num(m.ModSeq)
		w.byte(')')
	case "ENVELOPE":
		if f.env == nil {
			if out, ok := appendStoredEnvelope(f.scratch[:0], m.Envelope); ok {
				f.scratch = out
				f.begin()
				w.str("ENVELOPE ")
				w.buf().Write(out)
				return nil
			}
		}
		env, err := f.envelope(m)
		if err != nil {
			return err
		}
		f.begin()
		w.str("ENVELOPE ")
		w.envelope(env)
	case "BODYSTRUCTURE", "BODY":
		root, err := f.structure(m)
		if err != nil {
			return err
		}
		f.begin()
		w.str(it.name)
		w.byte(' ')
		w.bodyStructure(root, it.name == "BODYSTRUCTURE", 0)
	case "BINARY[]", "BINARY.SIZE":
		return f.writeBinary(m, it)
	default:
		return f.writeSection(m, it)
	}
	return nil
}

func (f *fetcher) envelope(m store.Message) (*message.Envelope, error) {
	if f.env != nil {
		return f.env, nil
	}
	if env, err := message.UnmarshalEnvelope(m.Envelope); err == nil {
		f.env = env
		return env, nil
	}
	// No usable stored form: parse the body once. A row of a message list
	// (MessageEnvelopes, no ID) does not name its body: read it whole.
	if m.ID == 0 {
		full, err := f.s.srv.cfg.Store.Messages(f.s.ctx, m.MailboxID, m.UID, m.UID)
		if err != nil {
			return nil, err
		}
		if len(full) != 1 {
			return nil, fmt.Errorf("message uid %d vanished", m.UID)
		}
		m = full[0]
	}
	if err := f.parse(m); err != nil {
		return nil, err
	}
	return f.env, nil
}

func (f *fetcher) structure(m store.Message) (*message.Part, error) {
	if f.root != nil {
		return f.root, nil
	}
	if root, err := message.UnmarshalBody(m.BodyStructure); err == nil {
		f.root = root
		return root, nil
	}
	if err := f.parse(m); err != nil {
		return nil, err
	}
	return f.root, nil
}

func (f *fetcher) parse(m store.Message) error {
	raw, err := f.body(m)
	if err != nil {
		return err
	}
	p, err := message.Parse(bytes.NewReader(raw), message.DefaultLimits())
	if err != nil {
		return err
	}
	f.root, f.env = p.Body, p.Envelope
	return nil
}

func (f *fetcher) body(m store.Message) ([]byte, error) {
	if f.raw != nil {
		return f.raw, nil
	}
	rc, err := f.s.srv.cfg.Store.OpenBlob(f.s.ctx, m.BlobID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, max(m.Size, 0)+1))
	if _, err := io.Copy(buf, rc); err != nil {
		return nil, err
	}
	f.raw = buf.Bytes()
	return f.raw, nil
}

// writeSection writes BODY[...] and the RFC822 items (RFC 9051 §6.4.5).
func (f *fetcher) writeSection(m store.Message, it fetchItem) error {
	raw, err := f.body(m)
	if err != nil {
		return err
	}
	sec := it.section
	switch it.name {
	case "RFC822.HEADER":
		sec = section{spec: "HEADER"}
	case "RFC822.TEXT":
		sec = section{spec: "TEXT"}
	}
	data := raw
	if sec.spec != "" || len(sec.part) > 0 {
		root, err := f.structure(m)
		if err != nil {
			return err
		}
		data = sectionBytes(raw, root, sec)
	}
	w := &f.s.w
	f.begin()
	switch it.name {
	case "RFC822", "RFC822.HEADER", "RFC822.TEXT":
		w.str(it.name)
		w.byte(' ')
	default:
		w.str("BODY[")
		w.str(sec.String())
		w.byte(']')
		if it.partial {
			w.byte('<')
			w.num(uint64(it.start))
			w.byte('>')
			data = partial(data, it.start, it.count)
		}
		w.byte(' ')
	}
	w.literal(data)
	return nil
}

func partial(b []byte, start, count int64) []byte {
	if start >= int64(len(b)) {
		return nil
	}
	b = b[start:]
	if count < int64(len(b)) {
		b = b[:count]
	}
	return b
}
