package adminops_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"postern/internal/adminops"
)

func bodiesBytes(t *testing.T, d *adminops.DashboardData) int64 {
	t.Helper()
	out, err := d.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return out.Disk.BodiesBytes
}

// TestDashboardBodiesAfterDelivery: a delivery made after the page was
// looked at is counted at the next look (the figure was once kept for a
// minute and showed 0 B after the first deliveries).
func TestDashboardBodiesAfterDelivery(t *testing.T) {
	f := newFixture(t, true)
	d := adminops.NewDashboard(adminops.DashboardOptions{BodyDir: filepath.Join(f.dir, "blobs")})
	if n := bodiesBytes(t, d); n != 0 {
		t.Fatalf("bodies before any delivery: %d bytes", n)
	}
	f.send(t, "bob@remote.test")
	first := bodiesBytes(t, d)
	if first <= 0 {
		t.Fatalf("bodies after a delivery: %d bytes", first)
	}
	f.send(t, "carol@remote.test")
	if n := bodiesBytes(t, d); n <= first {
		t.Errorf("bodies after a second delivery: %d bytes, was %d", n, first)
	}
}

// TestDashboardBodiesLayout: segment files that grow in place, large
// bodies added to and removed from a shard whose total is kept, and the
// temporary directory are all counted as they are now.
func TestDashboardBodiesLayout(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, n int) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write("segments/0000000001.seg", 1000)
	write("3f/3f000000000000000000000000000001", 300)
	write("tmp/w-1", 7)
	for _, p := range []string{"", "3f", "segments", "tmp"} {
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(filepath.Join(dir, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	d := adminops.NewDashboard(adminops.DashboardOptions{BodyDir: dir})
	steps := []struct {
		what   string
		change func()
		want   int64
	}{
		{"at first", func() {}, 1307},
		{"again, from the kept shard total", func() {}, 1307},
		{"a segment grown in place", func() {
			f, err := os.OpenFile(filepath.Join(dir, "segments/0000000001.seg"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(make([]byte, 500))
			f.Close()
		}, 1807},
		{"a large body added to the shard", func() { write("3f/3f000000000000000000000000000002", 4000) }, 5807},
		{"a large body removed", func() { os.Remove(filepath.Join(dir, "3f/3f000000000000000000000000000001")) }, 5507},
		{"a new segment", func() { write("segments/0000000002.seg", 93) }, 5600},
	}
	for _, s := range steps {
		s.change()
		if got := bodiesBytes(t, d); got != s.want {
			t.Errorf("%s: %d bytes, want %d", s.what, got, s.want)
		}
	}
}
