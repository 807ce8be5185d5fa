package sqlstore

import (
	"context"
	"testing"

	"postern/internal/store"
	"postern/internal/store/storetest"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := OpenDir(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

// TestConformanceFileBodies runs the suite with every body in a file, the
// path large messages take.
func TestConformanceFileBodies(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openTest(t)
		s.Blobs().SetMemoryMax(0)
		return s
	})
}
