package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"postern/internal/message"
	"postern/internal/store"
)

// Search returns the messages of q that match its criteria, in UID
// order, carrying at least what load asks (more when the criteria needed
// more). Text criteria cost one store search each, for the whole mailbox;
// the others are decided on the listing, which is read only as far as
// some criterion needs: UIDs alone, the light listing, or (for Sent
// dates) whole rows with their envelopes.
//
// With LoadUID and criteria that need nothing of a message (UIDs, text),
// a UID of q.UIDs that the store no longer has can match: it stays in the
// caller's view until the caller learns of the expunge.
func Search(ctx context.Context, st Store, q Query, load Load) ([]store.Message, error) {
	root, err := compile(q.Criteria)
	if err != nil {
		return nil, err
	}
	if err := root.searchText(ctx, st, q.MailboxID); err != nil {
		return nil, err
	}
	msgs, err := list(ctx, st, q, max(load, root.need()))
	if err != nil {
		return nil, err
	}
	ev := evaluator{ctx: ctx, st: st}
	out := msgs[:0]
	for i := range msgs {
		ev.env = nil
		if ev.match(root, &msgs[i]) {
			out = append(out, msgs[i])
		}
	}
	return out, nil
}

// kind is what a compiled node tests.
type kind uint8

const (
	kAnd kind = iota
	kOr
	kNot
	kFlag
	kKeyword
	kDate
	kSize
	kUIDs
	kModSeq
	kText
	kIDs
	kAttachment
)

// node is a compiled Criterion: checked once, with the answers of its
// text search attached.
type node struct {
	kind  kind
	kids  []*node
	flags store.Flags
	name  string
	date  Date
	size  Size
	uids  UIDSet // normalised: ascending, disjoint
	min   uint64
	text  store.TextQuery
	hits  []uint32 // the store's answer to text, ascending
	ids   MessageIDs
}

// maxDepth bounds the nesting of criteria, which evaluation recurses on.
const maxDepth = 1000

func compile(c Criterion) (*node, error) { return compileAt(c, 0) }

func compileAt(c Criterion, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("query: criteria nested too deep: %w", store.ErrInvalid)
	}
	var n *node
	switch c := c.(type) {
	case nil:
		return &node{kind: kAnd}, nil
	case And:
		return compileKids(kAnd, c, depth)
	case Or:
		return compileKids(kOr, c, depth)
	case Not:
		return compileKids(kNot, []Criterion{c.C}, depth)
	case Flag:
		n = &node{kind: kFlag, flags: c.Flags}
	case Keyword:
		n = &node{kind: kKeyword, name: c.Name}
	case Date:
		if c.Field < Received || c.Field > Sent || c.Op < Before || c.Op > Since {
			return nil, fmt.Errorf("query: bad date criterion %+v: %w", c, store.ErrInvalid)
		}
		n = &node{kind: kDate, date: c}
	case Size:
		if c.Op != Larger && c.Op != Smaller {
			return nil, fmt.Errorf("query: bad size criterion %+v: %w", c, store.ErrInvalid)
		}
		n = &node{kind: kSize, size: c}
	case UIDSet:
		n = &node{kind: kUIDs, uids: normalise(c)}
	case ModSeq:
		n = &node{kind: kModSeq, min: c.Min}
	case Text:
		n = &node{kind: kText, text: store.TextQuery(c)}
	case MessageIDs:
		n = &node{kind: kIDs, ids: c}
	case Attachment:
		n = &node{kind: kAttachment}
	default:
		return nil, fmt.Errorf("query: unknown criterion %T: %w", c, store.ErrInvalid)
	}
	return n, nil
}

func compileKids(k kind, cs []Criterion, depth int) (*node, error) {
	n := &node{kind: k, kids: make([]*node, len(cs))}
	for i, c := range cs {
		kid, err := compileAt(c, depth+1)
		if err != nil {
			return nil, err
		}
		n.kids[i] = kid
	}
	return n, nil
}

// normalise sorts a UID set and merges overlapping and adjacent ranges,
// so that membership is a binary search.
func normalise(set UIDSet) UIDSet {
	out := make(UIDSet, 0, len(set))
	for _, r := range set {
		if r.First > r.Last {
			r.First, r.Last = r.Last, r.First
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b UIDRange) int { return cmp.Compare(a.First, b.First) })
	merged := out[:0]
	for _, r := range out {
		if l := len(merged) - 1; l >= 0 && uint64(r.First) <= uint64(merged[l].Last)+1 {
			merged[l].Last = max(merged[l].Last, r.Last)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

func (s UIDSet) has(uid uint32) bool {
	i, _ := slices.BinarySearchFunc(s, uid, func(r UIDRange, u uint32) int {
		switch {
		case r.Last < u:
			return -1
		case r.First > u:
			return 1
		}
		return 0
	})
	return i < len(s) && s[i].First <= uid && uid <= s[i].Last
}

// need is how much of the listing evaluating n reads.
func (n *node) need() Load {
	switch n.kind {
	case kAnd, kOr, kNot:
		l := LoadUID
		for _, k := range n.kids {
			l = max(l, k.need())
		}
		return l
	case kUIDs, kText:
		return LoadUID
	case kDate:
		if n.date.Field == Sent {
			return LoadFull
		}
	case kAttachment:
		return LoadFull
	}
	return LoadFlags
}

// searchText asks the store for the answer of every text node.
func (n *node) searchText(ctx context.Context, st Store, mailboxID int64) error {
	for _, k := range n.kids {
		if err := k.searchText(ctx, st, mailboxID); err != nil {
			return err
		}
	}
	if n.kind != kText {
		return nil
	}
	hits, err := st.SearchText(ctx, mailboxID, n.text)
	n.hits = hits
	return err
}

// list reads the messages of q as far as load asks, in UID order; with a
// view (q.UIDs), only messages in it.
func list(ctx context.Context, st Store, q Query, load Load) ([]store.Message, error) {
	if load == LoadUID {
		uids := q.UIDs
		if uids == nil {
			var err error
			if uids, err = st.MessageUIDs(ctx, q.MailboxID); err != nil {
				return nil, err
			}
		}
		msgs := make([]store.Message, len(uids))
		for i, u := range uids {
			msgs[i].UID = u
		}
		return msgs, nil
	}
	from, to := uint32(1), uint32(0) // 0: no upper bound
	if q.UIDs != nil {
		if len(q.UIDs) == 0 {
			return nil, nil
		}
		from, to = q.UIDs[0], q.UIDs[len(q.UIDs)-1]
	}
	read := st.MessageFlags
	if load == LoadFull {
		read = st.Messages
	}
	msgs, err := read(ctx, q.MailboxID, from, to)
	if err != nil || q.UIDs == nil {
		return msgs, err
	}
	return inView(msgs, q.UIDs), nil
}

// inView keeps the messages whose UIDs are in view; both are ascending.
func inView(msgs []store.Message, view []uint32) []store.Message {
	out := msgs[:0]
	j := 0
	for i := range msgs {
		for j < len(view) && view[j] < msgs[i].UID {
			j++
		}
		if j < len(view) && view[j] == msgs[i].UID {
			out = append(out, msgs[i])
		}
	}
	return out
}

// evaluator matches one message at a time; env is its envelope once
// decoded, shared by the criteria that need it.
type evaluator struct {
	ctx context.Context
	st  Store
	env *message.Envelope
}

func (ev *evaluator) match(n *node, m *store.Message) bool {
	switch n.kind {
	case kAnd:
		for _, k := range n.kids {
			if !ev.match(k, m) {
				return false
			}
		}
		return true
	case kOr:
		for _, k := range n.kids {
			if ev.match(k, m) {
				return true
			}
		}
		return false
	case kNot:
		return !ev.match(n.kids[0], m)
	case kFlag:
		return m.Flags&n.flags == n.flags
	case kKeyword:
		return slices.ContainsFunc(m.Keywords, func(kw string) bool { return strings.EqualFold(kw, n.name) })
	case kDate:
		return ev.matchDate(n.date, m)
	case kSize:
		if n.size.Op == Larger {
			return m.Size > n.size.Bytes
		}
		return m.Size < n.size.Bytes
	case kUIDs:
		return n.uids.has(m.UID)
	case kModSeq:
		return m.ModSeq >= n.min
	case kText:
		_, found := slices.BinarySearch(n.hits, m.UID)
		return found
	case kIDs:
		return n.ids[m.ID]
	case kAttachment:
		root, err := message.UnmarshalBody(m.BodyStructure)
		if err != nil {
			root = parsedBody(ev.ctx, ev.st, m)
		}
		return root.HasAttachment()
	}
	return false
}

func (ev *evaluator) matchDate(d Date, m *store.Message) bool {
	t := m.InternalDate
	if d.Field == Sent {
		if ev.env == nil {
			ev.env = envelope(ev.ctx, ev.st, m)
		}
		var ok bool
		if t, ok = ev.env.Time(); !ok {
			return false
		}
	}
	var r int
	if d.Calendar {
		r = dayOf(t).Compare(dayOf(d.Time))
	} else {
		r = t.Compare(d.Time)
	}
	switch d.Op {
	case Before:
		return r < 0
	case On:
		return r == 0
	}
	return r >= 0
}

// dayOf keeps the calendar date of t in its own zone.
func dayOf(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

// envelope decodes the cached envelope of m, or parses the body when the
// cache is missing or unreadable (a message stored before it was kept);
// an empty envelope when neither works.
func envelope(ctx context.Context, st Store, m *store.Message) *message.Envelope {
	if env, err := message.UnmarshalEnvelope(m.Envelope); err == nil {
		return env
	}
	rc, err := st.OpenBlob(ctx, m.BlobID)
	if err != nil {
		return &message.Envelope{}
	}
	defer rc.Close()
	p, err := message.Parse(rc, message.DefaultLimits())
	if err != nil || p.Envelope == nil {
		return &message.Envelope{}
	}
	return p.Envelope
}

// parsedBody parses the body structure of m from its body, when the cache
// is missing or unreadable; nil when that fails too.
func parsedBody(ctx context.Context, st Store, m *store.Message) *message.Part {
	rc, err := st.OpenBlob(ctx, m.BlobID)
	if err != nil {
		return nil
	}
	defer rc.Close()
	p, err := message.Parse(rc, message.DefaultLimits())
	if err != nil {
		return nil
	}
	return p.Body
}
