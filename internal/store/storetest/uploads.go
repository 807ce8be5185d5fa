package storetest

import (
	"errors"
	"testing"

	"postern/internal/store"
)

// An upload is readable by its account only, survives a purge while it
// is recorded, and MessagesByBlob finds the account's messages of a body
// and no other account's.
func testUploads(t *testing.T, e *env) {
	a := e.setup()
	b := e.account("bob@example.org")
	up, err := e.s.PutUpload(e.ctx, a.ID, "text/plain", store.BytesBody("hello upload"))
	if err != nil {
		t.Fatalf("PutUpload: %v", err)
	}
	if up.Size != 12 || up.Type != "text/plain" || up.AccountID != a.ID || up.BlobID == 0 {
		t.Fatalf("PutUpload = %+v", up)
	}
	e.purge()
	got, err := e.s.Upload(e.ctx, a.ID, up.BlobID)
	if err != nil || got.Size != 12 || got.Type != "text/plain" {
		t.Fatalf("Upload = %+v, %v", got, err)
	}
	if _, err := e.s.Upload(e.ctx, b.ID, up.BlobID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Upload of another account: %v, want ErrNotFound", err)
	}
	if data := e.readBlob(up.BlobID); data != "hello upload" {
		t.Fatalf("OpenBlob after purge = %q", data)
	}
	if _, err := e.s.PutUpload(e.ctx, 1<<40, "text/plain", store.BytesBody("x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutUpload for no account: %v, want ErrNotFound", err)
	}

	res := e.deliver(e.body("Subject: x\r\n\r\nx\r\n", "x", ""), store.DeliveryTarget{AccountID: a.ID})
	m := e.messages(res[0].MailboxID)[0]
	ms, err := e.s.MessagesByBlob(e.ctx, a.ID, []int64{m.BlobID, up.BlobID})
	if err != nil || len(ms) != 1 || ms[0].ID != m.ID || ms[0].ThreadID == 0 || ms[0].BlobID != m.BlobID {
		t.Fatalf("MessagesByBlob = %+v, %v", ms, err)
	}
	if ms, err := e.s.MessagesByBlob(e.ctx, b.ID, []int64{m.BlobID}); err != nil || len(ms) != 0 {
		t.Fatalf("MessagesByBlob of another account = %+v, %v", ms, err)
	}
	// An account with uploads can be deleted; its uploads go with it.
	bobs, err := e.s.PutUpload(e.ctx, b.ID, "text/plain", store.BytesBody("bob's"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteAccount(e.ctx, "bob@example.org"); err != nil {
		t.Fatalf("DeleteAccount with an upload: %v", err)
	}
	if _, err := e.s.Upload(e.ctx, b.ID, bobs.BlobID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Upload of a deleted account: %v", err)
	}
	e.purge()
}
