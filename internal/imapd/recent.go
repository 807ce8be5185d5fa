package imapd

import (
	"context"
	"slices"
	"sort"
	"sync"

	"postern/internal/query"
	"postern/internal/store"
)

// \Recent (RFC 3501 §2.3.2): a message is recent to exactly one session,
// the first to select its mailbox (or to be told of it while the mailbox
// is selected) after it arrived. IMAP4rev2 dropped the flag; IMAP4rev1
// clients and imaptest still read it.
//
// Each mailbox has a watermark, the highest UID some session has taken as
// recent: the UIDs above it are the recent ones still to hand out. The
// watermark lives here for the mailboxes in use and in the store for the
// others. It is written to the store when a SELECT takes messages, and
// for the mailbox's later takes when the server shuts down; a crash in
// between only makes those messages recent once more.

// recentClaims is the server's table of watermarks.
type recentClaims struct {
	mu  sync.Mutex
	top map[int64]uint32 // mailbox id -> watermark, once read from the store
	// unsaved are watermarks moved since they were last written.
	unsaved map[int64]uint32
}

// load returns the watermark of a mailbox, reading the store once.
func (r *recentClaims) load(ctx context.Context, st store.Mailstore, mailboxID int64) (uint32, error) {
	r.mu.Lock()
	top, ok := r.top[mailboxID]
	r.mu.Unlock()
	if ok {
		return top, nil
	}
	stored, err := st.RecentUID(ctx, mailboxID)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.top == nil {
		r.top = map[int64]uint32{}
	}
	if top, ok := r.top[mailboxID]; ok { // another session was quicker
		return top, nil
	}
	r.top[mailboxID] = stored
	return stored, nil
}

// take moves the watermark of a loaded mailbox up to upTo and returns
// where it was: the UIDs in (from, upTo] are the caller's recent ones.
func (r *recentClaims) take(mailboxID int64, upTo uint32) (from uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	from = r.top[mailboxID]
	if upTo > from {
		r.top[mailboxID] = upTo
		if r.unsaved == nil {
			r.unsaved = map[int64]uint32{}
		}
		r.unsaved[mailboxID] = upTo
	}
	return from
}

// peek returns the watermark of a loaded mailbox.
func (r *recentClaims) peek(mailboxID int64) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.top[mailboxID]
}

// save writes the moved watermark of one mailbox (id > 0), or of all
// (id 0), to the store.
func (r *recentClaims) save(ctx context.Context, st store.Mailstore, mailboxID int64) error {
	r.mu.Lock()
	pending := map[int64]uint32{}
	for id, uid := range r.unsaved {
		if mailboxID == 0 || id == mailboxID {
			pending[id] = uid
			delete(r.unsaved, id)
		}
	}
	r.mu.Unlock()
	var first error
	for id, uid := range pending {
		if err := st.SetRecentUID(ctx, id, uid); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// takeRecent hands this session the messages of its view above the
// mailbox's watermark: all of them at SELECT, the new ones later. EXAMINE
// (peek) shows them as recent without taking them, so the next SELECT
// sees them recent too.
//
// What a take hands out is a suffix of the view, so the session keeps UID
// ranges rather than one entry per message: counting them after every
// command is then a few binary searches, not a walk over ten thousand
// UIDs of a freshly selected mailbox.
func (s *session) takeRecent(sel *selected, peek bool) {
	if len(sel.uids) == 0 {
		return
	}
	top := sel.uids[len(sel.uids)-1]
	var from uint32
	if peek {
		from = s.srv.recent.peek(sel.mbox.ID)
	} else {
		from = s.srv.recent.take(sel.mbox.ID, top)
	}
	if top <= from {
		return
	}
	i := sort.Search(len(sel.uids), func(i int) bool { return sel.uids[i] > from })
	sel.addRecent(query.UIDRange{First: sel.uids[i], Last: top})
}

// addRecent adds r to the session's recent ranges. The view only grows at
// its end, so r ends at or above every range kept; it may overlap the last
// ones (EXAMINE peeks at the same watermark again), which it absorbs.
func (sel *selected) addRecent(r query.UIDRange) {
	for n := len(sel.recent); n > 0 && sel.recent[n-1].Last+1 >= r.First; n = len(sel.recent) {
		r.First = min(r.First, sel.recent[n-1].First)
		r.Last = max(r.Last, sel.recent[n-1].Last)
		sel.recent = sel.recent[:n-1]
	}
	sel.recent = append(sel.recent, r)
}

// isRecent tells whether uid is recent to the session.
func (sel *selected) isRecent(uid uint32) bool {
	i := sort.Search(len(sel.recent), func(i int) bool { return sel.recent[i].Last >= uid })
	return i < len(sel.recent) && sel.recent[i].First <= uid
}

// recentCount is how many messages of the view are recent to the session:
// an expunged one no longer counts.
func (sel *selected) recentCount() int {
	n := 0
	for _, r := range sel.recent {
		lo := sort.Search(len(sel.uids), func(i int) bool { return sel.uids[i] >= r.First })
		hi := sort.Search(len(sel.uids), func(i int) bool { return sel.uids[i] > r.Last })
		n += hi - lo
	}
	return n
}

// recentSet is the search criterion of the messages recent to the session.
func (sel *selected) recentSet() query.UIDSet {
	return append(query.UIDSet{}, sel.recent...) // empty matches nothing
}

// statusRecent is STATUS RECENT: the messages above the mailbox's
// watermark, which the next SELECT will take (0 if it cannot be read).
func (s *session) statusRecent(mailboxID int64) int {
	st := s.srv.cfg.Store
	top, err := s.srv.recent.load(s.ctx, st, mailboxID)
	if err != nil {
		return 0
	}
	uids, err := st.MessageUIDs(s.ctx, mailboxID)
	if err != nil {
		return 0
	}
	i, _ := slices.BinarySearch(uids, top+1)
	return len(uids) - i
}
