package app

import (
	"context"
	"strings"
	"sync"
	"time"
)

// localDomains remembers for a second whether a domain is one of ours, for
// the inbound checks: they ask it of every message's From domain (is it a
// forgery of ours?), a database lookup that cost as much as the SPF and
// DMARC checks together. A domain added or removed meanwhile is seen a
// second later; deliveries themselves still look it up each time.
type localDomains struct {
	lookup func(context.Context, string) (bool, error)
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]localAnswer
}

type localAnswer struct {
	local bool
	at    time.Time
}

const (
	localDomainTTL = time.Second
	// maxLocalAnswers bounds the memory mail from many domains takes.
	maxLocalAnswers = 10000
)

func newLocalDomains(lookup func(context.Context, string) (bool, error)) *localDomains {
	return &localDomains{lookup: lookup, now: time.Now, seen: map[string]localAnswer{}}
}

func (l *localDomains) isLocal(ctx context.Context, domain string) (bool, error) {
	domain = strings.ToLower(domain)
	now := l.now()
	l.mu.Lock()
	a, ok := l.seen[domain]
	l.mu.Unlock()
	if ok && now.Sub(a.at) < localDomainTTL {
		return a.local, nil
	}
	local, err := l.lookup(ctx, domain)
	if err != nil {
		return false, err
	}
	l.mu.Lock()
	if len(l.seen) >= maxLocalAnswers {
		clear(l.seen)
	}
	l.seen[domain] = localAnswer{local: local, at: now}
	l.mu.Unlock()
	return local, nil
}
