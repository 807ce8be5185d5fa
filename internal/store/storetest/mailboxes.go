package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"postern/internal/store"
)

func testMailboxes(t *testing.T, e *env) {
	a := e.setup()
	m, err := e.s.CreateMailbox(e.ctx, a.ID, "Lists/Go", "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "Lists/Go" || m.UIDNext != 1 || m.Subscribed || m.AccountID != a.ID {
		t.Errorf("CreateMailbox returned %+v", m)
	}
	if got := e.mailbox(a.ID, "Lists/Go"); got.ID != m.ID || got.UIDValidity != m.UIDValidity {
		t.Errorf("Mailbox: %+v", got)
	}
	for _, bad := range []string{"../x", "a/../b", "a/.", "./a", ".."} {
		_, err := e.s.CreateMailbox(e.ctx, a.ID, bad, "")
		wantErr(t, "path-like name "+bad, err, store.ErrInvalid)
	}
	_, err = e.s.CreateMailbox(e.ctx, a.ID, "Lists/Go", "")
	wantErr(t, "duplicate mailbox", err, store.ErrExists)
	_, err = e.s.CreateMailbox(e.ctx, a.ID, "inbox", "")
	wantErr(t, "inbox in lower case", err, store.ErrExists)
	for _, bad := range []string{"", "/x", "x/", "a//b", "a\x00b", "a*", "%"} {
		_, err = e.s.CreateMailbox(e.ctx, a.ID, bad, "")
		wantErr(t, fmt.Sprintf("CreateMailbox(%q)", bad), err, store.ErrInvalid)
	}
	_, err = e.s.CreateMailbox(e.ctx, a.ID, "Odd", `\Bogus`)
	wantErr(t, "bad special-use", err, store.ErrInvalid)
	_, err = e.s.CreateMailbox(e.ctx, a.ID+1000, "X", "")
	wantErr(t, "mailbox of unknown account", err, store.ErrNotFound)
	sub, err := e.s.CreateMailbox(e.ctx, a.ID, "inbox/Sub", "")
	if err != nil || sub.Name != "INBOX/Sub" {
		t.Errorf("INBOX child: %+v %v", sub, err)
	}
	if got := e.mailbox(a.ID, "InBoX"); got.Name != "INBOX" {
		t.Errorf("INBOX lookup: %+v", got)
	}

	if err := e.s.SetSubscribed(e.ctx, a.ID, "Lists/Go", true); err != nil {
		t.Fatal(err)
	}
	if !e.mailbox(a.ID, "Lists/Go").Subscribed {
		t.Error("not subscribed")
	}
	wantErr(t, "subscribe unknown", e.s.SetSubscribed(e.ctx, a.ID, "Nope", true), store.ErrNotFound)

	e.deliverOK(a.ID, "Lists/Go")
	wantErr(t, "delete INBOX", e.s.DeleteMailbox(e.ctx, a.ID, "inbox"), store.ErrNotPermitted)
	if err := e.s.DeleteMailbox(e.ctx, a.ID, "Lists/Go"); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Mailbox(e.ctx, a.ID, "Lists/Go")
	wantErr(t, "deleted mailbox", err, store.ErrNotFound)
	wantErr(t, "delete twice", e.s.DeleteMailbox(e.ctx, a.ID, "Lists/Go"), store.ErrNotFound)
	// The subscription outlives the mailbox (RFC 3501 §6.3.6) and comes
	// back with it.
	if kept, err := e.s.KeptSubscriptions(e.ctx, a.ID); err != nil || len(kept) != 1 || kept[0] != "Lists/Go" {
		t.Errorf("KeptSubscriptions after deleting a subscribed mailbox: %q %v", kept, err)
	}
	again, err := e.s.CreateMailbox(e.ctx, a.ID, "Lists/Go", "")
	if err != nil || !again.Subscribed || !e.mailbox(a.ID, "Lists/Go").Subscribed {
		t.Errorf("mailbox created again under a kept subscription: %+v %v", again, err)
	}
	if kept, _ := e.s.KeptSubscriptions(e.ctx, a.ID); len(kept) != 0 {
		t.Errorf("KeptSubscriptions after creating it again: %q", kept)
	}
	if err := e.s.DeleteMailbox(e.ctx, a.ID, "Lists/Go"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetSubscribed(e.ctx, a.ID, "Lists/Go", false); err != nil {
		t.Errorf("unsubscribe a kept subscription: %v", err)
	}
	if kept, _ := e.s.KeptSubscriptions(e.ctx, a.ID); len(kept) != 0 {
		t.Errorf("KeptSubscriptions after unsubscribing: %q", kept)
	}
	wantErr(t, "unsubscribe twice", e.s.SetSubscribed(e.ctx, a.ID, "Lists/Go", false), store.ErrNotFound)
	if got := e.reload(a); got.UsedMessages != 0 || got.UsedBytes != 0 {
		t.Errorf("usage after delete %+v", got)
	}
}

func testRenameTree(t *testing.T, e *env) {
	a := e.setup()
	for _, n := range []string{"Work", "Work/2024", "Work/2024/Q1", "Workshop", "Other"} {
		if _, err := e.s.CreateMailbox(e.ctx, a.ID, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	e.deliverOK(a.ID, "Work/2024")
	before := e.mailbox(a.ID, "Work/2024")
	if err := e.s.RenameMailbox(e.ctx, a.ID, "Work", "Jobs/Old"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Jobs/Old", "Jobs/Old/2024", "Jobs/Old/2024/Q1", "Workshop", "Other"} {
		e.mailbox(a.ID, n)
	}
	for _, n := range []string{"Work", "Work/2024"} {
		_, err := e.s.Mailbox(e.ctx, a.ID, n)
		wantErr(t, "old name "+n, err, store.ErrNotFound)
	}
	after := e.mailbox(a.ID, "Jobs/Old/2024")
	if after.ID != before.ID || after.UIDValidity != before.UIDValidity || len(e.messages(after.ID)) != 1 {
		t.Errorf("renamed child %+v, was %+v", after, before)
	}
	wantErr(t, "rename onto existing", e.s.RenameMailbox(e.ctx, a.ID, "Other", "Workshop"), store.ErrExists)
	wantErr(t, "rename to INBOX", e.s.RenameMailbox(e.ctx, a.ID, "Other", "INBOX"), store.ErrExists)
	wantErr(t, "rename unknown", e.s.RenameMailbox(e.ctx, a.ID, "Nope", "Nope2"), store.ErrNotFound)
	wantErr(t, "rename into own child", e.s.RenameMailbox(e.ctx, a.ID, "Other", "Other/Sub"), store.ErrInvalid)
	// A child whose new name is its parent's old name.
	if err := e.s.RenameMailbox(e.ctx, a.ID, "Jobs/Old/2024", "Jobs/Old/2024x"); err != nil {
		t.Fatal(err)
	}
	e.mailbox(a.ID, "Jobs/Old/2024x/Q1")
}

// RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name and
// leaves INBOX empty, its children untouched.
func testRenameInbox(t *testing.T, e *env) {
	a := e.setup()
	for range 2 {
		e.deliverOK(a.ID, "")
	}
	if _, err := e.s.CreateMailbox(e.ctx, a.ID, "INBOX/Child", ""); err != nil {
		t.Fatal(err)
	}
	inbox := e.mailbox(a.ID, "INBOX")
	if err := e.s.RenameMailbox(e.ctx, a.ID, "inbox", "Old Inbox"); err != nil {
		t.Fatal(err)
	}
	old := e.mailbox(a.ID, "Old Inbox")
	wantUIDs(t, "renamed INBOX", uidsOf(e.messages(old.ID)), []uint32{1, 2})
	if old.UIDValidity == inbox.UIDValidity {
		t.Error("new mailbox shares INBOX's UIDVALIDITY")
	}
	now := e.mailbox(a.ID, "INBOX")
	if now.ID != inbox.ID || now.UIDValidity != inbox.UIDValidity || len(e.messages(now.ID)) != 0 {
		t.Errorf("INBOX after rename %+v", now)
	}
	exp, _ := e.s.ExpungedSince(e.ctx, inbox.ID, inbox.HighestModSeq)
	wantUIDs(t, "INBOX expunged", exp, []uint32{1, 2})
	if u := e.deliverOK(a.ID, ""); u != 3 {
		t.Errorf("INBOX reused UID %d", u)
	}
	e.mailbox(a.ID, "INBOX/Child")
	if got := e.reload(a); got.UsedMessages != 3 {
		t.Errorf("usage %d messages, want 3", got.UsedMessages)
	}
}

// waitChange reads events until one of kind for mailboxID arrives.
func waitChange(t *testing.T, ch <-chan store.Change, kind store.ChangeKind, mailboxID int64) store.Change {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case c := <-ch:
			if c.Kind == kind && c.MailboxID == mailboxID {
				return c
			}
		case <-timeout:
			t.Fatalf("no change of kind %d for mailbox %d", kind, mailboxID)
		}
	}
}

func testChanges(t *testing.T, e *env) {
	a := e.setup()
	b := e.account("bob@example.org")
	ch, cancel := e.s.Notifier().Subscribe(a.ID)
	defer cancel()
	bch, bcancel := e.s.Notifier().Subscribe(b.ID)
	defer bcancel()
	inbox := e.mailbox(a.ID, "INBOX")
	uid := e.deliverOK(a.ID, "")
	c := waitChange(t, ch, store.ChangeNewMessage, inbox.ID)
	if c.AccountID != a.ID || len(c.UIDs) != 1 || c.UIDs[0] != uid {
		t.Errorf("new message change %+v", c)
	}
	// The change is published after commit: what it announces is visible.
	if m := e.messages(inbox.ID); len(m) != 1 || m[0].ModSeq != c.ModSeq {
		t.Errorf("change %+v but messages %+v", c, m)
	}
	if _, err := e.s.UpdateFlags(e.ctx, inbox.ID, []uint32{uid}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	c = waitChange(t, ch, store.ChangeFlags, inbox.ID)
	if len(c.UIDs) != 1 || c.ModSeq != e.mailbox(a.ID, "INBOX").HighestModSeq {
		t.Errorf("flags change %+v", c)
	}
	if _, _, err := e.s.Expunge(e.ctx, inbox.ID, []uint32{uid}); err != nil {
		t.Fatal(err)
	}
	c = waitChange(t, ch, store.ChangeExpunge, inbox.ID)
	if len(c.UIDs) != 1 || c.UIDs[0] != uid {
		t.Errorf("expunge change %+v", c)
	}
	m, err := e.s.CreateMailbox(e.ctx, a.ID, "New", "")
	if err != nil {
		t.Fatal(err)
	}
	waitChange(t, ch, store.ChangeMailboxes, m.ID)
	// The account's modseq moved on in another mailbox; a delivery to
	// INBOX names INBOX's modseq before it, so a session knows it missed
	// nothing in between.
	before := e.mailbox(a.ID, "INBOX").HighestModSeq
	e.deliverOK(a.ID, "")
	c = waitChange(t, ch, store.ChangeNewMessage, inbox.ID)
	if c.PrevModSeq != before || c.ModSeq <= before+1 {
		t.Errorf("new message change %+v: PrevModSeq want %d (and a modseq past the other mailbox's)", c, before)
	}
	// A failed operation publishes nothing; bob heard nothing at all.
	e.s.SetQuota(e.ctx, a.Address, 1, 0)
	e.deliver(e.sized(100), store.DeliveryTarget{AccountID: a.ID})
	select {
	case c := <-ch:
		t.Errorf("event for a failed delivery: %+v", c)
	case c := <-bch:
		t.Errorf("bob got alice's event: %+v", c)
	case <-time.After(50 * time.Millisecond):
	}
}

// Concurrent deliveries all succeed, each gets its own UID, and the
// counters come out exact.
func testConcurrentDeliveries(t *testing.T, e *env) {
	a := e.setup()
	const n = 50
	blobs := make([]store.NewBlob, n)
	for i := range blobs {
		blobs[i] = e.sized(100)
	}
	uids := make([]uint32, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.s.Deliver(context.Background(), store.Delivery{Blob: blobs[i], InternalDate: time.Now(),
				Targets: []store.DeliveryTarget{{AccountID: a.ID}}})
			if err == nil {
				err, uids[i] = out.Targets[0].Err, out.Targets[0].UID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	seen := map[uint32]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("delivery %d: %v", i, errs[i])
		}
		if seen[uids[i]] || uids[i] < 1 || uids[i] > n {
			t.Fatalf("UID %d duplicated or out of range", uids[i])
		}
		seen[uids[i]] = true
	}
	inbox := e.mailbox(a.ID, "INBOX")
	if len(e.messages(inbox.ID)) != n || inbox.UIDNext != n+1 {
		t.Errorf("mailbox %+v", inbox)
	}
	if got := e.reload(a); got.UsedMessages != n || got.UsedBytes != 100*n {
		t.Errorf("usage %d/%d", got.UsedMessages, got.UsedBytes)
	}
}

func testClosed(t *testing.T, e *env) {
	e.setup()
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.AddDomain(e.ctx, "after.example")
	if !errors.Is(err, store.ErrStoreShutdown) {
		t.Errorf("write after Close: %v", err)
	}
}

// testMailboxIDsNotReused: a mailbox id names one mailbox for good (JMAP
// ids and mailbox tombstones rely on it), even once the newest is gone.
func testMailboxIDsNotReused(t *testing.T, e *env) {
	a := e.setup()
	seen := map[int64]bool{}
	boxes, err := e.s.Mailboxes(e.ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range boxes {
		seen[m.ID] = true
	}
	for i := 0; i < 3; i++ {
		m, err := e.s.CreateMailbox(e.ctx, a.ID, "Temp", "")
		if err != nil {
			t.Fatal(err)
		}
		if seen[m.ID] {
			t.Fatalf("mailbox id %d used twice", m.ID)
		}
		seen[m.ID] = true
		if err := e.s.DeleteMailbox(e.ctx, a.ID, "Temp"); err != nil {
			t.Fatal(err)
		}
	}
}
