package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"postern/internal/store"
)

// aclFixture: alice's mailbox Team, bob and carol of her domain, eve of
// another.
func aclFixture(t *testing.T, e *env) (s store.Store, alice, bob, carol, eve store.Account, shared store.Mailbox) {
	t.Helper()
	ctx := e.ctx
	s = e.s
	for _, d := range []string{"example.test", "other.test"} {
		if _, err := s.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	add := func(addr string) store.Account {
		a, err := s.AddAccount(ctx, addr, store.Credentials{})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	alice, bob, carol, eve = add("alice@example.test"), add("bob@example.test"), add("carol@example.test"), add("eve@other.test")
	shared, err := s.CreateMailbox(ctx, alice.ID, "Team", "")
	if err != nil {
		t.Fatal(err)
	}
	return s, alice, bob, carol, eve, shared
}

func testACLRightsAndSharing(t *testing.T, e *env) {
	ctx := context.Background()
	s, alice, bob, carol, eve, team := aclFixture(t, e)

	if r, err := s.MailboxRights(ctx, team.ID, alice.ID); err != nil || r != store.AllRights {
		t.Fatalf("owner rights = %v, %v", r, err)
	}
	if r, _ := s.MailboxRights(ctx, team.ID, bob.ID); r != 0 {
		t.Fatalf("bob has %v before any grant", r)
	}
	lrs, _ := store.ParseRights("lrs")
	if err := s.SetMailboxACL(ctx, team.ID, store.ACLEntry{Identifier: "Bob@Example.test", Rights: lrs}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.MailboxRights(ctx, team.ID, bob.ID); r != lrs {
		t.Fatalf("bob rights = %v, want lrs", r)
	}
	// anyone reaches carol, not eve of another domain.
	lr, _ := store.ParseRights("lr")
	if err := s.SetMailboxACL(ctx, team.ID, store.ACLEntry{Identifier: "anyone", Rights: lr | store.RightWrite}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.MailboxRights(ctx, team.ID, carol.ID); r.String() != "lrw" {
		t.Fatalf("carol rights = %v, want lrw", r)
	}
	if r, _ := s.MailboxRights(ctx, team.ID, eve.ID); r != 0 {
		t.Fatalf("eve of another domain has %v", r)
	}
	// A negative entry wins over anyone's grant.
	if err := s.SetMailboxACL(ctx, team.ID, store.ACLEntry{Identifier: "carol@example.test", Negative: true, Rights: store.RightWrite}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.MailboxRights(ctx, team.ID, carol.ID); r.String() != "lr" {
		t.Fatalf("carol rights with -w = %v, want lr", r)
	}
	acl, err := s.MailboxACL(ctx, team.ID)
	if err != nil || len(acl) != 3 || acl[0].Identifier != store.Anyone {
		t.Fatalf("ACL = %+v, %v", acl, err)
	}

	shared, err := s.SharedMailboxes(ctx, bob.ID)
	if err != nil || len(shared) != 1 || shared[0].Name != "Team" || shared[0].Owner != "alice@example.test" ||
		shared[0].Rights.String() != "lrsw" || !shared[0].Subscribed {
		t.Fatalf("bob's shared mailboxes = %+v, %v", shared, err)
	}
	if err := s.SetSharedSubscribed(ctx, bob.ID, team.ID, false); err != nil {
		t.Fatal(err)
	}
	if shared, _ = s.SharedMailboxes(ctx, bob.ID); len(shared) != 1 || shared[0].Subscribed {
		t.Fatalf("unsubscribed: %+v", shared)
	}
	if own, _ := s.Mailbox(ctx, alice.ID, "Team"); own.Subscribed {
		t.Fatal("bob's unsubscribe touched alice's subscription")
	}
	if shared, _ = s.SharedMailboxes(ctx, alice.ID); len(shared) != 0 {
		t.Fatalf("the owner sees her own mailbox as shared: %+v", shared)
	}

	// Revoking: no rights, no entry.
	if err := s.SetMailboxACL(ctx, team.ID, store.ACLEntry{Identifier: "bob@example.test"}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.MailboxRights(ctx, team.ID, bob.ID); r.String() != "lrw" { // anyone's grant stays
		t.Fatalf("bob after revoke = %v", r)
	}

	for _, bad := range []store.ACLEntry{
		{Identifier: "alice@example.test", Rights: lr}, // the owner
		{Identifier: "eve@other.test", Rights: lr},     // another domain
	} {
		if err := s.SetMailboxACL(ctx, team.ID, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("SetMailboxACL(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if err := s.SetMailboxACL(ctx, team.ID, store.ACLEntry{Identifier: "nobody@example.test", Rights: lr}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown identifier: %v", err)
	}
}

func testACLGoesWithMailboxAndGrantee(t *testing.T, e *env) {
	ctx := context.Background()
	s, alice, bob, carol, _, team := aclFixture(t, e)
	lr, _ := store.ParseRights("lr")
	for _, id := range []string{"bob@example.test", "carol@example.test"} {
		if err := s.SetMailboxACL(ctx, team.ID, store.ACLEntry{Identifier: id, Rights: lr}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RenameMailbox(ctx, alice.ID, "Team", "Projects/Team"); err != nil {
		t.Fatal(err)
	}
	if sh, _ := s.SharedMailboxes(ctx, bob.ID); len(sh) != 1 || sh[0].Name != "Projects/Team" {
		t.Fatalf("after rename: %+v", sh)
	}
	if err := s.DeleteAccount(ctx, "carol@example.test"); err != nil {
		t.Fatal(err)
	}
	if acl, _ := s.MailboxACL(ctx, team.ID); len(acl) != 1 || acl[0].Identifier != "bob@example.test" {
		t.Fatalf("after deleting carol: %+v", acl)
	}
	if err := s.DeleteMailbox(ctx, alice.ID, "Projects/Team"); err != nil {
		t.Fatal(err)
	}
	if sh, _ := s.SharedMailboxes(ctx, bob.ID); len(sh) != 0 {
		t.Fatalf("after delete: %+v", sh)
	}
	_ = carol
}

func testCopyIntoSharedMailboxCountsForOwner(t *testing.T, e *env) {
	ctx := context.Background()
	s, alice, bob, _, _, team := aclFixture(t, e)
	inbox, err := s.Mailbox(ctx, bob.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	body := store.BytesBody("Subject: hi\r\n\r\nhello\r\n")
	m, err := s.Append(ctx, inbox.ID, store.NewBlob{Body: body}, store.DeliveryTarget{AccountID: bob.ID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, dst, err := s.Copy(ctx, inbox.ID, []uint32{m.UID}, team.ID, false); err != nil || len(dst) != 1 {
		t.Fatalf("copy = %v, %v", dst, err)
	}
	a, _ := s.AccountByID(ctx, alice.ID)
	if a.UsedMessages != 1 || a.UsedBytes != int64(len(body)) {
		t.Fatalf("alice uses %d messages, %d bytes", a.UsedMessages, a.UsedBytes)
	}
	// A move out of the shared mailbox gives the message back to bob.
	if _, _, err := s.Copy(ctx, team.ID, []uint32{1}, inbox.ID, true); err != nil {
		t.Fatal(err)
	}
	a, _ = s.AccountByID(ctx, alice.ID)
	b, _ := s.AccountByID(ctx, bob.ID)
	if a.UsedMessages != 0 || b.UsedMessages != 2 {
		t.Fatalf("after move: alice %d, bob %d messages", a.UsedMessages, b.UsedMessages)
	}
	if err := s.SetQuota(ctx, "alice@example.test", 1, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Copy(ctx, inbox.ID, []uint32{m.UID}, team.ID, false); !errors.Is(err, store.ErrOverQuota) {
		t.Fatalf("copy over the owner's quota = %v", err)
	}
}
