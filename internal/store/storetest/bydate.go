package storetest

import (
	"slices"
	"testing"
	"time"

	"postern/internal/store"
)

// testMessagesByDate: a mailbox's messages in received order, then id,
// either way, with their threads; a caller that stops early gets no more.
func testMessagesByDate(t *testing.T, e *env) {
	a := e.setup()
	inbox := e.mailbox(a.ID, "INBOX")
	dates := []int64{300, 100, 200, 100}
	for _, d := range dates {
		out, err := e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(100), InternalDate: time.Unix(1700000000+d, 0),
			Targets: []store.DeliveryTarget{{AccountID: a.ID}}})
		if err != nil || out.Targets[0].Err != nil {
			t.Fatalf("Deliver: %v %+v", err, out)
		}
	}
	e.deliverOK(a.ID, "Archive") // another mailbox: not listed
	all := e.messages(inbox.ID)  // UID order: dates 300, 100, 200, 100
	walk := func(newestFirst bool, after *store.Message, stop int) []store.Message {
		var got []store.Message
		err := e.s.MessagesByDate(e.ctx, inbox.ID, newestFirst, after, func(m store.Message) bool {
			got = append(got, m)
			return len(got) < stop
		})
		if err != nil {
			t.Fatalf("MessagesByDate: %v", err)
		}
		return got
	}
	want := []store.Message{all[1], all[3], all[2], all[0]}
	got := walk(false, nil, 100)
	if len(got) != len(want) {
		t.Fatalf("oldest first: %d messages, want %d", len(got), len(want))
	}
	for i, m := range got {
		w := want[i]
		if m.ID != w.ID || m.UID != w.UID || m.ThreadID != w.ThreadID || !m.InternalDate.Equal(w.InternalDate) || m.MailboxID != inbox.ID {
			t.Errorf("oldest first [%d] = %+v, want %+v", i, m, w)
		}
	}
	// The light listing carries the threads too.
	light, err := e.s.MessageFlags(e.ctx, inbox.ID, 1, 0)
	if err != nil || len(light) != len(all) {
		t.Fatalf("MessageFlags: %v %v", light, err)
	}
	for i, m := range light {
		if m.ThreadID == 0 || m.ThreadID != all[i].ThreadID {
			t.Errorf("MessageFlags[%d].ThreadID = %d, want %d", i, m.ThreadID, all[i].ThreadID)
		}
	}
	slices.Reverse(want)
	got = walk(true, nil, 2)
	if len(got) != 2 || got[0].ID != want[0].ID || got[1].ID != want[1].ID {
		t.Errorf("newest first, stop after 2: %+v, want ids %d %d", got, want[0].ID, want[1].ID)
	}
	// Going on past the second: the two others, the tie of dates broken
	// by id as before.
	got = walk(true, &got[1], 100)
	if len(got) != 2 || got[0].ID != want[2].ID || got[1].ID != want[3].ID {
		t.Errorf("newest first after the second: %+v, want ids %d %d", got, want[2].ID, want[3].ID)
	}
	got = walk(false, &want[1], 100) // oldest first after the third oldest
	if len(got) != 1 || got[0].ID != want[0].ID {
		t.Errorf("oldest first after the third: %+v, want id %d", got, want[0].ID)
	}
}
