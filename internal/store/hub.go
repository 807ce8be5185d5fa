package store

import "sync"

// Hub is the in-process Notifier: a fan-out of Change events per account.
type Hub struct {
	mu   sync.Mutex
	subs map[int64]map[*subscriber]struct{}
}

type subscriber struct {
	ch   chan Change
	lost bool
}

// subscriberBuffer bounds what a slow session can hold back; past it the
// session gets a resync marker instead of unbounded memory.
const subscriberBuffer = 64

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: make(map[int64]map[*subscriber]struct{})}
}

// Publish implements Notifier.
func (h *Hub) Publish(c Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[c.AccountID] {
		select {
		case s.ch <- c:
			s.lost = false
		default:
			if !s.lost {
				s.lost = true
				// Make room for one resync marker: drop the oldest event.
				select {
				case <-s.ch:
				default:
				}
				s.ch <- Change{AccountID: c.AccountID}
			}
		}
	}
}

// Subscribe implements Notifier.
func (h *Hub) Subscribe(accountID int64) (<-chan Change, func()) {
	s := &subscriber{ch: make(chan Change, subscriberBuffer)}
	h.mu.Lock()
	if h.subs[accountID] == nil {
		h.subs[accountID] = make(map[*subscriber]struct{})
	}
	h.subs[accountID][s] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[accountID], s)
			if len(h.subs[accountID]) == 0 {
				delete(h.subs, accountID)
			}
			h.mu.Unlock()
		})
	}
}
