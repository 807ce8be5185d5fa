package storetest

import (
	"bytes"
	"testing"

	"postern/internal/store"
)

// testURLAuthKeys: a mailbox's URLAUTH secret is created once and then
// kept, only for the account's own mailbox; reset per mailbox or for all,
// and it goes with its mailbox.
func testURLAuthKeys(t *testing.T, e *env) {
	a := e.setup()
	inbox := e.mailbox(a.ID, "INBOX")
	if _, err := e.s.URLAuthKey(e.ctx, a.ID, inbox.ID, nil); err != store.ErrNotFound {
		t.Fatalf("no key yet: %v, want ErrNotFound", err)
	}
	k1, err := e.s.URLAuthKey(e.ctx, a.ID, inbox.ID, []byte("first-secret"))
	if err != nil || string(k1) != "first-secret" {
		t.Fatalf("create: %q %v", k1, err)
	}
	k2, err := e.s.URLAuthKey(e.ctx, a.ID, inbox.ID, []byte("second-secret"))
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("a second create must keep the first key: %q %v", k2, err)
	}
	wantErr(t, "mailbox of no account of ours", func() error {
		_, err := e.s.URLAuthKey(e.ctx, a.ID+1000, inbox.ID, []byte("x"))
		return err
	}(), store.ErrNotFound)
	other, err := e.s.CreateMailbox(e.ctx, a.ID, "Other", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.URLAuthKey(e.ctx, a.ID, other.ID, []byte("other-secret")); err != nil {
		t.Fatal(err)
	}
	if err := e.s.ResetURLAuthKeys(e.ctx, a.ID, inbox.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.URLAuthKey(e.ctx, a.ID, inbox.ID, nil); err != store.ErrNotFound {
		t.Errorf("reset of one mailbox: %v, want ErrNotFound", err)
	}
	if k, err := e.s.URLAuthKey(e.ctx, a.ID, other.ID, nil); err != nil || string(k) != "other-secret" {
		t.Errorf("the other mailbox's key must stay: %q %v", k, err)
	}
	if err := e.s.DeleteMailbox(e.ctx, a.ID, "Other"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.URLAuthKey(e.ctx, a.ID, other.ID, nil); err != store.ErrNotFound {
		t.Errorf("deleted mailbox: %v, want ErrNotFound", err)
	}
	if _, err := e.s.URLAuthKey(e.ctx, a.ID, inbox.ID, []byte("again")); err != nil {
		t.Fatal(err)
	}
	if err := e.s.ResetURLAuthKeys(e.ctx, a.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.URLAuthKey(e.ctx, a.ID, inbox.ID, nil); err != store.ErrNotFound {
		t.Errorf("reset of all: %v, want ErrNotFound", err)
	}
}
