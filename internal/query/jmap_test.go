package query

import (
	"context"
	"testing"
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
