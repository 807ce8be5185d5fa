package antispam

import (
	"context"
	"strings"
	"sync"
	"time"
)

// GreylistStore keeps greylisting's triplets on disk, so a restart
// neither forgets who already passed nor makes the waiting ones start
// over. A zero passUntil means not passed yet.
type GreylistStore interface {
	GreylistGet(ctx context.Context, network, sender, rcpt string) (firstSeen, passUntil time.Time, found bool, err error)
	GreylistPut(ctx context.Context, network, sender, rcpt string, firstSeen, passUntil time.Time) error
	// GreylistPassed counts the network's triplets whose pass runs at now.
	GreylistPassed(ctx context.Context, network string, now time.Time) (int, error)
	// GreylistPrune deletes the triplets not passed and first seen before
	// staleBefore, and the passed ones whose pass ended before now.
	GreylistPrune(ctx context.Context, staleBefore, now time.Time) (int64, error)
}

// GreylistOptions switch greylisting on (RFC 6647).
type GreylistOptions struct {
	Store GreylistStore
	// Delay is how long a new triplet waits before a retry is accepted;
	// Window how long after the first attempt a retry still counts;
	// PassFor how long a triplet that passed skips the wait.
	Delay, Window, PassFor time.Duration
	// AutoPass, when above zero, lets a client network with that many
	// passed triplets skip the wait for new ones: a server that retried
	// properly that often is a real MTA (postgrey's auto-whitelist).
	AutoPass int
}

// greylist decides on triplets (client network, sender, recipient).
type greylist struct {
	GreylistOptions

	mu        sync.Mutex
	lastPrune time.Time
}

// pruneEvery spaces the sweeps of stale triplets.
const pruneEvery = time.Hour

// greylistVerdict is what a triplet gets now.
type greylistVerdict struct {
	defer_   bool
	retryIn  time.Duration
	newlyHit bool // the triplet passed at this attempt
}

func (g *greylist) check(ctx context.Context, network, sender, rcpt string, now time.Time) (greylistVerdict, error) {
	g.prune(ctx, now)
	sender, rcpt = normalizeSender(sender), strings.ToLower(rcpt)
	first, passUntil, found, err := g.Store.GreylistGet(ctx, network, sender, rcpt)
	if err != nil {
		return greylistVerdict{}, err
	}
	age := now.Sub(first)
	switch {
	case found && !passUntil.IsZero() && now.Before(passUntil):
		// Extend the pass at most once a day, not with every message.
		if passUntil.Sub(now) < g.PassFor-24*time.Hour {
			err = g.Store.GreylistPut(ctx, network, sender, rcpt, first, now.Add(g.PassFor))
		}
		return greylistVerdict{}, err
	case g.AutoPass > 0 && g.networkKnown(ctx, network, now):
		return greylistVerdict{}, nil
	case found && passUntil.IsZero() && age >= g.Delay && age <= g.Window:
		err = g.Store.GreylistPut(ctx, network, sender, rcpt, first, now.Add(g.PassFor))
		return greylistVerdict{newlyHit: true}, err
	case found && passUntil.IsZero() && age >= 0 && age < g.Delay:
		return greylistVerdict{defer_: true, retryIn: g.Delay - age}, nil
	}
	// New, or come back too late, or a pass that ran out: the wait starts.
	err = g.Store.GreylistPut(ctx, network, sender, rcpt, now, time.Time{})
	return greylistVerdict{defer_: true, retryIn: g.Delay}, err
}

// networkKnown reports whether the network has AutoPass passed triplets;
// a store error counts as no.
func (g *greylist) networkKnown(ctx context.Context, network string, now time.Time) bool {
	n, err := g.Store.GreylistPassed(ctx, network, now)
	return err == nil && n >= g.AutoPass
}

func (g *greylist) prune(ctx context.Context, now time.Time) {
	g.mu.Lock()
	due := now.Sub(g.lastPrune) >= pruneEvery
	if due {
		g.lastPrune = now
	}
	g.mu.Unlock()
	if due {
		_, _ = g.Store.GreylistPrune(ctx, now.Add(-g.Window), now)
	}
}

// normalizeSender takes out of an envelope sender what changes from one
// delivery attempt to the next in the wild, so a retry finds its triplet:
// a BATV tag (prvs=tag=user) and digits (VERP and bounce counters).
func normalizeSender(sender string) string {
	sender = strings.ToLower(sender)
	local, domain, ok := strings.Cut(sender, "@")
	if !ok {
		return sender
	}
	if rest, ok := strings.CutPrefix(local, "prvs="); ok {
		if _, user, ok := strings.Cut(rest, "="); ok {
			local = user
		}
	}
	var b strings.Builder
	inDigits := false
	for _, r := range local {
		if r >= '0' && r <= '9' {
			if !inDigits {
				b.WriteByte('#')
			}
			inDigits = true
			continue
		}
		inDigits = false
		b.WriteRune(r)
	}
	return b.String() + "@" + domain
}
