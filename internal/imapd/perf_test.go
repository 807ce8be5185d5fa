package imapd

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// countingStore counts the calls that read whole message rows or count a
// mailbox, which SELECT, FETCH of flags and IDLE must not need on a store
// with light listings (store.Lister): on 100,000 messages each costs a
// scan of every cached envelope.
type countingStore struct {
	*sqlstore.Store
	messages, status, changed, listings atomic.Int64
}

func (c *countingStore) SelectListing(ctx context.Context, mb int64) (store.SelectListing, error) {
	c.listings.Add(1)
	return c.Store.SelectListing(ctx, mb)
}

func (c *countingStore) MessagesChangedSince(ctx context.Context, mb int64, modseq uint64) ([]store.Message, error) {
	c.changed.Add(1)
	return c.Store.MessagesChangedSince(ctx, mb, modseq)
}

func (c *countingStore) Messages(ctx context.Context, mb int64, from, to uint32) ([]store.Message, error) {
	c.messages.Add(1)
	return c.Store.Messages(ctx, mb, from, to)
}

func (c *countingStore) MailboxStatus(ctx context.Context, mb int64) (store.MailboxStatus, error) {
	c.status.Add(1)
	return c.Store.MailboxStatus(ctx, mb)
}

func newCountingEnv(t *testing.T) (*testEnv, *countingStore) {
	var cs *countingStore
	e := newTestEnv(t, func(cfg *Config) {
		cs = &countingStore{Store: cfg.Store.(*sqlstore.Store)}
		cfg.Store = cs
	})
	return e, cs
}

// TestLightPaths: SELECT, FETCH of UID/FLAGS/sizes and the refresh after
// another session's change use the light listing and the mailbox's
// modseq; FETCH BODYSTRUCTURE still reads the full rows (so the counter
// works).
func TestLightPaths(t *testing.T) {
	e, cs := newCountingEnv(t)
	e.deliver("INBOX", simpleMsg)
	e.deliver("INBOX", multipartMsg)
	e.deliver("INBOX", simpleMsg)
	rc := e.login()
	rc.send("s SELECT INBOX")
	rc.expectTagged("s", "OK")
	rc.send("f STORE 1 +FLAGS (\\Seen $Work)")
	rc.expectTagged("f", "OK")
	cs.messages.Store(0)
	cs.status.Store(0)

	rc.send("s2 SELECT INBOX")
	lines := rc.expectTagged("s2", "OK")
	if !contains(lines, "* 3 EXISTS") || !contains(lines, "[UNSEEN 2]") || !contains(lines, "$Work") {
		t.Errorf("SELECT: %q", lines)
	}
	rc.send("f2 FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)")
	lines = rc.expectTagged("f2", "OK")
	if len(lines) != 4 || !strings.Contains(lines[0], `FLAGS (\Seen $Work)`) || !strings.Contains(lines[1], "RFC822.SIZE") {
		t.Errorf("FETCH: %q", lines)
	}
	if n := cs.messages.Load(); n != 0 {
		t.Errorf("SELECT and FETCH (UID FLAGS ...) read full rows %d times", n)
	}

	// An IDLE session learns of a delivery from the event alone, and of
	// another session's flag change by modseq, never counting the mailbox.
	idle := e.login()
	idle.send("s SELECT INBOX")
	idle.expectTagged("s", "OK")
	idle.send("i IDLE")
	idle.expectPrefix("+ ")
	e.deliver("INBOX", simpleMsg)
	idle.expectPrefix("* 4 EXISTS")
	idle.expectPrefix("* 1 RECENT")
	if n := cs.changed.Load(); n != 0 {
		t.Errorf("a delivery cost the idle session %d store queries", n)
	}
	rc.send("n NOOP")
	rc.expectTagged("n", "OK")
	rc.send("f4 STORE 4 +FLAGS (\\Flagged)")
	rc.expectTagged("f4", "OK")
	if l := idle.expectPrefix("* 4 FETCH"); !strings.Contains(l, `\Flagged`) {
		t.Errorf("IDLE: %q", l)
	}
	idle.send("DONE")
	idle.expectTagged("i", "OK")
	if cs.changed.Load() == 0 {
		t.Errorf("a flag change reached the idle session without a refresh")
	}
	if n := cs.status.Load(); n != 0 {
		t.Errorf("the refresh counted the mailbox %d times", n)
	}

	rc.send("f3 FETCH 2 (BODYSTRUCTURE)")
	rc.expectTagged("f3", "OK")
	if cs.messages.Load() == 0 {
		t.Errorf("FETCH BODYSTRUCTURE did not read the full rows: the counter is broken")
	}
}

// TestIdleFanout: many sessions idling on one mailbox all see one delivery.
func TestIdleFanout(t *testing.T) {
	e := newTestEnv(t, nil)
	const n = 50
	conns := make([]*rawConn, n)
	for i := range conns {
		c := e.login()
		c.send("s SELECT INBOX")
		c.expectTagged("s", "OK")
		c.send("i IDLE")
		c.expectPrefix("+ ")
		conns[i] = c
	}
	e.deliver("INBOX", simpleMsg)
	for _, c := range conns {
		c.expectPrefix("* 1 EXISTS")
	}
}

// TestSelectListingCache: a second SELECT of an unchanged large mailbox
// reuses the listing; any change (here a delivery and a flag) makes the
// next SELECT list again, with the right counts.
func TestSelectListingCache(t *testing.T) {
	e, cs := newCountingEnv(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range listCacheMinMessages / 4 {
				e.deliver("INBOX", simpleMsg)
			}
		}()
	}
	wg.Wait()
	rc := e.login()
	selectExists := func(tag string) []string {
		rc.send(tag + " SELECT INBOX")
		return rc.expectTagged(tag, "OK")
	}
	n := listCacheMinMessages
	for i, want := range []int64{1, 1} {
		if l := selectExists("s" + strconv.Itoa(i)); !contains(l, "* "+strconv.Itoa(n)+" EXISTS") {
			t.Fatalf("SELECT: %q", l)
		}
		if got := cs.listings.Load(); got != want {
			t.Errorf("after SELECT %d: %d listings, want %d", i+1, got, want)
		}
	}
	e.deliver("INBOX", simpleMsg)
	if l := selectExists("s3"); !contains(l, "* "+strconv.Itoa(n+1)+" EXISTS") || !contains(l, "[UNSEEN 1]") {
		t.Fatalf("SELECT after a delivery: %q", l)
	}
	rc.send("f STORE 1:* +FLAGS.SILENT (\\Seen)")
	rc.expectTagged("f", "OK")
	if l := selectExists("s4"); contains(l, "UNSEEN") {
		t.Errorf("SELECT after STORE \\Seen still reports UNSEEN: %q", l)
	}
	if got := cs.listings.Load(); got != 3 {
		t.Errorf("%d listings, want 3 (the cache was used after a change)", got)
	}
}

func TestListCacheEvicts(t *testing.T) {
	var c listCache
	uids := make([]uint32, listCacheMinMessages)
	for i := range listCacheMailboxes + 5 {
		c.put(store.Mailbox{ID: int64(i + 1), UIDValidity: 1, HighestModSeq: 9}, store.SelectListing{UIDs: uids})
		if _, ok := c.get(store.Mailbox{ID: 1, UIDValidity: 1, HighestModSeq: 9}); !ok {
			t.Fatalf("the most used listing was evicted at %d", i)
		}
	}
	if len(c.m) != listCacheMailboxes {
		t.Errorf("%d listings kept, want %d", len(c.m), listCacheMailboxes)
	}
	if _, ok := c.get(store.Mailbox{ID: 1, UIDValidity: 2, HighestModSeq: 9}); ok {
		t.Errorf("a listing of another UIDVALIDITY was returned")
	}
	l, _ := c.get(store.Mailbox{ID: 1, UIDValidity: 1, HighestModSeq: 9})
	l.UIDs[0] = 42
	if l2, _ := c.get(store.Mailbox{ID: 1, UIDValidity: 1, HighestModSeq: 9}); l2.UIDs[0] == 42 {
		t.Errorf("get shares its UID slice with the caller")
	}
}

// TestResolveMatchesNaive: resolve by runs gives what marking every
// message named by the set gives, for random sets by UID and by number.
func TestResolveMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		sel := &selected{}
		u := uint32(0)
		for range rng.IntN(40) {
			u += 1 + uint32(rng.IntN(3))
			sel.uids = append(sel.uids, u)
		}
		var set seqSet
		for range 1 + rng.IntN(4) {
			set.ranges = append(set.ranges, seqRange{uint32(rng.IntN(int(u) + 5)), uint32(rng.IntN(int(u) + 5))})
		}
		for _, byUID := range []bool{false, true} {
			got, gotInv := sel.resolve(set, byUID)
			want, wantInv := naiveResolve(sel, set, byUID)
			if !slices.Equal(got, want) || gotInv != wantInv {
				t.Fatalf("trial %d uid=%v uids %v set %v: got %v %v, want %v %v", trial, byUID, sel.uids, set.ranges, got, gotInv, want, wantInv)
			}
		}
	}
}

func naiveResolve(sel *selected, set seqSet, uid bool) ([]int, bool) {
	n := len(sel.uids)
	mark := make([]bool, n)
	invalid := false
	for _, r := range set.ranges {
		if uid {
			lo, hi := r.bounds(sel.maxUID())
			for i, u := range sel.uids {
				if u >= lo && u <= hi {
					mark[i] = true
				}
			}
			continue
		}
		lo, hi := r.bounds(uint32(n))
		if hi > uint32(n) {
			invalid = invalid || (r.lo != 0 && r.hi != 0)
			hi = uint32(n)
		}
		for i := max(lo, 1); i <= hi; i++ {
			mark[i-1] = true
		}
	}
	var idx []int
	for i, m := range mark {
		if m {
			idx = append(idx, i)
		}
	}
	return idx, invalid
}
