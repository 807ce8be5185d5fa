package resolve

import (
	"container/list"
	"sync"
	"time"

	"github.com/miekg/dns"
)

type cacheKey struct {
	name  string
	qtype uint16
}

// entry is a cached answer: records, or the word that there are none.
type entry struct {
	rrs      []dns.RR
	notFound bool
}

type cached struct {
	key     cacheKey
	entry   entry
	expires time.Time
}

// cache keeps answers until their TTL runs out, and at most max of them:
// the least recently used goes first.
type cache struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	order *list.List // of *cached, most recently used first
	byKey map[cacheKey]*list.Element
}

func newCache(max int, now func() time.Time) *cache {
	return &cache{max: max, now: now, order: list.New(), byKey: map[cacheKey]*list.Element{}}
}

func (c *cache) get(k cacheKey) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return entry{}, false
	}
	ce := el.Value.(*cached)
	if !c.now().Before(ce.expires) {
		c.order.Remove(el)
		delete(c.byKey, k)
		return entry{}, false
	}
	c.order.MoveToFront(el)
	return ce.entry, true
}

func (c *cache) put(k cacheKey, e entry, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	exp := c.now().Add(ttl)
	if el, ok := c.byKey[k]; ok {
		ce := el.Value.(*cached)
		ce.entry, ce.expires = e, exp
		c.order.MoveToFront(el)
		return
	}
	c.byKey[k] = c.order.PushFront(&cached{key: k, entry: e, expires: exp})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cached).key)
	}
}

// Len is the number of cached answers.
func (r *Resolver) Len() int {
	r.cache.mu.Lock()
	defer r.cache.mu.Unlock()
	return r.cache.order.Len()
}
