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

// Algorithm is a threading algorithm of RFC 5256 §3.
type Algorithm uint8

const (
	// OrderedSubject groups messages by base subject, each group under
	// its earliest message.
	OrderedSubject Algorithm = iota + 1
	// References links messages by their References and In-Reply-To
	// fields, then joins threads by base subject.
	References
)

// ThreadNode is one node of a thread: a message, or (UID 0) a placeholder
// for a message that is missing but ties its children together (a
// "dummy", RFC 5256 §3). Children are ordered by sent date.
type ThreadNode struct {
	UID      uint32
	Children []*ThreadNode
}

// maxRefs bounds the message IDs taken from one References field.
const maxRefs = 256

// threadMsg is what threading needs of one message.
type threadMsg struct {
	pos     int // in mailbox order, which breaks ties of dates
	uid     uint32
	date    time.Time // sent date (RFC 5256 §2.2)
	subject string    // collation key of the base subject
	reply   bool      // the subject marked a reply or forward
	msgID   string
	refs    []string
}

// tnode is a container of the threading algorithms; msg is nil for a
// dummy.
type tnode struct {
	msg    *threadMsg
	parent *tnode
	kids   []*tnode
}

// Thread returns the messages of q that match its criteria as threads,
// ordered by the sent date of their first message (RFC 5256 §3). It reads
// the messages' envelopes and, for References, the store's References
// fields of the mailbox.
func Thread(ctx context.Context, st Store, q Query, alg Algorithm) ([]*ThreadNode, error) {
	if alg != OrderedSubject && alg != References {
		return nil, fmt.Errorf("query: unknown thread algorithm %d: %w", alg, store.ErrInvalid)
	}
	msgs, err := Search(ctx, st, q, LoadFull)
	if err != nil {
		return nil, err
	}
	var refs map[uint32]string
	if alg == References {
		if refs, err = st.References(ctx, q.MailboxID); err != nil {
			return nil, err
		}
	}
	tms := make([]*threadMsg, len(msgs))
	for i := range msgs {
		tms[i] = newThreadMsg(ctx, st, &msgs[i], i, refs)
	}
	if alg == References {
		return toNodes(threadReferences(tms)), nil
	}
	return toNodes(threadOrderedSubject(tms)), nil
}

// newThreadMsg takes what threading needs from m. With refs (References
// threading), message IDs are compared folded, as the store may fold the
// References values: a departure from RFC 5256 §3 (case-sensitive) that
// only merges IDs differing in nothing but case.
func newThreadMsg(ctx context.Context, st Store, m *store.Message, pos int, refs map[uint32]string) *threadMsg {
	env := envelope(ctx, st, m)
	base, reply := message.BaseSubject(env.DecodedSubject())
	tm := &threadMsg{pos: pos, uid: m.UID, date: sentDate(env, m), subject: casemapKey(base), reply: reply}
	if refs == nil {
		return tm
	}
	tm.msgID = store.FoldText(firstMsgID(env.MessageID))
	tm.refs = parseMsgIDs(store.FoldText(refs[m.UID]))
	if len(tm.refs) == 0 {
		// RFC 5256 §3: without usable References, the first valid ID of
		// In-Reply-To is the only reference.
		if id := firstMsgID(env.InReplyTo); id != "" {
			tm.refs = []string{store.FoldText(id)}
		}
	}
	return tm
}

// toNodes turns the containers of an algorithm into the result.
func toNodes(roots []*tnode) []*ThreadNode {
	out := make([]*ThreadNode, len(roots))
	for i, r := range roots {
		n := &ThreadNode{}
		if r.msg != nil {
			n.UID = r.msg.uid
		}
		if len(r.kids) > 0 {
			n.Children = toNodes(r.kids)
		}
		out[i] = n
	}
	return out
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

// compareSent orders by sent date, then by mailbox order (RFC 5256 §3:
// sequence order).
func compareSent(a, b *threadMsg) int {
	if r := a.date.Compare(b.date); r != 0 {
		return r
	}
	return cmp.Compare(a.pos, b.pos)
}
