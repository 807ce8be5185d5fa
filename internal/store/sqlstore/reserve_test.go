package sqlstore

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/store"
)

// TestDeleteOnFullDisk: on a full disk an expunge, given the reserve
// back, succeeds (issue 13: users must be able to free space); the
// reserve is made again later.
func TestDeleteOnFullDisk(t *testing.T) {
	ctx := context.Background()
	s, err := OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(s.reserve.path); err != nil {
		t.Fatalf("no reserve after Open: %v", err)
	}
	if _, err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	acct, err := s.AddAccount(ctx, "alice@example.org", store.Credentials{PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Append(ctx, mb.ID, store.NewBlob{Body: store.BytesBody("Subject: x\r\n\r\nbody\r\n")}, store.DeliveryTarget{AccountID: acct.ID, Mailbox: "INBOX"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The disk is full as long as the reserve is there.
	var full atomic.Bool
	full.Store(true)
	s.reserve.fail = func() bool {
		if _, err := os.Stat(s.reserve.path); err != nil {
			full.Store(false)
		}
		return full.Load()
	}
	gone, _, err := s.Expunge(ctx, mb.ID, []uint32{m.UID})
	if err != nil || len(gone) != 1 {
		t.Fatalf("expunge on a full disk: %v %v", gone, err)
	}
	if _, err := os.Stat(s.reserve.path); err == nil {
		t.Error("the reserve is still there after it was needed")
	}
	s.reserve.fail = nil
	if err := s.reserve.ensure(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(s.reserve.path); err != nil || fi.Size() != reserveBytes {
		t.Errorf("reserve made again: %v %v", fi, err)
	}
}
