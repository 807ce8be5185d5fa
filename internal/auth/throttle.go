package auth

import (
	"net/netip"
	"sync"
	"time"
)

// failure is one failed login: when, and from which network.
type failure struct {
	at  time.Time
	src netip.Prefix
}

// throttle counts failed logins in a sliding window per source network,
// and per account name from one source: either reaching its limit refuses
// further attempts of that key. An account as a whole is never locked (any
// stranger could keep its owner out that way); its failures from every
// source only slow further failed attempts down (Service.delay). Each key
// keeps at most as many timestamps as its limit: the limit is reached
// exactly when the oldest of those is still inside the window, so nothing
// older needs remembering. The maps are capped, so a flood of addresses or
// made-up names cannot grow memory without bound.
type throttle struct {
	mu         sync.Mutex
	perIP      int // <= 0: no limit, nothing tracked
	perAccount int // per (source, account name)
	window     time.Duration
	maxTracked int
	byIP       map[netip.Prefix][]failure
	byPair     map[sourceAccount][]failure
	byAccount  map[string][]failure // for the delay only
}

// sourceAccount is an account name as tried from one source network.
type sourceAccount struct {
	src  netip.Prefix
	user string
}

// accountHistory is how many recent failures of an account, from every
// source, are kept to compute the delay: enough for it to reach its cap.
const accountHistory = 16

func newThrottle(perIP, perAccount int, window time.Duration, maxTracked int) *throttle {
	return &throttle{
		perIP:      perIP,
		perAccount: perAccount,
		window:     window,
		maxTracked: maxTracked,
		byIP:       make(map[netip.Prefix][]failure),
		byPair:     make(map[sourceAccount][]failure),
		byAccount:  make(map[string][]failure),
	}
}

// sourceOf groups addresses the way one attacker holds them: an IPv4 address
// alone, an IPv6 address by its /64, since a single host is commonly given a
// whole /64. Invalid addresses share one bucket.
func sourceOf(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return netip.Prefix{}
	}
	bits := 64
	if addr.Is4() {
		bits = 32
	}
	p, _ := addr.Prefix(bits)
	return p
}

// blocked reports whether src, or user tried from src, has reached its
// limit of failures.
func (t *throttle) blocked(now time.Time, src netip.Prefix, user string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	cutoff := now.Add(-t.window)
	if t.perIP > 0 && len(recent(t.byIP, src, cutoff)) >= t.perIP {
		return true
	}
	return t.perAccount > 0 && len(recent(t.byPair, sourceAccount{src, user}, cutoff)) >= t.perAccount
}

// fail records a failure and returns the account's failures in the window
// from every source, for the caller's delay.
func (t *throttle) fail(now time.Time, src netip.Prefix, user string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	cutoff := now.Add(-t.window)
	f := failure{at: now, src: src}
	if t.perIP > 0 {
		record(t.byIP, src, f, t.perIP, t.maxTracked, cutoff)
	}
	if t.perAccount <= 0 {
		return 0
	}
	record(t.byPair, sourceAccount{src, user}, f, t.perAccount, t.maxTracked, cutoff)
	return record(t.byAccount, user, f, accountHistory, t.maxTracked, cutoff)
}

// succeed forgets the account's failures that came from src: the owner who
// mistyped and then got it right starts afresh, while failures from other
// networks (a guesser elsewhere) still count. The source network's own count
// is kept, so an attacker cannot reset it by logging in to an account of
// their own between guesses.
func (t *throttle) succeed(src netip.Prefix, user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byPair, sourceAccount{src, user})
	list, ok := t.byAccount[user]
	if !ok {
		return
	}
	kept := list[:0]
	for _, f := range list {
		if f.src != src {
			kept = append(kept, f)
		}
	}
	if len(kept) == 0 {
		delete(t.byAccount, user)
		return
	}
	t.byAccount[user] = kept
}

// tracked returns the number of keys held, for tests of the memory bound.
func (t *throttle) tracked() (ips, accounts int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byIP), max(len(t.byPair), len(t.byAccount))
}

// recent drops the key's failures older than cutoff and returns the rest.
func recent[K comparable](m map[K][]failure, k K, cutoff time.Time) []failure {
	list, ok := m[k]
	if !ok {
		return nil
	}
	i := 0
	for i < len(list) && !list[i].at.After(cutoff) {
		i++
	}
	if i == len(list) {
		delete(m, k)
		return nil
	}
	if i > 0 {
		list = append(list[:0], list[i:]...)
		m[k] = list
	}
	return list
}

// record appends f to the key's failures, keeping at most limit of them,
// and returns how many there are.
func record[K comparable](m map[K][]failure, k K, f failure, limit, maxTracked int, cutoff time.Time) int {
	list := recent(m, k, cutoff)
	if list == nil {
		makeRoom(m, maxTracked, cutoff)
		list = make([]failure, 0, limit)
	}
	if len(list) >= limit {
		list = append(list[:0], list[len(list)-limit+1:]...)
	}
	list = append(list, f)
	m[k] = list
	return len(list)
}

// makeRoom keeps m under maxTracked keys before one is added: first by
// dropping keys whose failures have all expired, then, under a flood of
// fresh keys, by dropping an eighth of the rest in Go's random map order.
// Random eviction lets a flood forget some real failures, but it costs O(1)
// amortised and cannot be steered at one chosen key.
func makeRoom[K comparable](m map[K][]failure, maxTracked int, cutoff time.Time) {
	if len(m) < maxTracked {
		return
	}
	for k, list := range m {
		if !list[len(list)-1].at.After(cutoff) {
			delete(m, k)
		}
	}
	target := maxTracked - maxTracked/8 - 1
	for k := range m {
		if len(m) <= target {
			break
		}
		delete(m, k)
	}
}

// ThrottledKey is a source, or an account name tried from a source, that
// has reached its limit of failures.
type ThrottledKey struct {
	Source   string // an IPv4 address or an IPv6 /64
	Account  string // "" for a source throttled whatever the account
	Failures int
	Until    time.Time // when the oldest failure leaves the window
}

// throttled lists the keys at their limit at now.
func (t *throttle) throttled(now time.Time) []ThrottledKey {
	t.mu.Lock()
	defer t.mu.Unlock()
	cutoff := now.Add(-t.window)
	var out []ThrottledKey
	for src := range t.byIP {
		if list := recent(t.byIP, src, cutoff); t.perIP > 0 && len(list) >= t.perIP {
			out = append(out, ThrottledKey{Source: src.String(), Failures: len(list), Until: list[0].at.Add(t.window)})
		}
	}
	for k := range t.byPair {
		if list := recent(t.byPair, k, cutoff); t.perAccount > 0 && len(list) >= t.perAccount {
			out = append(out, ThrottledKey{Source: k.src.String(), Account: k.user, Failures: len(list), Until: list[0].at.Add(t.window)})
		}
	}
	return out
}

// unblock forgets the failures of a source (an IP address, taken as its
// source network) or of an account name (from every source), and returns
// how many keys it cleared.
func (t *throttle) unblock(target string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	if ip, err := netip.ParseAddr(target); err == nil {
		src := sourceOf(ip)
		if _, ok := t.byIP[src]; ok {
			delete(t.byIP, src)
			n++
		}
		for k := range t.byPair {
			if k.src == src {
				delete(t.byPair, k)
				n++
			}
		}
		return n
	}
	user := normalizeUsername(target)
	for k := range t.byPair {
		if k.user == user {
			delete(t.byPair, k)
			n++
		}
	}
	if _, ok := t.byAccount[user]; ok {
		delete(t.byAccount, user)
		n++
	}
	return n
}
