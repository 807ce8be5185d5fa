package antispam

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// bucketSet is a token bucket per key: each key may spend limit tokens,
// refilled at limit per period, so a client gets a burst of limit and then
// the steady rate. The number of keys is capped: past maxKeys the least
// recently used key is forgotten, which can only let a client through
// earlier, never refuse one that is within its limit.
type bucketSet[K comparable] struct {
	limit   float64
	period  time.Duration
	maxKeys int

	mu    sync.Mutex
	keys  map[K]*list.Element
	order *list.List // front: most recently used
}

type bucket[K comparable] struct {
	key    K
	tokens float64
	at     time.Time
}

func newBucketSet[K comparable](limit int, period time.Duration, maxKeys int) *bucketSet[K] {
	if maxKeys < 1 {
		maxKeys = 1
	}
	return &bucketSet[K]{limit: float64(limit), period: period, maxKeys: maxKeys,
		keys: make(map[K]*list.Element), order: list.New()}
}

// take spends one token of key at now; false when none is left (and then
// nothing is spent). A set with a limit of zero or less allows everything.
func (s *bucketSet[K]) take(key K, now time.Time) bool {
	if s == nil || s.limit <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var b *bucket[K]
	if el, ok := s.keys[key]; ok {
		b = el.Value.(*bucket[K])
		s.order.MoveToFront(el)
		if elapsed := now.Sub(b.at); elapsed > 0 {
			b.tokens = min(s.limit, b.tokens+s.limit*elapsed.Seconds()/s.period.Seconds())
		}
		b.at = now
	} else {
		for len(s.keys) >= s.maxKeys {
			oldest := s.order.Back()
			delete(s.keys, oldest.Value.(*bucket[K]).key)
			s.order.Remove(oldest)
		}
		b = &bucket[K]{key: key, tokens: s.limit, at: now}
		s.keys[key] = s.order.PushFront(b)
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// len is the number of keys held (tests of the memory bound).
func (s *bucketSet[K]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// clientKey groups addresses the way one sender holds them: an IPv4
// address alone, an IPv6 address by its /64 (a host is commonly given a
// whole /64).
func clientKey(ip netip.Addr) netip.Prefix {
	return groupOf(ip, 32, 64)
}

// groupOf is ip's network of v4bits or v6bits.
func groupOf(ip netip.Addr, v4bits, v6bits int) netip.Prefix {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	bits := v6bits
	if ip.Is4() {
		bits = v4bits
	}
	p, _ := ip.Prefix(bits)
	return p
}
