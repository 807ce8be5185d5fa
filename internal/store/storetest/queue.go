package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

// A delivery with local and remote recipients stores one body, referenced by
// the mailbox copies and the queue entry, whose copy leaves out the
// Return-Path the local copies carry.
func testDeliverWithQueue(t *testing.T, e *env) {
	a := e.setup()
	rp := "Return-Path: <alice@example.org>\r\n"
	msg := "Subject: out\r\n\r\nhello\r\n"
	nb := e.body(rp+msg, "hello", "Subject: out")
	at := time.Unix(1700000000, 0)
	out, err := e.s.Deliver(e.ctx, store.Delivery{Blob: nb, InternalDate: at,
		Targets: []store.DeliveryTarget{{AccountID: a.ID}},
		Queue: []store.QueuedCopy{{Skip: int64(len(rp)), NewQueueMessage: store.NewQueueMessage{
			Sender: "alice@example.org", AccountID: a.ID, EnvID: "env1", Ret: "HDRS",
			Recipients: []store.NewQueueRecipient{{Rcpt: "bob@remote.test", Notify: "FAILURE"}, {Rcpt: "carol@remote.test", ORcpt: "rfc822;carol@remote.test"}},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Targets[0].Err != nil || len(out.QueueIDs) != 1 || out.QueueIDs[0] == 0 {
		t.Fatalf("outcome %+v", out)
	}
	q, err := e.s.QueueMessage(e.ctx, out.QueueIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	local := e.messages(out.Targets[0].MailboxID)[0]
	if q.BlobID != local.BlobID {
		t.Errorf("queue blob %d, mailbox blob %d: stored twice", q.BlobID, local.BlobID)
	}
	if q.Skip != int64(len(rp)) || q.Size != int64(len(msg)) || q.Sender != "alice@example.org" || q.AccountID != a.ID ||
		q.EnvID != "env1" || q.Ret != "HDRS" || len(q.Recipients) != 2 || !q.CreatedAt.Equal(at) {
		t.Errorf("queue entry %+v", q)
	}
	if body := e.readBlob(q.BlobID); body[q.Skip:] != msg {
		t.Errorf("queued copy %q", body[q.Skip:])
	}
	r := q.Recipients[0]
	if r.Rcpt != "bob@remote.test" || r.Notify != "FAILURE" || r.Status != store.QueuePending || !r.NextAttempt.Equal(at) {
		t.Errorf("recipient %+v", r)
	}
	if q.Recipients[1].ORcpt != "rfc822;carol@remote.test" {
		t.Errorf("ORCPT %q", q.Recipients[1].ORcpt)
	}
	// The body outlives the mailbox copy while the entry holds it.
	if _, _, err := e.s.Expunge(e.ctx, local.MailboxID, []uint32{local.UID}); err != nil {
		t.Fatal(err)
	}
	e.purge()
	if body := e.readBlob(q.BlobID); !strings.HasSuffix(body, msg) {
		t.Errorf("queued body after expunge: %q", body)
	}
	// A queued copy alone is a delivery too.
	out, err = e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(40), InternalDate: at, Queue: []store.QueuedCopy{{
		NewQueueMessage: store.NewQueueMessage{IsDSN: true, Recipients: []store.NewQueueRecipient{{Rcpt: "x@remote.test"}}}}}})
	if err != nil || len(out.QueueIDs) != 1 {
		t.Fatalf("queue-only delivery: %+v %v", out, err)
	}
	if q, _ := e.s.QueueMessage(e.ctx, out.QueueIDs[0]); !q.IsDSN || q.Sender != "" || q.Size != 40 {
		t.Errorf("bounce entry %+v", q)
	}
	// A bad queued copy fails the whole delivery: no local copy either.
	before := e.reload(a).UsedMessages
	_, err = e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(40), InternalDate: at,
		Targets: []store.DeliveryTarget{{AccountID: a.ID}},
		Queue:   []store.QueuedCopy{{NewQueueMessage: store.NewQueueMessage{Sender: "a@b.test"}}}})
	wantErr(t, "queued copy without recipients", err, store.ErrInvalid)
	if got := e.reload(a).UsedMessages; got != before {
		t.Errorf("local copy stored by a failed delivery: %d messages, want %d", got, before)
	}
}

func testQueue(t *testing.T, e *env) {
	e.setup()
	t0 := time.Unix(1700000000, 0)
	enqueue := func(rcpts ...string) int64 {
		t.Helper()
		m := store.NewQueueMessage{Sender: "s@example.org"}
		for _, r := range rcpts {
			m.Recipients = append(m.Recipients, store.NewQueueRecipient{Rcpt: r})
		}
		out, err := e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(60), InternalDate: t0, Queue: []store.QueuedCopy{{NewQueueMessage: m}}})
		if err != nil || len(out.QueueIDs) != 1 {
			t.Fatalf("enqueue: %+v %v", out, err)
		}
		return out.QueueIDs[0]
	}
	id1 := enqueue("a@r.test", "b@r.test")
	id2 := enqueue("c@r.test")
	id3 := enqueue("d@r.test")
	if !(id1 < id2 && id2 < id3) {
		t.Fatalf("ids %d %d %d not increasing", id1, id2, id3)
	}
	due, err := e.s.QueueDue(e.ctx, t0, 10, []int64{id2})
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || due[0].ID != id1 || due[1].ID != id3 || len(due[0].Recipients) != 2 {
		t.Fatalf("QueueDue excluding %d: %+v", id2, due)
	}
	if due, _ := e.s.QueueDue(e.ctx, t0.Add(-time.Second), 10, nil); len(due) != 0 {
		t.Errorf("due before their time: %+v", due)
	}
	if err := e.s.QueueHold(e.ctx, id3, true); err != nil {
		t.Fatal(err)
	}
	if due, _ := e.s.QueueDue(e.ctx, t0, 10, nil); len(due) != 2 || due[1].ID != id2 {
		t.Errorf("held entry due: %+v", due)
	}
	wantErr(t, "hold unknown", e.s.QueueHold(e.ctx, id3+100, true), store.ErrNotFound)
	// One recipient deferred, one delivered: the entry stays.
	later := t0.Add(time.Hour)
	m1, _ := e.s.QueueMessage(e.ctx, id1)
	done, err := e.s.QueueUpdate(e.ctx, id1, []store.QueueUpdate{
		{RecipientID: m1.Recipients[0].ID, Status: store.QueueDelivered},
		{RecipientID: m1.Recipients[1].ID, Status: store.QueuePending, NextAttempt: later, Error: "451 try later"},
	}, true)
	if err != nil || done {
		t.Fatalf("QueueUpdate: done=%v %v", done, err)
	}
	m1, _ = e.s.QueueMessage(e.ctx, id1)
	if !m1.Warned || m1.Recipients[1].Attempts != 1 || m1.Recipients[1].LastError != "451 try later" || !m1.Recipients[1].NextAttempt.Equal(later) {
		t.Errorf("after update %+v", m1)
	}
	next, ok, err := e.s.QueueNextDue(e.ctx, []int64{id2})
	if err != nil || !ok || !next.Equal(later) {
		t.Errorf("QueueNextDue = %v %v %v, want %v", next, ok, err, later)
	}
	if n, err := e.s.QueueRetry(e.ctx, id1, t0); err != nil || n != 1 {
		t.Errorf("QueueRetry(id1) = %d %v", n, err)
	}
	_, err = e.s.QueueRetry(e.ctx, id3+100, t0)
	wantErr(t, "retry unknown", err, store.ErrNotFound)
	// The last pending recipient settles: the entry goes with its body.
	done, err = e.s.QueueUpdate(e.ctx, id1, []store.QueueUpdate{{RecipientID: m1.Recipients[1].ID, Status: store.QueueFailed, Error: "550 no"}}, false)
	if err != nil || !done {
		t.Fatalf("final QueueUpdate: done=%v %v", done, err)
	}
	_, err = e.s.QueueMessage(e.ctx, id1)
	wantErr(t, "finished entry", err, store.ErrNotFound)
	e.purge()
	if _, err := e.s.OpenBlob(e.ctx, m1.BlobID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("body of a finished entry: %v", err)
	}
	_, err = e.s.QueueUpdate(e.ctx, id1, nil, false)
	wantErr(t, "update of a removed entry", err, store.ErrNotFound)
	if err := e.s.QueueDelete(e.ctx, id2); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete twice", e.s.QueueDelete(e.ctx, id2), store.ErrNotFound)
	list, err := e.s.QueueList(e.ctx)
	if err != nil || len(list) != 1 || list[0].ID != id3 || !list[0].Held {
		t.Errorf("QueueList %+v %v", list, err)
	}
	// Ids are never reused.
	if id4 := enqueue("e@r.test"); id4 <= id3 {
		t.Errorf("new id %d after %d", id4, id3)
	}
}

// testDeliverExtraBodies: a delivery whose copies take different bodies
// (one a filter edited, one redirected) commits them all at once.
func testDeliverExtraBodies(t *testing.T, e *env) {
	a := e.setup()
	b := e.account("bob@example.org")
	orig := "Subject: one\r\n\r\nbody\r\n"
	edited := "X-Edited: yes\r\nSubject: one\r\n\r\nbody\r\n"
	redirected := "X-Loop: alice\r\nSubject: one\r\n\r\nbody\r\n"
	at := time.Unix(1700000000, 0)
	out, err := e.s.Deliver(e.ctx, store.Delivery{Blob: e.body(orig, "body", "Subject: one"), InternalDate: at,
		Extra:   []store.NewBlob{e.body(edited, "body", "Subject: one"), e.body(redirected, "body", "Subject: one")},
		Targets: []store.DeliveryTarget{{AccountID: a.ID, Body: 1}, {AccountID: b.ID}},
		Queue: []store.QueuedCopy{{Body: 2, NewQueueMessage: store.NewQueueMessage{Sender: "x@remote.test",
			Recipients: []store.NewQueueRecipient{{Rcpt: "fwd@remote.test"}}}}}})
	if err != nil || len(out.QueueIDs) != 1 || out.Targets[0].Err != nil || out.Targets[1].Err != nil {
		t.Fatalf("Deliver: %+v %v", out, err)
	}
	if got := e.readBlob(e.messages(out.Targets[0].MailboxID)[0].BlobID); got != edited {
		t.Errorf("alice's copy %q", got)
	}
	if got := e.readBlob(e.messages(out.Targets[1].MailboxID)[0].BlobID); got != orig {
		t.Errorf("bob's copy %q", got)
	}
	q, err := e.s.QueueMessage(e.ctx, out.QueueIDs[0])
	if err != nil || e.readBlob(q.BlobID) != redirected || q.Size != int64(len(redirected)) {
		t.Errorf("queued copy %+v %v", q, err)
	}
	if u := e.reload(a); u.UsedBytes != int64(len(edited)) {
		t.Errorf("alice's usage %d, want the edited copy's %d", u.UsedBytes, len(edited))
	}
	// A body index out of range is refused and nothing is stored.
	_, err = e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(40), InternalDate: at,
		Targets: []store.DeliveryTarget{{AccountID: a.ID, Body: 1}}})
	wantErr(t, "target body out of range", err, store.ErrInvalid)
	if u := e.reload(a); u.UsedMessages != 1 {
		t.Errorf("refused delivery stored something: %d messages", u.UsedMessages)
	}
}

// testDeliverMissingMailbox: a copy for a mailbox that does not exist goes
// to INBOX, or creates it when the target asks.
func testDeliverMissingMailbox(t *testing.T, e *env) {
	a := e.setup()
	at := time.Unix(1700000000, 0)
	out, err := e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(40), InternalDate: at, Targets: []store.DeliveryTarget{
		{AccountID: a.ID, Mailbox: "Nowhere"}, {AccountID: a.ID, Mailbox: "Lists/Go", Create: true}}})
	if err != nil || out.Targets[0].Err != nil || out.Targets[1].Err != nil {
		t.Fatalf("Deliver: %+v %v", out, err)
	}
	inbox, err := e.s.Mailbox(e.ctx, a.ID, "INBOX")
	if err != nil || out.Targets[0].MailboxID != inbox.ID {
		t.Errorf("copy for a missing mailbox went to %d, INBOX is %d (%v)", out.Targets[0].MailboxID, inbox.ID, err)
	}
	created, err := e.s.Mailbox(e.ctx, a.ID, "Lists/Go")
	if err != nil || out.Targets[1].MailboxID != created.ID || len(e.messages(created.ID)) != 1 {
		t.Errorf("created mailbox %+v %v", created, err)
	}
	if _, err := e.s.Mailbox(e.ctx, a.ID, "Nowhere"); err != store.ErrNotFound {
		t.Errorf("mailbox made without Create: %v", err)
	}
}

// testQueueIDsNotReused: a queue id names one message for good, even once
// the newest entry is gone.
func testQueueIDsNotReused(t *testing.T, e *env) {
	e.setup()
	queue := func() int64 {
		t.Helper()
		out, err := e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(40), InternalDate: time.Now(), Queue: []store.QueuedCopy{{
			NewQueueMessage: store.NewQueueMessage{Sender: "a@example.org", Recipients: []store.NewQueueRecipient{{Rcpt: "x@remote.test"}}}}}})
		if err != nil || len(out.QueueIDs) != 1 {
			t.Fatalf("queue: %+v %v", out, err)
		}
		return out.QueueIDs[0]
	}
	seen := map[int64]bool{}
	for i := 0; i < 3; i++ {
		id := queue()
		if seen[id] {
			t.Fatalf("queue id %d used twice", id)
		}
		seen[id] = true
		if err := e.s.QueueDelete(e.ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}
