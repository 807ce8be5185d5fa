package storetest

import (
	"slices"
	"testing"

	"postern/internal/store"
)

func ids(cs []store.ChangedMessage) []int64 {
	var out []int64
	for _, c := range cs {
		out = append(out, c.ID)
	}
	slices.Sort(out)
	return out
}

// One sequence per account tells what changed since any earlier state:
// created, updated (flags, moves) and destroyed messages, changed and
// deleted mailboxes.
func testAccountChanges(t *testing.T, e *env) {
	a := e.setup()
	other := e.account("bob@example.org")
	inbox, archive := e.mailbox(a.ID, "INBOX"), e.mailbox(a.ID, "Archive")
	e.deliverOK(a.ID, "")
	e.deliverOK(a.ID, "")
	s0, err := e.s.AccountModSeq(e.ctx, a.ID)
	if err != nil || s0 == 0 {
		t.Fatalf("AccountModSeq %d %v", s0, err)
	}
	msgs := e.messages(inbox.ID)
	m1, m2 := msgs[0], msgs[1]
	e.deliverOK(a.ID, "") // created
	e.deliverOK(other.ID, "")
	if _, err := e.s.UpdateFlags(e.ctx, inbox.ID, []uint32{m1.UID}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.Copy(e.ctx, inbox.ID, []uint32{m2.UID}, archive.ID, true); err != nil {
		t.Fatal(err)
	}
	ch, err := e.s.Changes(e.ctx, a.ID, s0)
	if err != nil {
		t.Fatal(err)
	}
	created := e.messages(inbox.ID)
	newest := created[len(created)-1]
	if !slices.Equal(ids(ch.Created), []int64{newest.ID}) || !slices.Equal(ids(ch.Updated), []int64{m1.ID, m2.ID}) || len(ch.Destroyed) != 0 {
		t.Errorf("changes since %d: created %v updated %v destroyed %v", s0, ids(ch.Created), ids(ch.Updated), ids(ch.Destroyed))
	}
	for _, c := range ch.Updated {
		if c.ID == m2.ID && c.MailboxID != archive.ID {
			t.Errorf("moved message reported in mailbox %d", c.MailboxID)
		}
	}
	if !slices.Contains(ch.Mailboxes, inbox.ID) || !slices.Contains(ch.Mailboxes, archive.ID) {
		t.Errorf("changed mailboxes %v", ch.Mailboxes)
	}
	s1 := ch.ModSeq
	if now, _ := e.s.AccountModSeq(e.ctx, a.ID); now != s1 || s1 <= s0 {
		t.Errorf("state %d after changes from %d (account at %d)", s1, s0, now)
	}
	if ch, _ := e.s.Changes(e.ctx, a.ID, s1); len(ch.Created)+len(ch.Updated)+len(ch.Destroyed)+len(ch.Mailboxes) != 0 {
		t.Errorf("changes since the current state: %+v", ch)
	}
	// Expunge, then a mailbox with its messages goes.
	if _, _, err := e.s.Expunge(e.ctx, inbox.ID, []uint32{m1.UID}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteMailbox(e.ctx, a.ID, "Archive"); err != nil {
		t.Fatal(err)
	}
	ch, err = e.s.Changes(e.ctx, a.ID, s1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(ch.Destroyed), []int64{m1.ID, m2.ID}) || !slices.Equal(ch.MailboxesDestroyed, []int64{archive.ID}) {
		t.Errorf("destroyed %v, mailboxes destroyed %v", ids(ch.Destroyed), ch.MailboxesDestroyed)
	}
	if ch.Destroyed[0].ThreadID == 0 {
		t.Error("tombstone without its thread")
	}
	mb, err := e.s.CreateMailbox(e.ctx, a.ID, "Projects", "")
	if err != nil {
		t.Fatal(err)
	}
	if ch, _ := e.s.Changes(e.ctx, a.ID, ch.ModSeq); !slices.Equal(ch.Mailboxes, []int64{mb.ID}) {
		t.Errorf("created mailbox: changes %+v", ch)
	}
	_, err = e.s.Changes(e.ctx, a.ID+1000, 0)
	wantErr(t, "changes of an unknown account", err, store.ErrNotFound)
}
