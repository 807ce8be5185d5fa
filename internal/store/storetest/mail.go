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
		if nb.Inline != nil {
			continue // the body is a database row, gone with its last reference
		}
		_, err := e.blobs.Open(nb.Key)
		if last := i == len(res)-1; (err == nil) == last {
			t.Fatalf("after expunging %d of %d copies, blob file present=%v", i+1, len(res), err == nil)
		}
	}
	_, err = e.s.OpenBlob(e.ctx, blobID)
	wantErr(t, "OpenBlob after last expunge", err, store.ErrNotFound)
	if got, _ := e.s.SearchText(e.ctx, res[0].MailboxID, store.TextQuery{Needle: "body"}); len(got) != 0 {
		t.Errorf("search still finds expunged text: %v", got)
	}
}

func testDeliverPerTargetErrors(t *testing.T, e *env) {
	a := e.setup()
	nb := e.sized(100)
	res := e.deliver(nb,
		store.DeliveryTarget{AccountID: a.ID + 1000},
		store.DeliveryTarget{AccountID: a.ID, Mailbox: "No Such Box"},
		store.DeliveryTarget{AccountID: a.ID, Mailbox: "Junk"})
	wantErr(t, "unknown account", res[0].Err, store.ErrNotFound)
	wantErr(t, "unknown mailbox", res[1].Err, store.ErrNotFound)
	if res[2].Err != nil || res[2].UID != 1 {
		t.Fatalf("good target: %+v", res[2])
	}
	if n := len(e.messages(e.mailbox(a.ID, "Junk").ID)); n != 1 {
		t.Errorf("Junk has %d messages", n)
	}
	if got := e.reload(a); got.UsedMessages != 1 || got.UsedBytes != 100 {
		t.Errorf("usage %d/%d", got.UsedMessages, got.UsedBytes)
	}
	// No target at all takes the body: the store drops it.
	nb2 := e.sized(100)
	res = e.deliver(nb2, store.DeliveryTarget{AccountID: a.ID + 1000})
	wantErr(t, "only target unknown", res[0].Err, store.ErrNotFound)
	if f, err := e.blobs.Open(nb2.Key); err == nil {
		f.Close()
		t.Error("body nobody received is still on disk")
	}
	_, err := e.s.Deliver(e.ctx, store.NewBlob{Key: "../../etc/passwd", Size: 1}, time.Now(), []store.DeliveryTarget{{AccountID: a.ID}})
	wantErr(t, "bad blob key", err, store.ErrInvalid)
	_, err = e.s.Deliver(e.ctx, e.sized(10), time.Now(), nil)
	wantErr(t, "no targets", err, store.ErrInvalid)
	if missing := e.sized(10); missing.Inline == nil {
		if err := e.blobs.Remove(missing.Key); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Deliver(e.ctx, missing, time.Now(), []store.DeliveryTarget{{AccountID: a.ID}})
		wantErr(t, "body not in the blob store", err, store.ErrInvalid)
	}
	wrong := e.sized(10)
	wrong.Size = 11
	_, err = e.s.Deliver(e.ctx, wrong, time.Now(), []store.DeliveryTarget{{AccountID: a.ID}})
	wantErr(t, "wrong body size", err, store.ErrInvalid)
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

// A body delivered in two calls (the over-quota targets retried with
// IgnoreQuota) is one blob with a reference per copy.
func testDeliverRetrySameBlob(t *testing.T, e *env) {
	a := e.setup()
	b := e.account("bob@example.org")
	if err := e.s.SetQuota(e.ctx, b.Address, 10, 0); err != nil {
		t.Fatal(err)
	}
	nb := e.sized(100)
	res := e.deliver(nb, store.DeliveryTarget{AccountID: a.ID}, store.DeliveryTarget{AccountID: b.ID})
	if res[0].Err != nil || !errors.Is(res[1].Err, store.ErrOverQuota) {
		t.Fatalf("first call %+v", res)
	}
	res2 := e.deliver(nb, store.DeliveryTarget{AccountID: b.ID, IgnoreQuota: true})
	if res2[0].Err != nil {
		t.Fatalf("retry %+v", res2)
	}
	ma, mb := e.messages(res[0].MailboxID)[0], e.messages(res2[0].MailboxID)[0]
	if ma.BlobID != mb.BlobID {
		t.Errorf("two blob rows %d and %d for one body", ma.BlobID, mb.BlobID)
	}
	if got, _ := e.s.SearchText(e.ctx, res2[0].MailboxID, store.TextQuery{Needle: fmt.Sprintf("message%d", e.n)}); len(got) != 1 {
		t.Errorf("retried copy not searchable: %v", got)
	}
	if _, _, err := e.s.Expunge(e.ctx, res[0].MailboxID, []uint32{res[0].UID}); err != nil {
		t.Fatal(err)
	}
	if rc, err := e.s.OpenBlob(e.ctx, mb.BlobID); err != nil {
		t.Errorf("body gone while bob still has a copy: %v", err)
	} else {
		rc.Close()
	}
}
