package jmapmail

import (
	"context"
	"sync"

	"postern/internal/store"
)

// listTotals remembers, per mailbox, how many emails and how many
// conversations it holds, as of one state of the mailbox (its highest
// modseq): the webmail asks for the total with every page it reads while
// scrolling, and counting a 100,000-message mailbox each time would cost
// more than the page.
type listTotals struct {
	mu      sync.Mutex
	entries map[listTotalKey]listTotal
}

type listTotalKey struct {
	mailbox  int64
	collapse bool
}

type listTotal struct {
	modseq uint64
	n      int64
}

// maxListTotals bounds the mailboxes remembered; past it the memory starts
// afresh.
const maxListTotals = 4096

// count is the number of emails (or, collapsing, of conversations) of the
// mailbox now.
func (t *listTotals) count(ctx context.Context, st store.Store, mailbox int64, collapse bool) (int64, error) {
	modseq, err := st.HighestModSeq(ctx, mailbox)
	if err != nil {
		return 0, err
	}
	key := listTotalKey{mailbox, collapse}
	t.mu.Lock()
	if e, ok := t.entries[key]; ok && e.modseq == modseq {
		t.mu.Unlock()
		return e.n, nil
	}
	t.mu.Unlock()
	var n int64
	var seen map[int64]bool
	if collapse {
		seen = map[int64]bool{}
	}
	err = st.MessagesByDate(ctx, mailbox, true, nil, func(m store.Message) bool {
		if seen != nil {
			if seen[m.ThreadID] {
				return true
			}
			seen[m.ThreadID] = true
		}
		n++
		return true
	})
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil || len(t.entries) >= maxListTotals {
		t.entries = map[listTotalKey]listTotal{}
	}
	t.entries[key] = listTotal{modseq: modseq, n: n}
	return n, nil
}
