package storetest

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"postern/internal/store"
)

func testDeliverSharesBlob(t *testing.T, e *env) {
	a := e.setup()
	b := e.account("bob@example.org")
	content := "From: x@y.org\r\nSubject: shared\r\n\r\nbody\r\n"
	nb := e.body(content, "body", "Subject: shared")
	res := e.deliver(nb,
		store.DeliveryTarget{AccountID: a.ID},
		store.DeliveryTarget{AccountID: b.ID, Flags: store.FlagSeen, Keywords: []string{"$Label1"}},
		store.DeliveryTarget{AccountID: b.ID, Mailbox: "Archive"})
	var blobID int64
	for i, r := range res {
		if r.Err != nil || r.UID != 1 || r.UIDValidity == 0 || r.MailboxID == 0 {
			t.Fatalf("result %d: %+v", i, r)
		}
		msgs := e.messages(r.MailboxID)
		if len(msgs) != 1 {
			t.Fatalf("target %d: %d messages", i, len(msgs))
		}
		m := msgs[0]
		if blobID == 0 {
			blobID = m.BlobID
		} else if m.BlobID != blobID {
			t.Errorf("target %d: blob %d, want the shared %d", i, m.BlobID, blobID)
		}
		if m.Size != int64(len(content)) || string(m.Envelope) != "env:From: x@" || string(m.BodyStructure) != "bs" ||
			m.Preview != "preview" || !m.InternalDate.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("target %d: message %+v", i, m)
		}
	}
	if m := e.messages(res[1].MailboxID)[0]; m.Flags != store.FlagSeen || len(m.Keywords) != 1 || m.Keywords[0] != "$Label1" {
		t.Errorf("flags/keywords not stored: %+v", m)
	}
	rc, err := e.s.OpenBlob(e.ctx, blobID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != content {
		t.Errorf("OpenBlob: %q", got)
	}
	// The body lives while any copy does.
	for i, r := range res {
		if _, _, err := e.s.Expunge(e.ctx, r.MailboxID, []uint32{r.UID}); err != nil {
			t.Fatal(err)
		}
		if i < len(res)-1 {
			e.purge()
			if got := e.readBlob(blobID); got != content {
				t.Fatalf("after expunging %d of %d copies, body %q", i+1, len(res), got)
			}
		}
	}
	e.purge()
	_, err = e.s.OpenBlob(e.ctx, blobID)
	wantErr(t, "OpenBlob after last expunge", err, store.ErrNotFound)
	if got, _ := e.s.SearchText(e.ctx, res[0].MailboxID, store.TextQuery{Needle: "body"}); len(got) != 0 {
		t.Errorf("search still finds expunged text: %v", got)
	}
}

func testDeliverPerTargetErrors(t *testing.T, e *env) {
	a := e.setup()
	// All copies or none: one target's account gone fails the delivery (a
	// missing mailbox is INBOX, see DeliverMissingMailbox).
	for _, bad := range []store.DeliveryTarget{{AccountID: a.ID + 1000}} {
		_, err := e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(100), InternalDate: time.Now(),
			Targets: []store.DeliveryTarget{{AccountID: a.ID, Mailbox: "Junk"}, bad}})
		wantErr(t, fmt.Sprintf("delivery with target %+v", bad), err, store.ErrNotFound)
	}
	if n := len(e.messages(e.mailbox(a.ID, "Junk").ID)); n != 0 {
		t.Errorf("Junk has %d messages from failed deliveries", n)
	}
	if res := e.deliver(e.sized(100), store.DeliveryTarget{AccountID: a.ID, Mailbox: "Junk"}); res[0].Err != nil || res[0].UID != 1 {
		t.Fatalf("good target: %+v", res[0])
	}
	if got := e.reload(a); got.UsedMessages != 1 || got.UsedBytes != 100 {
		t.Errorf("usage %d/%d", got.UsedMessages, got.UsedBytes)
	}
	_, err := e.s.Deliver(e.ctx, store.Delivery{InternalDate: time.Now(), Targets: []store.DeliveryTarget{{AccountID: a.ID}}})
	wantErr(t, "no body", err, store.ErrInvalid)
	_, err = e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(10), InternalDate: time.Now()})
	wantErr(t, "no targets", err, store.ErrInvalid)
	_, err = e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(10), InternalDate: time.Now(),
		Queue: []store.QueuedCopy{{Skip: 11, NewQueueMessage: store.NewQueueMessage{Recipients: []store.NewQueueRecipient{{Rcpt: "x@y.test"}}}}}})
	wantErr(t, "skip beyond the body", err, store.ErrInvalid)
	if got := e.reload(a); got.UsedMessages != 1 || got.UsedBytes != 100 {
		t.Errorf("usage after refused deliveries %d/%d", got.UsedMessages, got.UsedBytes)
	}
}

func testQuota(t *testing.T, e *env) {
	a := e.setup()
	if err := e.s.SetQuota(e.ctx, a.Address, 250, 0); err != nil {
		t.Fatal(err)
	}
	inbox := e.mailbox(a.ID, "INBOX")
	tgt := store.DeliveryTarget{AccountID: a.ID}
	for i, want := range []error{nil, nil, store.ErrOverQuota} {
		r := e.deliver(e.sized(100), tgt)[0]
		wantErr(t, "delivery", r.Err, want)
		if want != nil && r.UID != 0 {
			t.Errorf("delivery %d over quota got UID %d", i, r.UID)
		}
	}
	if got := e.reload(a); got.UsedBytes != 200 || got.UsedMessages != 2 {
		t.Errorf("usage %d bytes %d messages, want 200/2", got.UsedBytes, got.UsedMessages)
	}
	r := e.deliver(e.sized(100), store.DeliveryTarget{AccountID: a.ID, IgnoreQuota: true})[0]
	if r.Err != nil {
		t.Fatalf("IgnoreQuota: %v", r.Err)
	}
	_, err := e.s.Append(e.ctx, inbox.ID, e.sized(10), store.DeliveryTarget{AccountID: a.ID}, time.Now())
	wantErr(t, "Append over quota", err, store.ErrOverQuota)
	// A copy needs room, a move does not.
	_, _, err = e.s.Copy(e.ctx, inbox.ID, []uint32{1}, e.mailbox(a.ID, "Archive").ID, false)
	wantErr(t, "Copy over quota", err, store.ErrOverQuota)
	if _, _, err := e.s.Copy(e.ctx, inbox.ID, []uint32{1}, e.mailbox(a.ID, "Archive").ID, true); err != nil {
		t.Errorf("Move over quota: %v", err)
	}
	if got := e.reload(a); got.UsedBytes != 300 || got.UsedMessages != 3 {
		t.Errorf("usage after move %d/%d, want 300/3", got.UsedBytes, got.UsedMessages)
	}
	if _, _, err := e.s.Expunge(e.ctx, inbox.ID, []uint32{2, 3}); err != nil {
		t.Fatal(err)
	}
	if got := e.reload(a); got.UsedBytes != 100 || got.UsedMessages != 1 {
		t.Errorf("usage after expunge %d/%d, want 100/1", got.UsedBytes, got.UsedMessages)
	}
	if err := e.s.SetQuota(e.ctx, a.Address, 0, 2); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "message quota 1", e.deliver(e.sized(10), tgt)[0].Err, nil)
	wantErr(t, "message quota 2", e.deliver(e.sized(10), tgt)[0].Err, store.ErrOverQuota)
	if err := e.s.DeleteMailbox(e.ctx, a.ID, "Archive"); err != nil {
		t.Fatal(err)
	}
	if got := e.reload(a); got.UsedBytes != 10 || got.UsedMessages != 1 {
		t.Errorf("usage after mailbox delete %d/%d, want 10/1", got.UsedBytes, got.UsedMessages)
	}
}

func testUIDsModSeqExpunge(t *testing.T, e *env) {
	a := e.setup()
	inbox := e.mailbox(a.ID, "INBOX")
	hms0 := inbox.HighestModSeq
	var mods []uint64
	for i := uint32(1); i <= 3; i++ {
		if u := e.deliverOK(a.ID, ""); u != i {
			t.Fatalf("UID %d, want %d", u, i)
		}
	}
	msgs := e.messages(inbox.ID)
	for _, m := range msgs {
		mods = append(mods, m.ModSeq)
	}
	if len(mods) != 3 || !(hms0 < mods[0] && mods[0] < mods[1] && mods[1] < mods[2]) {
		t.Fatalf("modseqs %v after %d", mods, hms0)
	}
	inbox = e.mailbox(a.ID, "INBOX")
	if inbox.UIDNext != 4 || inbox.HighestModSeq != mods[2] {
		t.Fatalf("mailbox %+v", inbox)
	}
	removed, hms, err := e.s.Expunge(e.ctx, inbox.ID, []uint32{2, 99})
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "expunged", removed, []uint32{2})
	if hms <= mods[2] || e.mailbox(a.ID, "INBOX").HighestModSeq != hms {
		t.Errorf("highest modseq %d after expunge (was %d)", hms, mods[2])
	}
	exp, err := e.s.ExpungedSince(e.ctx, inbox.ID, mods[2])
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "ExpungedSince", exp, []uint32{2})
	if exp, _ := e.s.ExpungedSince(e.ctx, inbox.ID, hms); len(exp) != 0 {
		t.Errorf("ExpungedSince(current) = %v", exp)
	}
	// Expunging nothing changes nothing.
	removed, hms2, err := e.s.Expunge(e.ctx, inbox.ID, []uint32{2})
	if err != nil || len(removed) != 0 || hms2 != hms {
		t.Errorf("empty expunge: %v %d %v", removed, hms2, err)
	}
	// UIDs are never reused, even after expunging the highest.
	if _, _, err := e.s.Expunge(e.ctx, inbox.ID, []uint32{3}); err != nil {
		t.Fatal(err)
	}
	if u := e.deliverOK(a.ID, "INBOX"); u != 4 {
		t.Errorf("UID after expunge %d, want 4", u)
	}
	wantUIDs(t, "Messages", uidsOf(e.messages(inbox.ID)), []uint32{1, 4})
	if got, _ := e.s.Messages(e.ctx, inbox.ID, 2, 3); len(got) != 0 {
		t.Errorf("Messages(2,3) = %v", uidsOf(got))
	}
	changed, err := e.s.MessagesChangedSince(e.ctx, inbox.ID, hms)
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "MessagesChangedSince", uidsOf(changed), []uint32{4})
}

func testUIDValidityUnique(t *testing.T, e *env) {
	a := e.setup()
	seen := map[uint32]string{}
	mbs, _ := e.s.Mailboxes(e.ctx, a.ID)
	for _, m := range mbs {
		if other, dup := seen[m.UIDValidity]; dup {
			t.Errorf("UIDVALIDITY %d of %s and %s", m.UIDValidity, m.Name, other)
		}
		seen[m.UIDValidity] = m.Name
	}
	for i := range 3 {
		m, err := e.s.CreateMailbox(e.ctx, a.ID, "Projects", "")
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := seen[m.UIDValidity]; dup {
			t.Errorf("round %d: UIDVALIDITY %d reused (was %s)", i, m.UIDValidity, other)
		}
		seen[m.UIDValidity] = m.Name
		if err := e.s.DeleteMailbox(e.ctx, a.ID, "Projects"); err != nil {
			t.Fatal(err)
		}
	}
}

func testAppend(t *testing.T, e *env) {
	a := e.setup()
	drafts := e.mailbox(a.ID, "Drafts")
	date := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	m, err := e.s.Append(e.ctx, drafts.ID, e.sized(120), store.DeliveryTarget{AccountID: a.ID, Flags: store.FlagDraft | store.FlagSeen, Keywords: []string{"Work"}}, date)
	if err != nil {
		t.Fatal(err)
	}
	if m.UID != 1 || m.MailboxID != drafts.ID || m.Flags != store.FlagDraft|store.FlagSeen || !m.InternalDate.Equal(date) || m.Size != 120 {
		t.Errorf("Append returned %+v", m)
	}
	got := e.messages(drafts.ID)
	if len(got) != 1 || got[0].ID != m.ID || got[0].ModSeq != m.ModSeq || len(got[0].Keywords) != 1 {
		t.Errorf("stored %+v", got)
	}
	_, err = e.s.Append(e.ctx, drafts.ID+1000, e.sized(10), store.DeliveryTarget{AccountID: a.ID}, date)
	wantErr(t, "Append to unknown mailbox", err, store.ErrNotFound)
	b := e.account("bob@example.org")
	_, err = e.s.Append(e.ctx, drafts.ID, e.sized(10), store.DeliveryTarget{AccountID: b.ID}, date)
	wantErr(t, "Append to another account's mailbox", err, store.ErrInvalid)
	_, err = e.s.Append(e.ctx, drafts.ID, e.sized(10), store.DeliveryTarget{AccountID: a.ID, Keywords: []string{"bad word"}}, date)
	wantErr(t, "Append with bad keyword", err, store.ErrInvalid)
}

func testMailboxStatus(t *testing.T, e *env) {
	a := e.setup()
	inbox := e.mailbox(a.ID, "INBOX")
	e.deliver(e.sized(100), store.DeliveryTarget{AccountID: a.ID})
	e.deliver(e.sized(200), store.DeliveryTarget{AccountID: a.ID, Flags: store.FlagSeen})
	e.deliver(e.sized(300), store.DeliveryTarget{AccountID: a.ID, Flags: store.FlagSeen | store.FlagDeleted})
	st, err := e.s.MailboxStatus(e.ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 3 || st.Unseen != 1 || st.Deleted != 1 || st.Size != 600 || st.UIDNext != 4 || st.Name != "INBOX" {
		t.Errorf("status %+v", st)
	}
	_, err = e.s.MailboxStatus(e.ctx, inbox.ID+1000)
	wantErr(t, "status of unknown mailbox", err, store.ErrNotFound)
}

// With QuotaFallback a target over quota still gets its copy when another
// target takes the message; alone, it is refused and nothing is stored.
func testQuotaFallback(t *testing.T, e *env) {
	a := e.setup()
	b := e.account("bob@example.org")
	if err := e.s.SetQuota(e.ctx, b.Address, 10, 0); err != nil {
		t.Fatal(err)
	}
	nb := e.sized(100)
	out, err := e.s.Deliver(e.ctx, store.Delivery{Blob: nb, InternalDate: time.Now(), QuotaFallback: true,
		Targets: []store.DeliveryTarget{{AccountID: a.ID}, {AccountID: b.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Targets[0].Err != nil || out.Targets[0].OverQuota || out.Targets[1].Err != nil || !out.Targets[1].OverQuota {
		t.Fatalf("fallback results %+v", out.Targets)
	}
	ma, mb := e.messages(out.Targets[0].MailboxID)[0], e.messages(out.Targets[1].MailboxID)[0]
	if ma.BlobID != mb.BlobID {
		t.Errorf("two blob rows %d and %d for one body", ma.BlobID, mb.BlobID)
	}
	if got := e.reload(b); got.UsedBytes != 100 {
		t.Errorf("bob's usage %d, want 100 (over his quota)", got.UsedBytes)
	}
	if got, _ := e.s.SearchText(e.ctx, out.Targets[1].MailboxID, store.TextQuery{Needle: fmt.Sprintf("message%d", e.n)}); len(got) != 1 {
		t.Errorf("the copy over quota is not searchable: %v", got)
	}
	// Alone over quota: refused, nothing stored.
	out, err = e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(50), InternalDate: time.Now(), QuotaFallback: true,
		Targets: []store.DeliveryTarget{{AccountID: b.ID}}})
	if err != nil || !errors.Is(out.Targets[0].Err, store.ErrOverQuota) {
		t.Fatalf("lone over-quota target: %+v %v", out.Targets, err)
	}
	if got := e.reload(b); got.UsedMessages != 1 {
		t.Errorf("bob has %d messages, want 1", got.UsedMessages)
	}
	// Without QuotaFallback the target fails even when another succeeds.
	out, err = e.s.Deliver(e.ctx, store.Delivery{Blob: e.sized(50), InternalDate: time.Now(),
		Targets: []store.DeliveryTarget{{AccountID: a.ID}, {AccountID: b.ID}}})
	if err != nil || out.Targets[0].Err != nil || !errors.Is(out.Targets[1].Err, store.ErrOverQuota) {
		t.Fatalf("without fallback: %+v %v", out.Targets, err)
	}
	if _, _, err := e.s.Expunge(e.ctx, out.Targets[0].MailboxID, []uint32{out.Targets[0].UID}); err != nil {
		t.Fatal(err)
	}
	e.purge()
	if got := e.readBlob(mb.BlobID); got != e.readBlob(ma.BlobID) {
		t.Errorf("shared body differs")
	}
}
