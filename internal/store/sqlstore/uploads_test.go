package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"postern/internal/store"
)

// An upload older than store.UploadTTL is no longer found, and the purge
// collects its body (file and row) when no message took it.
func TestUploadExpires(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	s.Blobs().SetMemoryMax(0) // a body in a file of its own, which the purge removes
	if _, err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "alice@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := s.NewBody()
	w.Write([]byte("old upload"))
	body, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	up, err := s.PutUpload(ctx, a.ID, "application/octet-stream", body)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("Purge of a fresh upload: %d, %v", n, err)
	}
	old := time.Now().Add(-store.UploadTTL - time.Minute).Unix()
	if err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := tx.ExecContext(ctx, `UPDATE uploads SET created_at = ? WHERE blob_id = ?`, old, up.BlobID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Upload(ctx, a.ID, up.BlobID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Upload of an expired upload: %v", err)
	}
	if n, err := s.Purge(ctx); err != nil || n != 1 {
		t.Fatalf("Purge of an expired upload: %d, %v", n, err)
	}
	if _, err := s.OpenBlob(ctx, up.BlobID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("OpenBlob after expiry: %v", err)
	}
}

// A fresh upload in a segment survives a full compaction, which purges
// first: its row keeps it.
func TestUploadSurvivesCompaction(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "alice@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	up, err := s.PutUpload(ctx, a.ID, "text/plain", store.BytesBody("kept upload"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(ctx, CompactOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	rc, err := s.OpenBlob(ctx, up.BlobID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b := make([]byte, 64)
	n, _ := rc.Read(b)
	if string(b[:n]) != "kept upload" {
		t.Fatalf("after compaction: %q", b[:n])
	}
}
