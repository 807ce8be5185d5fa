package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"postern/internal/blob"
	"postern/internal/store"
	"postern/internal/store/storetest"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	dir := t.TempDir()
	b, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), filepath.Join(dir, "postern.db"), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}
