package imapd

import (
	"slices"
	"sync"

	"postern/internal/store"
)

// listCache keeps the SELECT listings of recently selected large
// mailboxes, each valid for one (UIDVALIDITY, HIGHESTMODSEQ) of its
// mailbox: any change bumps the modseq, so a listing taken at the modseq a
// SELECT reads is exactly as good as a fresh one (both may already show a
// change committed between the two reads, which the session's refresh
// reconciles as usual). Clients that SELECT the same big mailbox in a loop,
// or many devices of one user, then skip the scan.
type listCache struct {
	mu    sync.Mutex
	m     map[int64]*cachedListing
	clock uint64
}

type cachedListing struct {
	uidValidity uint32
	modseq      uint64
	l           store.SelectListing
	used        uint64
}

const (
	// listCacheMailboxes bounds the memory: at 4 bytes a UID, 64 listings
	// of 100,000 messages are 25 MiB at worst.
	listCacheMailboxes = 64
	// listCacheMinMessages: smaller mailboxes list faster than they are
	// worth caching.
	listCacheMinMessages = 1000
)

// get returns a copy of the listing of mb if it is current.
func (c *listCache) get(mb store.Mailbox) (store.SelectListing, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[mb.ID]
	if e == nil || e.uidValidity != mb.UIDValidity || e.modseq != mb.HighestModSeq {
		return store.SelectListing{}, false
	}
	c.clock++
	e.used = c.clock
	l := e.l
	l.UIDs = slices.Clone(e.l.UIDs) // sessions edit their UID list in place
	return l, true
}

// put remembers l as the listing of mb, evicting the least recently used.
func (c *listCache) put(mb store.Mailbox, l store.SelectListing) {
	if len(l.UIDs) < listCacheMinMessages {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[int64]*cachedListing{}
	}
	if _, ok := c.m[mb.ID]; !ok && len(c.m) >= listCacheMailboxes {
		var oldest int64
		for id, e := range c.m {
			if oldest == 0 || e.used < c.m[oldest].used {
				oldest = id
			}
		}
		delete(c.m, oldest)
	}
	c.clock++
	l.UIDs = slices.Clone(l.UIDs)
	c.m[mb.ID] = &cachedListing{uidValidity: mb.UIDValidity, modseq: mb.HighestModSeq, l: l, used: c.clock}
}
