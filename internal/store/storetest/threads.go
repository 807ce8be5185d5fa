package storetest

import (
	"testing"
	"time"

	"postern/internal/store"
)

// A move keeps a message's id and thread (JMAP Email ids must not change
// when a message changes mailbox); a copy is a new message of the same
// thread.
func testMoveKeepsID(t *testing.T, e *env) {
	a := e.setup()
	inbox, archive, trash := e.mailbox(a.ID, "INBOX"), e.mailbox(a.ID, "Archive"), e.mailbox(a.ID, "Trash")
	e.deliverOK(a.ID, "")
	e.deliverOK(a.ID, "")
	orig := e.messages(inbox.ID)
	src, dst, err := e.s.Copy(e.ctx, inbox.ID, []uint32{1, 2}, archive.ID, true)
	if err != nil || len(src) != 2 || len(dst) != 2 || dst[0] != 1 {
		t.Fatalf("move: %v %v %v", src, dst, err)
	}
	moved := e.messages(archive.ID)
	for i := range moved {
		if moved[i].ID != orig[i].ID || moved[i].ThreadID != orig[i].ThreadID || moved[i].BlobID != orig[i].BlobID {
			t.Errorf("moved %+v, was %+v", moved[i], orig[i])
		}
		if moved[i].ModSeq <= orig[i].ModSeq || string(moved[i].Envelope) != string(orig[i].Envelope) {
			t.Errorf("moved message modseq %d (was %d), envelope %q", moved[i].ModSeq, orig[i].ModSeq, moved[i].Envelope)
		}
	}
	if n := len(e.messages(inbox.ID)); n != 0 {
		t.Errorf("%d messages left in INBOX", n)
	}
	// The moved messages are found by id where they are now, whole; ids
	// of another account or of nothing are left out.
	b := e.account("bob@example.org")
	e.deliverOK(b.ID, "")
	bobs := e.messages(e.mailbox(b.ID, "INBOX").ID)
	byID, err := e.s.MessagesByID(e.ctx, a.ID, []int64{orig[1].ID, bobs[0].ID, orig[0].ID, 1 << 40})
	if err != nil || len(byID) != 2 || byID[0].ID != orig[0].ID || byID[1].ID != orig[1].ID {
		t.Fatalf("MessagesByID: %+v %v", byID, err)
	}
	for i, m := range byID {
		if m.MailboxID != archive.ID || m.UID != moved[i].UID || m.ThreadID != orig[i].ThreadID ||
			string(m.Envelope) != string(orig[i].Envelope) || m.Size != orig[i].Size {
			t.Errorf("MessagesByID row %+v, want the moved %+v", m, moved[i])
		}
	}
	if none, err := e.s.MessagesByID(e.ctx, a.ID, nil); err != nil || len(none) != 0 {
		t.Errorf("MessagesByID of nothing: %v %v", none, err)
	}
	// A thread's messages, wherever they are, in received order; another
	// account's threads and unknown ones give nothing.
	inThread, err := e.s.ThreadMessages(e.ctx, a.ID, []int64{orig[0].ThreadID, orig[1].ThreadID, bobs[0].ThreadID, 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]bool{}
	for _, m := range inThread {
		got[m.ID] = true
		if m.ThreadID != orig[0].ThreadID && m.ThreadID != orig[1].ThreadID {
			t.Errorf("ThreadMessages gave a message of thread %d", m.ThreadID)
		}
	}
	if !got[orig[0].ID] || !got[orig[1].ID] || got[bobs[0].ID] {
		t.Errorf("ThreadMessages: %+v", inThread)
	}
	exp, _ := e.s.ExpungedSince(e.ctx, inbox.ID, 0)
	wantUIDs(t, "moved UIDs expunged from INBOX", exp, []uint32{1, 2})
	if got := e.reload(a); got.UsedMessages != 2 {
		t.Errorf("usage after move: %d messages", got.UsedMessages)
	}
	_, dst, err = e.s.Copy(e.ctx, archive.ID, []uint32{1}, trash.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	c := e.messages(trash.ID)[0]
	if c.ID == moved[0].ID || c.ThreadID != moved[0].ThreadID || c.BlobID != moved[0].BlobID {
		t.Errorf("copy %+v of %+v", c, moved[0])
	}
	// Ids are never reused, even after the newest message goes.
	last := c.ID
	if _, _, err := e.s.Expunge(e.ctx, trash.ID, dst); err != nil {
		t.Fatal(err)
	}
	e.deliverOK(a.ID, "")
	if n := e.messages(inbox.ID)[0]; n.ID <= last {
		t.Errorf("new message id %d after %d", n.ID, last)
	}
}

// Threads are assigned at delivery from the message ids a message refers
// to, falling back to the base subject for replies without known parents.
func testThreads(t *testing.T, e *env) {
	a := e.setup()
	b := e.account("bob@example.org")
	deliver := func(acct store.Account, k store.ThreadKeys) store.Message {
		t.Helper()
		nb := e.sized(80)
		nb.Meta.Thread = k
		r := e.deliver(nb, store.DeliveryTarget{AccountID: acct.ID})[0]
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		msgs, _ := e.s.Messages(e.ctx, r.MailboxID, r.UID, r.UID)
		return msgs[0]
	}
	root := deliver(a, store.ThreadKeys{MessageID: "root@x", BaseSubject: "plans"})
	if root.ThreadID != root.ID {
		t.Errorf("a new conversation is named after its first message: thread %d, id %d", root.ThreadID, root.ID)
	}
	reply := deliver(a, store.ThreadKeys{MessageID: "r1@x", Parents: []string{"root@x"}, BaseSubject: "plans", IsReply: true})
	deep := deliver(a, store.ThreadKeys{MessageID: "r2@x", Parents: []string{"root@x", "r1@x"}, BaseSubject: "plans", IsReply: true})
	bare := deliver(a, store.ThreadKeys{MessageID: "r3@x", BaseSubject: "plans", IsReply: true})
	other := deliver(a, store.ThreadKeys{MessageID: "o@x", BaseSubject: "lunch"})
	for _, m := range []store.Message{reply, deep, bare} {
		if m.ThreadID != root.ID {
			t.Errorf("message %d in thread %d, want %d", m.ID, m.ThreadID, root.ID)
		}
	}
	if other.ThreadID != other.ID {
		t.Errorf("unrelated message joined thread %d", other.ThreadID)
	}
	// A parent that arrives after its reply joins the reply's thread.
	orphan := deliver(a, store.ThreadKeys{MessageID: "c@x", Parents: []string{"missing@x"}, BaseSubject: "news", IsReply: true})
	late := deliver(a, store.ThreadKeys{MessageID: "missing@x", BaseSubject: "news"})
	if late.ThreadID != orphan.ThreadID {
		t.Errorf("late parent in thread %d, reply in %d", late.ThreadID, orphan.ThreadID)
	}
	// Threads are per account.
	theirs := deliver(b, store.ThreadKeys{MessageID: "r1b@x", Parents: []string{"root@x"}, IsReply: true})
	if theirs.ThreadID == root.ID {
		t.Error("bob's message joined alice's thread")
	}
	_ = time.Now
}
