package query

import (
	"context"
	"testing"

	"postern/internal/store"
)

// TestIDsAttachmentAndCollations covers what JMAP's Email/query added:
// MessageIDs and Attachment criteria, SortInSet, the collations, and
// Order of messages gathered by the caller.
func TestIDsAttachmentAndCollations(t *testing.T) {
	st, mb := testStore(t)
	ctx := context.Background()
	all, err := Search(ctx, st, Query{MailboxID: mb}, LoadFlags)
	if err != nil || len(all) != 4 {
		t.Fatalf("Search: %v %v", all, err)
	}
	set := MessageIDs{all[1].ID: true, all[3].ID: true}
	got, err := Search(ctx, st, Query{MailboxID: mb, Criteria: set}, LoadUID)
	if err != nil || uidsOf(got) != "2 4" {
		t.Errorf("MessageIDs: %s %v", uidsOf(got), err)
	}
	// None of the test messages has an attachment.
	got, err = Search(ctx, st, Query{MailboxID: mb, Criteria: Not{C: Attachment{}}}, LoadUID)
	if err != nil || uidsOf(got) != "1 2 3 4" {
		t.Errorf("no attachment: %s %v", uidsOf(got), err)
	}
	cases := []struct {
		keys []SortKey
		want string
	}{
		{[]SortKey{{Field: SortInSet, IDs: set}}, "1 3 2 4"},
		{[]SortKey{{Field: SortInSet, IDs: set, Reverse: true}}, "2 4 1 3"},
		{[]SortKey{{Field: SortDisplayFrom, Collation: CollateASCIICasemap}}, "1 3 4 2"},
		// No subject starts with a digit: all equal, the order given.
		{[]SortKey{{Field: SortSubject, Collation: CollateASCIINumeric}}, "1 2 3 4"},
	}
	for _, c := range cases {
		got, err := Sort(ctx, st, Query{MailboxID: mb}, c.keys)
		if err != nil || uidsOf(got) != c.want {
			t.Errorf("%+v: got %s (%v), want %s", c.keys, uidsOf(got), err, c.want)
		}
	}
	if _, err := Order(ctx, st, all, []SortKey{{Field: SortSize, Collation: 9}}); err == nil {
		t.Error("a bad collation must be refused")
	}
	rev := []int{3, 2, 1, 0}
	in := all[:0:0]
	for _, i := range rev {
		in = append(in, all[i])
	}
	out, err := Order(ctx, st, in, []SortKey{{Field: SortHasKeyword, Keyword: "$work"}})
	if err != nil || uidsOf(out) != "3 2 4 1" {
		t.Errorf("Order keeps the given order for ties: %s %v", uidsOf(out), err)
	}
}

func TestASCIINumeric(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"9", "10", -1}, {"010", "10", 0}, {"10 items", "9 items", 1}, {"x", "1", 1}, {"x", "y", 0}, {"", "0", 1},
	} {
		if got := asciiNumeric(c.a, c.b); (got > 0) != (c.want > 0) || (got < 0) != (c.want < 0) {
			t.Errorf("asciiNumeric(%q, %q) = %d, want sign of %d", c.a, c.b, got, c.want)
		}
	}
	if collationKey(CollateASCIICasemap, "aÉb") != "AÉB" {
		t.Errorf("ascii-casemap changes only ASCII letters: %q", collationKey(CollateASCIICasemap, "aÉb"))
	}
}

// rangeStore answers Messages from rows in memory and counts the calls
// and the rows read.
type rangeStore struct {
	Store
	rows        []store.Message
	calls, read int
}

func (r *rangeStore) Messages(_ context.Context, mb int64, from, to uint32) ([]store.Message, error) {
	r.calls++
	var out []store.Message
	for _, m := range r.rows {
		if m.MailboxID == mb && m.UID >= from && m.UID <= to {
			out = append(out, m)
		}
	}
	r.read += len(out)
	return out, nil
}

// TestReadEnvelopesChunks: every light row gets its whole row, by chunks
// bounded in count and in UID span, across mailboxes, and a row gone
// meanwhile is given as it was.
func TestReadEnvelopesChunks(t *testing.T) {
	rs := &rangeStore{}
	var light []store.Message
	for mb := int64(1); mb <= 2; mb++ {
		for uid := uint32(1); uid <= 3*envelopeSpan; uid++ {
			full := store.Message{MailboxID: mb, UID: uid, Envelope: []byte{byte(mb)}}
			rs.rows = append(rs.rows, full)
			// Every UID of mailbox 1 matches; one in 1000 of mailbox 2,
			// and UID 7 of mailbox 2 is gone.
			if mb == 1 || uid%1000 == 0 {
				light = append(light, store.Message{MailboxID: mb, UID: uid})
			}
		}
	}
	light = append(light, store.Message{MailboxID: 2, UID: 3*envelopeSpan + 7})
	var idx []int
	for i := len(light) - 1; i >= 0; i-- {
		idx = append(idx, i)
	}
	got := map[int]bool{}
	err := readEnvelopes(context.Background(), rs, light, idx, func(i int, full *store.Message) {
		if got[i] {
			t.Errorf("message %d given twice", i)
		}
		got[i] = true
		gone := light[i].UID > 3*envelopeSpan
		if full.UID != light[i].UID || full.MailboxID != light[i].MailboxID || (full.Envelope == nil) != gone {
			t.Errorf("message %+v given as %+v", light[i], full)
		}
	})
	if err != nil || len(got) != len(light) {
		t.Fatalf("%d of %d given (%v)", len(got), len(light), err)
	}
	// Mailbox 1: chunks of envelopeChunk; mailbox 2: chunks of one span.
	if want := 3*envelopeSpan/envelopeChunk + 3 + 1; rs.calls > want {
		t.Errorf("%d Messages calls, want at most %d", rs.calls, want)
	}
	if rs.read > 3*envelopeSpan+3*envelopeSpan {
		t.Errorf("%d rows read", rs.read)
	}
}
