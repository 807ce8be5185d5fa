package storetest

import (
	"slices"
	"testing"
	"time"

	"postern/internal/store"
)

func testIdentities(t *testing.T, e *env) {
	a := e.setup()
	list, s0, err := e.s.Identities(e.ctx, a.ID)
	if err != nil || len(list) != 1 || !list[0].IsDefault || list[0].Email != a.Address || s0 == 0 {
		t.Fatalf("first read: %+v state %d %v", list, s0, err)
	}
	def := list[0]
	if again, s, _ := e.s.Identities(e.ctx, a.ID); len(again) != 1 || s != s0 {
		t.Fatalf("second read made another default: %+v %d", again, s)
	}
	if _, _, err := e.s.Identities(e.ctx, 999999); err == nil {
		t.Error("identities of no account")
	}
	made, err := e.s.CreateIdentity(e.ctx, store.Identity{AccountID: a.ID, Name: "Sales", Email: "sales@example.org",
		ReplyTo: []byte(`[{"email":"x@example.org"}]`), TextSignature: "--\nSales"})
	if err != nil || made.ID == 0 || made.IsDefault || made.ModSeq <= s0 {
		t.Fatalf("create: %+v %v", made, err)
	}
	ch, err := e.s.IdentityChanges(e.ctx, a.ID, s0)
	if c, u, d := ch.IDs(); err != nil || !slices.Equal(c, []int64{made.ID}) || len(u)+len(d) != 0 || ch.State != made.ModSeq ||
		ch.Changes[0].ModSeq != made.ModSeq || ch.Changes[0].CreatedModSeq != made.ModSeq {
		t.Fatalf("changes after create: %+v %v", ch, err)
	}
	def.Name = "Alice"
	def.Email = "ignored@example.org"
	up, err := e.s.UpdateIdentity(e.ctx, def)
	if err != nil || up.Name != "Alice" || up.Email != a.Address || !up.IsDefault || up.ModSeq <= made.ModSeq {
		t.Fatalf("update: %+v %v", up, err)
	}
	wantErr(t, "update unknown", func() error {
		_, err := e.s.UpdateIdentity(e.ctx, store.Identity{ID: 999999, AccountID: a.ID})
		return err
	}(), store.ErrNotFound)
	wantErr(t, "destroy default", e.s.DestroyIdentity(e.ctx, a.ID, def.ID), store.ErrNotPermitted)
	if err := e.s.DestroyIdentity(e.ctx, a.ID, made.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "destroy twice", e.s.DestroyIdentity(e.ctx, a.ID, made.ID), store.ErrNotFound)
	ch, err = e.s.IdentityChanges(e.ctx, a.ID, made.ModSeq)
	if c, u, d := ch.IDs(); err != nil || !slices.Equal(u, []int64{def.ID}) || !slices.Equal(d, []int64{made.ID}) || len(c) != 0 {
		t.Fatalf("changes after update and destroy: %+v %v", ch, err)
	}
	// Created and destroyed after since: in neither list.
	if ch, _ := e.s.IdentityChanges(e.ctx, a.ID, s0); len(ch.Changes) != 1 || ch.Changes[0].ID != def.ID || ch.Changes[0].Created {
		t.Errorf("created-then-destroyed reported: %+v", ch)
	}
	wantErr(t, "state ahead", func() error { _, err := e.s.IdentityChanges(e.ctx, a.ID, ch.State+5); return err }(), store.ErrInvalid)
	list, _, _ = e.s.Identities(e.ctx, a.ID)
	if len(list) != 1 || list[0].ID != def.ID {
		t.Errorf("after destroy: %+v", list)
	}
	if again, err := e.s.CreateIdentity(e.ctx, store.Identity{AccountID: a.ID, Email: "x@example.org"}); err != nil || again.ID == made.ID {
		t.Errorf("id reused or create failed: %+v %v", again, err)
	}
}

func testEmailSubmissions(t *testing.T, e *env) {
	a := e.setup()
	b := e.account("bob@example.org")
	t0 := time.UnixMilli(1700000000123).UTC()
	sub := store.EmailSubmission{AccountID: a.ID, IdentityID: 3, EmailID: 10, ThreadID: 9, Envelope: []byte(`{"x":1}`),
		DeliveryStatus: []byte(`{}`), SendAt: t0, UndoStatus: "final", QueueIDs: []int64{4, 5}}
	one, err := e.s.CreateEmailSubmission(e.ctx, sub)
	if err != nil || one.ID == 0 || one.ModSeq != 1 {
		t.Fatalf("create: %+v %v", one, err)
	}
	sub.SendAt = t0.Add(48 * time.Hour)
	two, _ := e.s.CreateEmailSubmission(e.ctx, sub)
	sub.AccountID = b.ID
	if _, err := e.s.CreateEmailSubmission(e.ctx, sub); err != nil {
		t.Fatal(err)
	}
	list, state, err := e.s.EmailSubmissions(e.ctx, a.ID, nil)
	if err != nil || len(list) != 2 || state != 2 || list[0].ID != one.ID || !list[0].SendAt.Equal(t0) ||
		string(list[0].Envelope) != `{"x":1}` || !slices.Equal(list[0].QueueIDs, []int64{4, 5}) || list[0].ThreadID != 9 {
		t.Fatalf("list: %+v %d %v", list, state, err)
	}
	if got, _, _ := e.s.EmailSubmissions(e.ctx, a.ID, []int64{two.ID, 999999}); len(got) != 1 || got[0].ID != two.ID {
		t.Errorf("by id: %+v", got)
	}
	if err := e.s.DestroyEmailSubmission(e.ctx, b.ID, one.ID); err != store.ErrNotFound {
		t.Errorf("destroy another account's: %v", err)
	}
	n, err := e.s.PurgeEmailSubmissions(e.ctx, a.ID, t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	ch, err := e.s.EmailSubmissionChanges(e.ctx, a.ID, 2)
	if _, _, d := ch.IDs(); err != nil || !slices.Equal(d, []int64{one.ID}) || ch.State != 3 {
		t.Fatalf("changes after purge: %+v %v", ch, err)
	}
	// Tombstones destroyed before the cutoff go, and changes from before
	// them cannot be told any more.
	if _, err := e.s.PurgeEmailSubmissions(e.ctx, a.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "changes from before the purge", func() error { _, err := e.s.EmailSubmissionChanges(e.ctx, a.ID, 1); return err }(), store.ErrStateTooOld)
	if list, state, _ := e.s.EmailSubmissions(e.ctx, a.ID, nil); len(list) != 0 || state != 4 {
		t.Errorf("after purge: %+v %d", list, state)
	}
	if list, _, _ := e.s.EmailSubmissions(e.ctx, b.ID, nil); len(list) != 1 {
		t.Errorf("bob's purged too: %+v", list)
	}
	// An account goes with its records.
	if _, _, err := e.s.Identities(e.ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteAccount(e.ctx, b.Address); err != nil {
		t.Fatalf("deleting an account with identities and submissions: %v", err)
	}
	if _, _, err := e.s.Identities(e.ctx, b.ID); err == nil {
		t.Error("identities of a deleted account")
	}
}
