package imapd

import (
	"context"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"postern/internal/query"
)

// TestRecent: each message is \Recent to exactly one session, the first to
// select its mailbox or to be told of it while selected (RFC 3501 §2.3.2);
// EXAMINE and STATUS show the recent ones without taking them.
func TestRecent(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	env.deliver("INBOX", simpleMsg)
	a, b := env.login(), env.login()
	if got := b.expectTaggedAfter("b0 STATUS INBOX (MESSAGES RECENT)", "b0", "OK"); got[0] != "* STATUS INBOX (MESSAGES 2 RECENT 2)" {
		t.Errorf("STATUS before any SELECT: %q", got)
	}
	if got := b.expectTaggedAfter("b1 EXAMINE INBOX", "b1", "OK"); !contains(got, "* 2 RECENT") {
		t.Errorf("EXAMINE: %q", got)
	}
	b.expectTaggedAfter("b2 CLOSE", "b2", "OK")
	if got := a.expectTaggedAfter("a1 SELECT INBOX", "a1", "OK"); !contains(got, "* 2 RECENT") {
		t.Errorf("first SELECT after EXAMINE: %q", got)
	}
	if got := b.expectTaggedAfter("b3 SELECT INBOX", "b3", "OK"); !contains(got, "* 0 RECENT") {
		t.Errorf("second SELECT: %q", got)
	}
	if got := b.expectTaggedAfter("b4 STATUS INBOX (RECENT)", "b4", "OK"); got[0] != "* STATUS INBOX (RECENT 0)" {
		t.Errorf("STATUS after a SELECT took them: %q", got)
	}
	if got := a.expectTaggedAfter("a2 FETCH 1 FLAGS", "a2", "OK"); got[0] != `* 1 FETCH (FLAGS (\Recent))` {
		t.Errorf("FETCH FLAGS of a recent message: %q", got)
	}
	if got := b.expectTaggedAfter("b5 FETCH 1 FLAGS", "b5", "OK"); got[0] != `* 1 FETCH (FLAGS ())` {
		t.Errorf("FETCH FLAGS in the other session: %q", got)
	}
	a.expectTaggedAfter(`a3 STORE 1 +FLAGS.SILENT (\Seen)`, "a3", "OK")
	for _, c := range []struct{ cmd, want string }{
		{"SEARCH RECENT", "* SEARCH 1 2"}, {"SEARCH NEW", "* SEARCH 2"}, {"SEARCH OLD", "* SEARCH"},
	} {
		if got := a.expectTaggedAfter("s "+c.cmd, "s", "OK"); got[0] != c.want {
			t.Errorf("%s: %q, want %q", c.cmd, got, c.want)
		}
	}
	if got := b.expectTaggedAfter("b6 SEARCH RECENT", "b6", "OK"); got[0] != "* SEARCH" {
		t.Errorf("SEARCH RECENT in the other session: %q", got)
	}
	// A delivery while both have INBOX selected: the first to be told
	// takes it.
	env.deliver("INBOX", simpleMsg)
	got := a.expectTaggedAfter("a4 NOOP", "a4", "OK")
	if len(got) != 3 || got[0] != "* 3 EXISTS" || got[1] != "* 3 RECENT" {
		t.Errorf("NOOP after a delivery: %q", got)
	}
	if got := b.expectTaggedAfter("b7 NOOP", "b7", "OK"); len(got) != 2 || got[0] != "* 3 EXISTS" {
		t.Errorf("NOOP in the session told second: %q", got)
	}
	// The watermark is in the store once a SELECT took messages.
	if top, err := env.st.RecentUID(context.Background(), env.mailboxID("INBOX")); err != nil || top != 2 {
		t.Errorf("stored watermark: %d %v", top, err)
	}
	// IMAP4rev2 has no \Recent.
	c := env.login()
	c.expectTaggedAfter("c1 ENABLE IMAP4rev2", "c1", "OK")
	env.deliver("INBOX", simpleMsg)
	got = c.expectTaggedAfter("c2 SELECT INBOX", "c2", "OK")
	if strings.Contains(strings.Join(got, "\n"), "RECENT") {
		t.Errorf("IMAP4rev2 SELECT: %q", got)
	}
	if got := c.expectTaggedAfter("c3 FETCH 4 FLAGS", "c3", "OK"); got[0] != `* 4 FETCH (FLAGS ())` {
		t.Errorf("IMAP4rev2 FETCH FLAGS: %q", got)
	}
}

func (e *testEnv) mailboxID(name string) int64 {
	e.t.Helper()
	mb, err := e.st.Mailbox(context.Background(), e.acct.ID, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return mb.ID
}

// TestRecentRanges checks the session's recent ranges against a set of
// UIDs kept one by one, through random deliveries, takes (some peeking at
// a watermark that does not move, as EXAMINE does, some after another
// session took messages) and expunges.
func TestRecentRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for round := range 200 {
		sel := &selected{}
		want := map[uint32]bool{}
		var watermark, next uint32
		take := func(peek bool) {
			if len(sel.uids) == 0 {
				return
			}
			top := sel.uids[len(sel.uids)-1]
			from := watermark
			if !peek && top > watermark {
				watermark = top
			}
			for _, u := range sel.uids {
				if u > from {
					want[u] = true
				}
			}
			if top > from {
				i := sort.Search(len(sel.uids), func(i int) bool { return sel.uids[i] > from })
				sel.addRecent(query.UIDRange{First: sel.uids[i], Last: top})
			}
		}
		for range 40 {
			switch rng.IntN(5) {
			case 0, 1: // deliveries, some UIDs skipped (expunged before anyone saw them)
				for range 1 + rng.IntN(5) {
					next += 1 + uint32(rng.IntN(2))
					sel.uids = append(sel.uids, next)
				}
			case 2: // another session takes what is there
				if n := len(sel.uids); n > 0 {
					watermark = max(watermark, sel.uids[n-1])
				}
				next++
			case 3:
				take(rng.IntN(2) == 0)
			case 4: // an expunge
				if n := len(sel.uids); n > 0 {
					i := rng.IntN(n)
					sel.uids = append(sel.uids[:i:i], sel.uids[i+1:]...)
				}
			}
			count := 0
			for _, u := range sel.uids {
				if want[u] {
					count++
				}
			}
			if got := sel.recentCount(); got != count {
				t.Fatalf("round %d: recentCount %d, want %d (ranges %v, view %v)", round, got, count, sel.recent, sel.uids)
			}
			for u := uint32(0); u <= next+1; u++ {
				if sel.isRecent(u) != want[u] && slices.Contains(sel.uids, u) {
					t.Fatalf("round %d: isRecent(%d) = %v (ranges %v)", round, u, !want[u], sel.recent)
				}
			}
			for i := 1; i < len(sel.recent); i++ {
				if sel.recent[i-1].Last+1 >= sel.recent[i].First {
					t.Fatalf("round %d: ranges not ascending and apart: %v", round, sel.recent)
				}
			}
		}
	}
}
