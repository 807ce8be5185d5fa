package storetest

import (
	"slices"
	"testing"

	"postern/internal/store"
)

// testMessageEnvelopes: the listing of a client's message list (FETCH
// UID FLAGS ENVELOPE) carries the same UIDs, modseqs, flags, keywords
// and envelopes as the full listing, for the range asked and no other.
func testMessageEnvelopes(t *testing.T, e *env) {
	a := e.setup()
	inbox := e.mailbox(a.ID, "INBOX")
	for range 4 {
		e.deliverOK(a.ID, "INBOX")
	}
	e.deliverOK(a.ID, "Archive") // another mailbox: not listed
	if _, err := e.s.UpdateFlags(e.ctx, inbox.ID, []uint32{2}, store.FlagUpdate{Op: store.FlagsAdd,
		Flags: store.FlagSeen | store.FlagFlagged, Keywords: []string{"$Label1"}}); err != nil {
		t.Fatal(err)
	}
	full := e.messages(inbox.ID)
	check := func(from, to uint32, want []store.Message) {
		t.Helper()
		got, err := e.s.MessageEnvelopes(e.ctx, inbox.ID, from, to)
		if err != nil {
			t.Fatalf("MessageEnvelopes(%d, %d): %v", from, to, err)
		}
		if len(got) != len(want) {
			t.Fatalf("MessageEnvelopes(%d, %d): %d messages, want %d", from, to, len(got), len(want))
		}
		for i, m := range got {
			w := want[i]
			if m.UID != w.UID || m.ModSeq != w.ModSeq || m.Flags != w.Flags ||
				!slices.Equal(m.Keywords, w.Keywords) || string(m.Envelope) != string(w.Envelope) || len(m.Envelope) == 0 {
				t.Errorf("MessageEnvelopes(%d, %d)[%d] = uid %d modseq %d flags %v keywords %v envelope %q; want uid %d modseq %d flags %v keywords %v envelope %q",
					from, to, i, m.UID, m.ModSeq, m.Flags, m.Keywords, m.Envelope, w.UID, w.ModSeq, w.Flags, w.Keywords, w.Envelope)
			}
		}
	}
	check(1, 0, full)
	check(2, 3, full[1:3])
	check(9, 0, nil)
}
