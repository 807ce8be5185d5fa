package storetest

import (
	"slices"
	"testing"

	"postern/internal/store"
)

func (e *env) flagsOf(mailboxID int64, uid uint32) store.Message {
	e.t.Helper()
	m, err := e.s.Messages(e.ctx, mailboxID, uid, uid)
	if err != nil || len(m) != 1 {
		e.t.Fatalf("message %d: %v %v", uid, m, err)
	}
	return m[0]
}

func testFlags(t *testing.T, e *env) {
	a := e.setup()
	inbox := e.mailbox(a.ID, "INBOX")
	for range 3 {
		e.deliverOK(a.ID, "")
	}
	upd := func(uids []uint32, u store.FlagUpdate) store.FlagResult {
		t.Helper()
		r, err := e.s.UpdateFlags(e.ctx, inbox.ID, uids, u)
		if err != nil {
			t.Fatalf("UpdateFlags(%+v): %v", u, err)
		}
		return r
	}
	before := e.mailbox(a.ID, "INBOX").HighestModSeq
	r := upd([]uint32{1, 2, 77}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen | store.FlagFlagged, Keywords: []string{"$Important", "Work"}})
	wantUIDs(t, "changed", uidsOf(r.Changed), []uint32{1, 2})
	hms := e.mailbox(a.ID, "INBOX").HighestModSeq
	if hms <= before {
		t.Fatalf("highest modseq did not move: %d -> %d", before, hms)
	}
	for _, m := range r.Changed {
		if m.ModSeq != hms || m.Flags != store.FlagSeen|store.FlagFlagged || !slices.Equal(m.Keywords, []string{"$Important", "Work"}) {
			t.Errorf("changed message %+v (highest %d)", m, hms)
		}
	}
	if m := e.flagsOf(inbox.ID, 3); m.Flags != 0 || len(m.Keywords) != 0 || m.ModSeq >= hms {
		t.Errorf("untouched message changed: %+v", m)
	}
	// Adding what is there already (keyword in another case) changes nothing.
	r = upd([]uint32{1}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen, Keywords: []string{"work"}})
	if len(r.Changed) != 0 || e.mailbox(a.ID, "INBOX").HighestModSeq != hms {
		t.Errorf("no-op changed %v", uidsOf(r.Changed))
	}
	r = upd([]uint32{1}, store.FlagUpdate{Op: store.FlagsRemove, Flags: store.FlagSeen, Keywords: []string{"WORK"}})
	if m := e.flagsOf(inbox.ID, 1); m.Flags != store.FlagFlagged || !slices.Equal(m.Keywords, []string{"$Important"}) || m.ModSeq <= hms {
		t.Errorf("after remove: %+v", m)
	}
	r = upd([]uint32{1, 2, 3}, store.FlagUpdate{Op: store.FlagsReplace, Flags: store.FlagAnswered | store.FlagDraft})
	wantUIDs(t, "replace changed", uidsOf(r.Changed), []uint32{1, 2, 3})
	for u := uint32(1); u <= 3; u++ {
		if m := e.flagsOf(inbox.ID, u); m.Flags != store.FlagAnswered|store.FlagDraft || len(m.Keywords) != 0 {
			t.Errorf("after replace: %+v", m)
		}
	}
	names := (store.FlagAnswered | store.FlagDraft).Names()
	if !slices.Equal(names, []string{`\Answered`, `\Draft`}) {
		t.Errorf("Names %v", names)
	}
	_, err := e.s.UpdateFlags(e.ctx, inbox.ID, []uint32{1}, store.FlagUpdate{Op: store.FlagsAdd, Keywords: []string{"two words"}})
	wantErr(t, "bad keyword", err, store.ErrInvalid)
	_, err = e.s.UpdateFlags(e.ctx, inbox.ID, []uint32{1}, store.FlagUpdate{Op: 0})
	wantErr(t, "bad op", err, store.ErrInvalid)
	_, err = e.s.UpdateFlags(e.ctx, inbox.ID+1000, []uint32{1}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen})
	wantErr(t, "unknown mailbox", err, store.ErrNotFound)
	changed, _ := e.s.MessagesChangedSince(e.ctx, inbox.ID, hms)
	wantUIDs(t, "changed since", uidsOf(changed), []uint32{1, 2, 3})
}

// RFC 7162 §3.1.3: STORE (UNCHANGEDSINCE m) fails the messages changed
// after m and changes the others.
func testUnchangedSince(t *testing.T, e *env) {
	a := e.setup()
	inbox := e.mailbox(a.ID, "INBOX")
	e.deliverOK(a.ID, "")
	e.deliverOK(a.ID, "")
	m1 := e.flagsOf(inbox.ID, 1)
	m2 := e.flagsOf(inbox.ID, 2)
	r, err := e.s.UpdateFlags(e.ctx, inbox.ID, []uint32{1, 2}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagDeleted, UnchangedSince: m1.ModSeq})
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "changed", uidsOf(r.Changed), []uint32{1})
	wantUIDs(t, "failed", r.Failed, []uint32{2})
	if e.flagsOf(inbox.ID, 2).Flags != m2.Flags {
		t.Error("failed message was changed")
	}
	r, err = e.s.UpdateFlags(e.ctx, inbox.ID, []uint32{1}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen, UnchangedSince: m1.ModSeq})
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "stale condition failed", r.Failed, []uint32{1})
}

func testCopyMove(t *testing.T, e *env) {
	a := e.setup()
	inbox := e.mailbox(a.ID, "INBOX")
	archive := e.mailbox(a.ID, "Archive")
	for range 3 {
		e.deliverOK(a.ID, "")
	}
	e.deliverOK(a.ID, "Archive") // archive UID 1
	if _, err := e.s.UpdateFlags(e.ctx, inbox.ID, []uint32{2}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagFlagged, Keywords: []string{"Work"}}); err != nil {
		t.Fatal(err)
	}
	src, dst, err := e.s.Copy(e.ctx, inbox.ID, []uint32{3, 2, 50}, archive.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "copy src", src, []uint32{2, 3})
	wantUIDs(t, "copy dst", dst, []uint32{2, 3})
	orig, cp := e.flagsOf(inbox.ID, 2), e.flagsOf(archive.ID, 2)
	if cp.Flags != orig.Flags || !slices.Equal(cp.Keywords, orig.Keywords) || cp.BlobID != orig.BlobID ||
		cp.Size != orig.Size || !cp.InternalDate.Equal(orig.InternalDate) || string(cp.Envelope) != string(orig.Envelope) {
		t.Errorf("copy %+v of %+v", cp, orig)
	}
	if got := e.reload(a); got.UsedMessages != 6 {
		t.Errorf("usage after copy %d messages, want 6", got.UsedMessages)
	}
	wantUIDs(t, "inbox after copy", uidsOf(e.messages(inbox.ID)), []uint32{1, 2, 3})

	hms := e.mailbox(a.ID, "INBOX").HighestModSeq
	src, dst, err = e.s.Copy(e.ctx, inbox.ID, []uint32{1, 3}, archive.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "move src", src, []uint32{1, 3})
	wantUIDs(t, "move dst", dst, []uint32{4, 5})
	wantUIDs(t, "inbox after move", uidsOf(e.messages(inbox.ID)), []uint32{2})
	wantUIDs(t, "archive after move", uidsOf(e.messages(archive.ID)), []uint32{1, 2, 3, 4, 5})
	exp, _ := e.s.ExpungedSince(e.ctx, inbox.ID, hms)
	wantUIDs(t, "moved are expunged", exp, []uint32{1, 3})
	if got := e.reload(a); got.UsedMessages != 6 {
		t.Errorf("usage after move %d messages, want 6", got.UsedMessages)
	}
	// Into the same mailbox: new UIDs, old ones expunged.
	src, dst, err = e.s.Copy(e.ctx, archive.ID, []uint32{1}, archive.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs(t, "self move", dst, []uint32{6})
	wantUIDs(t, "archive after self move", uidsOf(e.messages(archive.ID)), []uint32{2, 3, 4, 5, 6})

	// Across accounts (a shared mailbox): the copy is the other account's.
	b := e.account("bob@example.org")
	_, dst, err = e.s.Copy(e.ctx, inbox.ID, []uint32{2}, e.mailbox(b.ID, "INBOX").ID, false)
	wantUIDs(t, "copy across accounts", dst, []uint32{1})
	if err != nil || e.reload(b).UsedMessages != 1 || e.reload(a).UsedMessages != 6 {
		t.Errorf("copy across accounts: %v; usage bob %d, alice %d", err, e.reload(b).UsedMessages, e.reload(a).UsedMessages)
	}
	_, _, err = e.s.Copy(e.ctx, inbox.ID, []uint32{2}, archive.ID+1000, false)
	wantErr(t, "copy to unknown", err, store.ErrNotFound)
}
