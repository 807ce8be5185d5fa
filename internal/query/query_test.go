package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/message"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// countingStore counts the listings a query reads.
type countingStore struct {
	*sqlstore.Store
	full, light atomic.Int64
}

func (c *countingStore) Messages(ctx context.Context, mb int64, from, to uint32) ([]store.Message, error) {
	c.full.Add(1)
	return c.Store.Messages(ctx, mb, from, to)
}

func (c *countingStore) MessageFlags(ctx context.Context, mb int64, from, to uint32) ([]store.Message, error) {
	c.light.Add(1)
	return c.Store.MessageFlags(ctx, mb, from, to)
}

type testMsg struct {
	raw      string
	received time.Time
	flags    store.Flags
	keywords []string
}

// testMsgs are UIDs 1 to 4 of the test mailbox:
//
//	1 Amy, "Budget", sent 1 Mar, received 5 Mar; \Seen $Work
//	2 Zed, "Re: budget", sent 3 Mar 23:30 -0800 (4 Mar UTC), received 6 Mar; \Flagged
//	3 bob, "lunch", no Date, received 4 Mar 23:00 UTC, the largest
//	4 Carl, "[list] Budget (fwd)", sent 2 Mar, received 7 Mar; \Seen \Flagged, $work
var testMsgs = []testMsg{
	{"From: Amy <amy@x.org>\r\nTo: bob@x.org\r\nSubject: Budget\r\nDate: Fri, 01 Mar 2024 10:00:00 +0000\r\n" +
		"Message-ID: <a@x>\r\n\r\nquarterly numbers\r\n",
		time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC), store.FlagSeen, []string{"$Work"}},
	{"From: Zed <zed@x.org>\r\nTo: carl@x.org\r\nSubject: Re: budget\r\nDate: Sun, 03 Mar 2024 23:30:00 -0800\r\n" +
		"Message-ID: <b@x>\r\nReferences: <A@X>\r\n\r\nthe numbers look fine\r\n",
		time.Date(2024, 3, 6, 10, 0, 0, 0, time.UTC), store.FlagFlagged, nil},
	{"From: bob@x.org\r\nTo: amy@x.org\r\nCc: zoe@x.org\r\nSubject: lunch\r\nMessage-ID: <c@x>\r\n\r\n" +
		strings.Repeat("noon? ", 100) + "\r\n",
		time.Date(2024, 3, 4, 23, 0, 0, 0, time.UTC), 0, nil},
	{"From: Carl <carl@x.org>\r\nTo: amy@x.org\r\nSubject: [list] Budget (fwd)\r\nDate: Sat, 02 Mar 2024 10:00:00 +0100\r\n" +
		"Message-ID: <d@x>\r\nIn-Reply-To: <b@x>\r\n\r\nforwarded numbers\r\n",
		time.Date(2024, 3, 7, 10, 0, 0, 0, time.UTC), store.FlagSeen | store.FlagFlagged, []string{"$work"}},
}

// testStore holds testMsgs in INBOX.
func testStore(t *testing.T) (*countingStore, int64) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "u@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range testMsgs {
		deliver(t, s, a.ID, m)
	}
	mb, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return &countingStore{Store: s}, mb.ID
}

func deliver(t *testing.T, s *sqlstore.Store, acct int64, m testMsg) {
	p, err := message.Parse(strings.NewReader(m.raw), message.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	nb := store.NewBlob{Body: store.BytesBody(m.raw),
		Meta: store.MessageMeta{Envelope: p.Envelope.Marshal(), BodyStructure: p.Body.Marshal(), SearchText: p.SearchText, Headers: p.Headers}}
	out, err := s.Deliver(context.Background(), store.Delivery{Blob: nb, InternalDate: m.received,
		Targets: []store.DeliveryTarget{{AccountID: acct, Flags: m.flags, Keywords: m.keywords}}})
	if err != nil || out.Targets[0].Err != nil {
		t.Fatalf("deliver: %v %v", err, out)
	}
}

func uidsOf(msgs []store.Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, m.UID)
	}
	return b.String()
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestSearchCriteria(t *testing.T) {
	st, mb := testStore(t)
	ctx := context.Background()
	from := func(s string) Text { return Text{Field: store.TextHeaders, Header: "from", Needle: s} }
	cases := []struct {
		c    Criterion
		want string
	}{
		{nil, "1 2 3 4"},
		{And{}, "1 2 3 4"},
		{Or{}, ""},
		{Not{C: And{}}, ""},
		{Flag{store.FlagSeen}, "1 4"},
		{Flag{store.FlagSeen | store.FlagFlagged}, "4"},
		{Not{C: Flag{store.FlagFlagged}}, "1 3"},
		{Keyword{"$WORK"}, "1 4"},
		{Not{C: Keyword{"$work"}}, "2 3"},
		// Calendar dates: each message's date in its own zone.
		{Date{Field: Received, Op: On, Time: day(2024, 3, 5), Calendar: true}, "1"},
		{Date{Field: Received, Op: Before, Time: day(2024, 3, 6), Calendar: true}, "1 3"},
		{Date{Field: Received, Op: Since, Time: day(2024, 3, 6), Calendar: true}, "2 4"},
		{Date{Field: Sent, Op: On, Time: day(2024, 3, 3), Calendar: true}, "2"}, // 4 Mar in UTC
		{Date{Field: Sent, Op: Since, Time: day(2024, 3, 2), Calendar: true}, "2 4"},
		{Not{C: Date{Field: Sent, Op: Since, Time: day(2000, 1, 1), Calendar: true}}, "3"}, // no Date
		// Instants, as JMAP's before and after.
		{Date{Field: Received, Op: Before, Time: time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC)}, "3"},
		{Date{Field: Received, Op: Since, Time: time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC)}, "1 2 4"},
		{Date{Field: Sent, Op: Before, Time: time.Date(2024, 3, 2, 9, 30, 0, 0, time.UTC)}, "1 4"},
		{Size{Op: Larger, Bytes: 500}, "3"},
		{Size{Op: Smaller, Bytes: 500}, "1 2 4"},
		{UIDSet{{4, 3}, {1, 1}}, "1 3 4"},
		{UIDSet{}, ""},
		{UIDSet{{2, 2}, {1, 3}, {9, 9}}, "1 2 3"},
		{Text{Field: store.TextBody, Needle: "NUMBERS"}, "1 2 4"},
		{Text{Field: store.TextAll, Needle: "zoe"}, "3"},
		{from("carl"), "4"},
		{Text{Field: store.TextHeaders, Header: "in-reply-to"}, "4"},
		{And{Flag{store.FlagSeen}, Text{Field: store.TextBody, Needle: "numbers"}}, "1 4"},
		{Or{from("amy"), from("zed"), Size{Op: Larger, Bytes: 500}}, "1 2 3"},
		{Not{C: Or{Flag{store.FlagSeen}, Keyword{"$work"}}}, "2 3"},
	}
	for _, c := range cases {
		got, err := Search(ctx, st, Query{MailboxID: mb, Criteria: c.c}, LoadUID)
		if err != nil {
			t.Errorf("%#v: %v", c.c, err)
			continue
		}
		if uidsOf(got) != c.want {
			t.Errorf("%#v: got %s, want %s", c.c, uidsOf(got), c.want)
		}
	}
	// The same criteria with the highest modseq: the last change wins.
	all, err := Search(ctx, st, Query{MailboxID: mb}, LoadFlags)
	if err != nil || len(all) != 4 {
		t.Fatal(all, err)
	}
	top := all[3].ModSeq
	if got, _ := Search(ctx, st, Query{MailboxID: mb, Criteria: ModSeq{Min: top}}, LoadUID); uidsOf(got) != "4" {
		t.Errorf("ModSeq: %s", uidsOf(got))
	}
}

// TestSearchLoads: a search reads no more of the listing than its
// criteria and the caller need.
func TestSearchLoads(t *testing.T) {
	st, mb := testStore(t)
	ctx := context.Background()
	cases := []struct {
		c           Criterion
		load        Load
		full, light int64
	}{
		{UIDSet{{1, 2}}, LoadUID, 0, 0},
		{Text{Field: store.TextBody, Needle: "x"}, LoadUID, 0, 0},
		{Flag{store.FlagSeen}, LoadUID, 0, 1},
		{Size{Op: Larger, Bytes: 1}, LoadUID, 0, 1},
		{Not{C: Date{Field: Sent, Op: Before, Time: day(2024, 1, 1)}}, LoadUID, 1, 0},
		{nil, LoadFull, 1, 0},
	}
	for _, c := range cases {
		st.full.Store(0)
		st.light.Store(0)
		msgs, err := Search(ctx, st, Query{MailboxID: mb, Criteria: c.c}, c.load)
		if err != nil {
			t.Fatal(err)
		}
		if st.full.Load() != c.full || st.light.Load() != c.light {
			t.Errorf("%#v: %d full and %d light listings, want %d and %d", c.c, st.full.Load(), st.light.Load(), c.full, c.light)
		}
		if c.load == LoadFull && (len(msgs) == 0 || msgs[0].Envelope == nil) {
			t.Errorf("LoadFull without envelopes")
		}
	}
	// ARRIVAL and SIZE sort on the light listing; SUBJECT needs envelopes.
	st.full.Store(0)
	if _, err := Sort(ctx, st, Query{MailboxID: mb}, []SortKey{{Field: SortArrival}, {Field: SortSize}}); err != nil || st.full.Load() != 0 {
		t.Errorf("SORT ARRIVAL SIZE read %d full listings (%v)", st.full.Load(), err)
	}
	if _, err := Sort(ctx, st, Query{MailboxID: mb}, []SortKey{{Field: SortSubject}}); err != nil || st.full.Load() != 1 {
		t.Errorf("SORT SUBJECT read %d full listings (%v)", st.full.Load(), err)
	}
}

// TestSearchView: a view limits the messages; a UID the store lost stays
// matchable by criteria that need nothing of the message.
func TestSearchView(t *testing.T) {
	st, mb := testStore(t)
	ctx := context.Background()
	if _, _, err := st.Expunge(ctx, mb, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	view := []uint32{1, 2, 4}
	for _, c := range []struct {
		c    Criterion
		load Load
		want string
	}{
		{nil, LoadUID, "1 2 4"},
		{UIDSet{{2, 3}}, LoadUID, "2"},
		{nil, LoadFlags, "1 4"},
		{Text{Field: store.TextBody, Needle: "numbers"}, LoadUID, "1 4"},
		{Flag{store.FlagFlagged}, LoadUID, "4"},
	} {
		got, err := Search(ctx, st, Query{MailboxID: mb, UIDs: view, Criteria: c.c}, c.load)
		if err != nil || uidsOf(got) != c.want {
			t.Errorf("%#v with view %v: got %s (%v), want %s", c.c, view, uidsOf(got), err, c.want)
		}
	}
	if got, err := Search(ctx, st, Query{MailboxID: mb, UIDs: []uint32{}}, LoadFlags); err != nil || len(got) != 0 {
		t.Errorf("empty view: %v %v", got, err)
	}
}

func TestSearchInvalid(t *testing.T) {
	st, mb := testStore(t)
	deep := Criterion(And{})
	for range maxDepth + 1 {
		deep = Not{C: deep}
	}
	for _, c := range []Criterion{Date{Field: Received}, Date{Op: On}, Size{Bytes: 3}, And{Or{Size{}}}, deep} {
		if _, err := Search(context.Background(), st, Query{MailboxID: mb, Criteria: c}, LoadUID); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%T: %v", c, err)
		}
	}
	if _, err := Sort(context.Background(), st, Query{MailboxID: mb}, []SortKey{{}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("sort key 0: %v", err)
	}
	if _, err := Thread(context.Background(), st, Query{MailboxID: mb}, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("algorithm 0: %v", err)
	}
}

func TestSort(t *testing.T) {
	st, mb := testStore(t)
	cases := []struct {
		keys []SortKey
		want string
	}{
		{[]SortKey{{Field: SortArrival}}, "3 1 2 4"},
		{[]SortKey{{Field: SortArrival, Reverse: true}}, "4 2 1 3"},
		{[]SortKey{{Field: SortDate}}, "1 4 2 3"}, // 3 has no Date: its internal date stands in
		{[]SortKey{{Field: SortSize}}, "1 2 4 3"},
		{[]SortKey{{Field: SortSubject}}, "1 2 4 3"}, // three share the base subject "budget": UID order
		{[]SortKey{{Field: SortSubject}, {Field: SortDate, Reverse: true}}, "2 4 1 3"},
		{[]SortKey{{Field: SortFrom}}, "1 3 4 2"},
		{[]SortKey{{Field: SortTo}}, "3 4 1 2"},
		{[]SortKey{{Field: SortCc}}, "1 2 4 3"},
		{[]SortKey{{Field: SortDisplayFrom}}, "1 3 4 2"}, // "bob@x.org" stands for the missing name
		{[]SortKey{{Field: SortDisplayTo}}, "3 4 1 2"},
		{[]SortKey{{Field: SortHasKeyword, Keyword: "$WORK"}}, "2 3 1 4"},
		{[]SortKey{{Field: SortHasKeyword, Flags: store.FlagFlagged, Reverse: true}}, "2 4 1 3"},
		{nil, "1 2 3 4"},
	}
	for _, c := range cases {
		got, err := Sort(context.Background(), st, Query{MailboxID: mb}, c.keys)
		if err != nil || uidsOf(got) != c.want {
			t.Errorf("%+v: got %s (%v), want %s", c.keys, uidsOf(got), err, c.want)
		}
	}
	got, err := Sort(context.Background(), st, Query{MailboxID: mb, UIDs: []uint32{1, 2, 3},
		Criteria: Flag{store.FlagSeen}}, []SortKey{{Field: SortDate}})
	if err != nil || uidsOf(got) != "1" || got[0].Flags != store.FlagSeen {
		t.Errorf("sort of a search: %v %v", got, err)
	}
}

func TestThread(t *testing.T) {
	st, mb := testStore(t)
	render := func(roots []*ThreadNode) string {
		var b strings.Builder
		for _, r := range roots {
			writeNode(&b, r)
		}
		return b.String()
	}
	for _, c := range []struct {
		alg  Algorithm
		q    Query
		want string
	}{
		// 2 references 1 (<A@X> against <a@x>: IDs compare folded); 4
		// replies to 2 by In-Reply-To.
		{References, Query{MailboxID: mb}, "(1 2 4)(3)"},
		{References, Query{MailboxID: mb, Criteria: Not{C: UIDSet{{2, 2}}}}, "(1 4)(3)"}, // joined by subject
		{OrderedSubject, Query{MailboxID: mb}, "(1 (4)(2))(3)"},
		{OrderedSubject, Query{MailboxID: mb, Criteria: Or{}}, ""},
	} {
		roots, err := Thread(context.Background(), st, c.q, c.alg)
		if err != nil || render(roots) != c.want {
			t.Errorf("%d %#v: got %s (%v), want %s", c.alg, c.q.Criteria, render(roots), err, c.want)
		}
	}
}

// TestJMAPFilter builds an Email/query filter (RFC 8621 §4.4.1) with no
// IMAP in sight: {"operator": "AND", "conditions": [{"hasKeyword":
// "$work"}, {"after": "2024-03-06T00:00:00Z"}, {"minSize": 10},
// {"operator": "NOT", "conditions": [{"from": "amy"}, {"hasKeyword":
// "$seen"}]}]} with sort [{"property": "receivedAt", "isAscending": false}].
func TestJMAPFilter(t *testing.T) {
	st, mb := testStore(t)
	filter := And{
		Keyword{"$work"},
		Date{Field: Received, Op: Since, Time: time.Date(2024, 3, 6, 0, 0, 0, 0, time.UTC)},
		Not{C: Size{Op: Smaller, Bytes: 10}},
		Not{C: Or{Text{Field: store.TextHeaders, Header: "from", Needle: "amy"}, Flag{store.FlagSeen}}},
	}
	got, err := Sort(context.Background(), st, Query{MailboxID: mb, Criteria: filter}, []SortKey{{Field: SortArrival, Reverse: true}})
	if err != nil || uidsOf(got) != "" {
		t.Fatalf("got %s %v", uidsOf(got), err)
	}
	filter[3] = Not{C: Text{Field: store.TextHeaders, Header: "from", Needle: "amy"}}
	got, err = Sort(context.Background(), st, Query{MailboxID: mb, Criteria: filter}, []SortKey{{Field: SortArrival, Reverse: true}})
	if err != nil || uidsOf(got) != "4" {
		t.Fatalf("got %s %v", uidsOf(got), err)
	}
}

func TestNormalise(t *testing.T) {
	got := normalise(UIDSet{{9, 7}, {1, 2}, {3, 3}, {5, 5}, {^uint32(0), ^uint32(0) - 1}})
	want := UIDSet{{1, 3}, {5, 5}, {7, 9}, {^uint32(0) - 1, ^uint32(0)}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for u, in := range map[uint32]bool{0: false, 1: true, 3: true, 4: false, 8: true, 10: false, ^uint32(0): true} {
		if got.has(u) != in {
			t.Errorf("has(%d) = %v", u, !in)
		}
	}
}
