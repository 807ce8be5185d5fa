package query

import "slices"

// threadReferences implements REFERENCES (RFC 5256 §3); tms are in
// mailbox order.
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
