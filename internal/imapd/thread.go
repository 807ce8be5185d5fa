package imapd

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"postern/internal/store"
)

// maxRefs bounds the message IDs taken from one References field.
const maxRefs = 256

// threadMsg is what threading needs of one message.
type threadMsg struct {
	seq, uid uint32
	date     time.Time // sent date (RFC 5256 §2.2)
	subject  string    // collation key of the base subject
	reply    bool      // the subject marked a reply or forward
	msgID    string
	refs     []string
}

// tnode is a container of the REFERENCES algorithm; msg is nil for a
// dummy.
type tnode struct {
	msg    *threadMsg
	parent *tnode
	kids   []*tnode
}

func (s *session) cmdThread(c *command) reply {
	if c.badCharset {
		return badCharsetReply()
	}
	seqs, msgs, err := s.searchMatches(c, true)
	if err != nil {
		return s.mapStoreErr(err, "THREAD")
	}
	tms := make([]*threadMsg, len(seqs))
	sc := &searchCtx{s: s}
	var refs *refSource
	if c.threadAlg == "REFERENCES" {
		if refs, err = s.references(); err != nil {
			return s.mapStoreErr(err, "THREAD")
		}
	}
	for i := range seqs {
		m := &msgs[i]
		env := sc.envelope(m, &msgMemo{})
		base, reply := baseSubject(env.DecodedSubject())
		tm := &threadMsg{seq: seqs[i], uid: m.UID, date: sentDate(env, m), subject: casemapKey(base), reply: reply}
		if refs != nil {
			tm.msgID = store.FoldText(firstMsgID(env.MessageID))
			tm.refs = parseMsgIDs(refs.field(s, m))
			if len(tm.refs) == 0 {
				// RFC 5256 §3: without usable References, the first valid
				// ID of In-Reply-To is the only reference.
				if id := firstMsgID(env.InReplyTo); id != "" {
					tm.refs = []string{store.FoldText(id)}
				}
			}
		}
		tms[i] = tm
	}
	var roots []*tnode
	if c.threadAlg == "REFERENCES" {
		roots = threadReferences(tms)
	} else {
		roots = threadOrderedSubject(tms)
	}
	// RFC 5256 §5: thread-data = "THREAD" [SP 1*thread-list]
	var b strings.Builder
	b.WriteString("* THREAD")
	if len(roots) > 0 {
		b.WriteByte(' ')
	}
	for _, r := range roots {
		writeThread(&b, r, c.uid)
	}
	s.w.str(b.String())
	s.w.crlf()
	return ok("", "THREAD completed")
}

// refSource holds the References fields of the mailbox, from one store
// call. The store may return them folded, so message IDs are compared
// folded: a departure from RFC 5256 §3 (case-sensitive) that only merges
// IDs differing in nothing but case.
type refSource struct {
	fields map[uint32]string
}

func (s *session) references() (*refSource, error) {
	fields, err := s.srv.cfg.Store.References(s.ctx, s.sel.mbox.ID)
	if err != nil {
		return nil, err
	}
	return &refSource{fields: fields}, nil
}

// field is the folded References field of m, "" when it has none.
func (rs *refSource) field(_ *session, m *store.Message) string {
	return store.FoldText(rs.fields[m.UID])
}

// parseMsgIDs returns the valid message IDs of a field, in order. A
// valid ID is "<" id-left "@" id-right ">" without white space (RFC 5322
// §3.6.4); the comparison of IDs is case-sensitive (RFC 5256 §3).
func parseMsgIDs(field string) []string {
	var ids []string
	for len(ids) < maxRefs {
		i := strings.IndexByte(field, '<')
		if i < 0 {
			break
		}
		field = field[i+1:]
		j := strings.IndexAny(field, "<>")
		if j < 0 {
			break
		}
		if field[j] == '>' {
			if id := field[:j]; validMsgID(id) {
				ids = append(ids, id)
			}
			field = field[j+1:]
		}
	}
	return ids
}

func validMsgID(id string) bool {
	at := strings.IndexByte(id, '@')
	return at > 0 && at < len(id)-1 && !strings.ContainsAny(id, " \t\r\n")
}

func firstMsgID(field string) string {
	if ids := parseMsgIDs(field); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// threadOrderedSubject implements ORDEREDSUBJECT (RFC 5256 §3): messages
// with the same base subject form one thread in sent-date order, the
// first the parent of all others; threads are ordered by their first
// message.
func threadOrderedSubject(tms []*threadMsg) []*tnode {
	sorted := slices.Clone(tms)
	slices.SortFunc(sorted, func(a, b *threadMsg) int {
		if r := strings.Compare(a.subject, b.subject); r != 0 {
			return r
		}
		return compareSent(a, b)
	})
	var roots []*tnode
	for i := 0; i < len(sorted); {
		root := &tnode{msg: sorted[i]}
		j := i + 1
		for ; j < len(sorted) && sorted[j].subject == sorted[i].subject; j++ {
			root.kids = append(root.kids, &tnode{msg: sorted[j], parent: root})
		}
		roots = append(roots, root)
		i = j
	}
	slices.SortStableFunc(roots, func(a, b *tnode) int { return compareSent(a.msg, b.msg) })
	return roots
}

// compareSent orders by sent date, then by sequence number.
func compareSent(a, b *threadMsg) int {
	if r := a.date.Compare(b.date); r != 0 {
		return r
	}
	return cmp.Compare(a.seq, b.seq)
}

// writeThread writes one thread-list (RFC 5256 §5): a chain of single
// children as numbers, several children as nested lists; a dummy adds no
// number.
func writeThread(b *strings.Builder, n *tnode, uid bool) {
	b.WriteByte('(')
	first := true
	for {
		if n.msg != nil {
			if !first {
				b.WriteByte(' ')
			}
			first = false
			if uid {
				b.WriteString(itoa(int64(n.msg.uid)))
			} else {
				b.WriteString(itoa(int64(n.msg.seq)))
			}
		}
		if len(n.kids) != 1 || n.msg == nil {
			break
		}
		n = n.kids[0]
	}
	if len(n.kids) > 0 && !first {
		b.WriteByte(' ')
	}
	for _, k := range n.kids {
		writeThread(b, k, uid)
	}
	b.WriteByte(')')
}

// threadReferences implements REFERENCES (RFC 5256 §3); tms are in
// sequence order.
func threadReferences(tms []*threadMsg) []*tnode {
	byID := map[string]*tnode{}
	var all []*tnode // containers in creation order, for a stable root set
	get := func(id string) *tnode {
		n := byID[id]
		if n == nil {
			n = &tnode{}
			byID[id] = n
			all = append(all, n)
		}
		return n
	}
	for _, tm := range tms {
		// Step 1: a missing or duplicate Message-ID gets a unique one,
		// which is simply a container of its own.
		var own *tnode
		if c := byID[tm.msgID]; tm.msgID != "" && (c == nil || c.msg == nil) {
			own = get(tm.msgID)
		} else {
			own = &tnode{}
			all = append(all, own)
		}
		own.msg = tm
		// Step 1A: link the references as a chain, keeping existing
		// parents and refusing loops.
		var prev *tnode
		for _, id := range tm.refs {
			c := get(id)
			if prev != nil && c.parent == nil && canLink(prev, c) {
				link(prev, c)
			}
			prev = c
		}
		// Step 1B: the last reference is the parent, replacing any link
		// a truncated References field of another message made.
		if own.parent != nil {
			unlink(own)
		}
		if prev != nil && canLink(prev, own) {
			link(prev, own)
		}
	}
	// Step 2: the root set.
	root := &tnode{}
	for _, n := range all {
		if n.parent == nil {
			root.kids = append(root.kids, n)
		}
	}
	root.kids = prune(root.kids, true)
	for _, k := range root.kids {
		k.parent = root
	}
	// Step 4: order the root set by date (a dummy by its first child).
	for _, k := range root.kids {
		if k.msg == nil {
			sortSiblings(k.kids)
		}
	}
	sortSiblings(root.kids)
	groupBySubject(root)
	sortTree(root)
	return root.kids
}

// canLink tells whether making p the parent of c keeps the graph a
// forest: p must not be c or one of its descendants.
func canLink(p, c *tnode) bool {
	for a := p; a != nil; a = a.parent {
		if a == c {
			return false
		}
	}
	return true
}

func link(p, c *tnode) {
	c.parent = p
	p.kids = append(p.kids, c)
}

func unlink(c *tnode) {
	p := c.parent
	p.kids = slices.DeleteFunc(p.kids, func(k *tnode) bool { return k == c })
	c.parent = nil
}

// prune drops dummies without children and splices the children of other
// dummies into their place, except that at the root only a dummy with a
// single child gives it up (RFC 5256 §3 step 3).
func prune(kids []*tnode, atRoot bool) []*tnode {
	var out []*tnode
	for _, k := range kids {
		k.kids = prune(k.kids, false)
		for _, g := range k.kids {
			g.parent = k
		}
		switch {
		case k.msg != nil:
			out = append(out, k)
		case len(k.kids) == 0:
		case !atRoot || len(k.kids) == 1:
			out = append(out, k.kids...)
		default:
			out = append(out, k)
		}
	}
	return out
}

// threadSubject is the base subject of a thread: its root's, or for a
// dummy its first child's.
func threadSubject(n *tnode) string {
	if n.msg == nil {
		if len(n.kids) == 0 || n.kids[0].msg == nil {
			return ""
		}
		return n.kids[0].msg.subject
	}
	return n.msg.subject
}

// groupBySubject merges threads of the root set that share a base
// subject (RFC 5256 §3 step 5). Merged roots are dropped from the root
// set at the end, keeping this linear in the number of threads.
func groupBySubject(root *tnode) {
	table := map[string]*tnode{}
	for _, k := range root.kids {
		subj := threadSubject(k)
		if subj == "" {
			continue
		}
		t := table[subj]
		if t == nil || t.msg != nil && (k.msg == nil || t.msg.reply && !k.msg.reply) {
			table[subj] = k
		}
	}
	pos := make(map[*tnode]int, len(root.kids))
	for i, k := range root.kids {
		pos[k] = i
	}
	gone := make([]bool, len(root.kids))
	for i, k := range slices.Clone(root.kids) {
		subj := threadSubject(k)
		t := table[subj]
		if subj == "" || t == k || k.parent != root {
			continue // no subject, the table's own, or already merged
		}
		gone[i] = true
		switch {
		case t.msg == nil && k.msg == nil:
			for _, g := range k.kids {
				g.parent = t
			}
			t.kids = append(t.kids, k.kids...)
			k.kids = nil
		case t.msg == nil, k.msg != nil && k.msg.reply && !t.msg.reply:
			link(t, k)
		default:
			d := &tnode{parent: root}
			root.kids[pos[t]], pos[d] = d, pos[t]
			link(d, t)
			link(d, k)
			table[subj] = d
		}
	}
	kept := root.kids[:0]
	for i, k := range root.kids {
		if !gone[i] {
			kept = append(kept, k)
		}
	}
	root.kids = kept
}

// sortTree orders every set of siblings by sent date, deepest first, so
// that a dummy can take the date of its (sorted) first child (step 6).
func sortTree(n *tnode) {
	for _, k := range n.kids {
		sortTree(k)
	}
	sortSiblings(n.kids)
}

func sortSiblings(kids []*tnode) {
	slices.SortStableFunc(kids, func(a, b *tnode) int { return compareSent(firstMsg(a), firstMsg(b)) })
}

// firstMsg is the message a node sorts by: its own, or a dummy's first
// child's.
func firstMsg(n *tnode) *threadMsg {
	for n.msg == nil && len(n.kids) > 0 {
		n = n.kids[0]
	}
	if n.msg == nil {
		return &threadMsg{}
	}
	return n.msg
}
