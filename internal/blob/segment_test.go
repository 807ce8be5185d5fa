package blob

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"testing"
)

func TestSegmentAppendReadRotate(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetSegmentMax(1000)
	var locs []Loc
	var bodies [][]byte
	for i := range 30 {
		b := bytes.Repeat([]byte{byte('a' + i%26)}, 100+i)
		l, err := s.Append(b)
		if err != nil {
			t.Fatal(err)
		}
		if l.Segment == 0 || l.Size != int64(len(b)) || l.CRC != Checksum(b) {
			t.Fatalf("loc %+v", l)
		}
		locs, bodies = append(locs, l), append(bodies, b)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	segs, err := s.Segments()
	if err != nil || len(segs) < 4 {
		t.Fatalf("segments %+v %v: want rotation at 1000 bytes", segs, err)
	}
	for _, g := range segs {
		if g.Size > 1000+129 {
			t.Errorf("segment %d grew to %d bytes", g.ID, g.Size)
		}
	}
	for i, l := range locs {
		got, err := s.ReadAll(l)
		if err != nil || !bytes.Equal(got, bodies[i]) {
			t.Fatalf("body %d: %q %v", i, got, err)
		}
	}
	// Random access through Open.
	r, err := s.Open(locs[3])
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 10)
	if _, err := r.ReadAt(part, 5); err != nil || !bytes.Equal(part, bodies[3][5:15]) {
		t.Errorf("ReadAt: %q %v", part, err)
	}
	if r.Size() != int64(len(bodies[3])) {
		t.Errorf("Size %d", r.Size())
	}
	r.Close()
}

// The active segment is locked against compaction, in this process and
// any other; a sealed one can be taken, removed, and readers that had it
// open keep reading.
func TestSegmentLockAndRemove(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetSegmentMax(100)
	first, _ := s.Append(bytes.Repeat([]byte("x"), 80))
	second, _ := s.Append(bytes.Repeat([]byte("y"), 80)) // rotates
	if first.Segment == second.Segment {
		t.Fatal("no rotation")
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LockSegment(s.ActiveSegment()); !errors.Is(err, ErrSegmentBusy) {
		t.Errorf("locking the active segment: %v", err)
	}
	if err := s.RemoveSegment(s.ActiveSegment()); err == nil {
		t.Error("removed the active segment")
	}
	reader, err := s.Open(first)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := s.LockSegment(first.Segment)
	if err != nil {
		t.Fatalf("locking a sealed segment: %v", err)
	}
	if err := s.RemoveSegment(first.Segment); err != nil {
		t.Fatal(err)
	}
	unlock()
	got, err := io.ReadAll(reader)
	if err != nil || len(got) != 80 {
		t.Errorf("a reader of a removed segment: %d bytes %v", len(got), err)
	}
	reader.Close()
	if _, err := s.Open(first); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("opening a removed segment: %v", err)
	}
	if _, err := s.LockSegment(first.Segment); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("locking a removed segment: %v", err)
	}
}

// Two stores on one directory (the server and a CLI command) append to
// segments of their own.
func TestSegmentsPerProcess(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	la, _ := a.Append([]byte("from a"))
	lb, _ := b.Append([]byte("from b"))
	if la.Segment == lb.Segment {
		t.Fatalf("both wrote segment %d", la.Segment)
	}
	for _, s := range []*Store{a, b} {
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := b.ReadAll(la); string(got) != "from a" {
		t.Errorf("b reads a's body: %q", got)
	}
}

// Concurrent appends land at disjoint places and read back whole.
func TestSegmentConcurrentAppends(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetSegmentMax(64 << 10)
	var wg sync.WaitGroup
	locs := make([]Loc, 200)
	for i := range locs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := s.Append([]byte(fmt.Sprintf("body %04d %s", i, bytes.Repeat([]byte("z"), i*13))))
			if err != nil {
				t.Error(err)
			}
			locs[i] = l
			if i%17 == 0 {
				if err := s.Sync(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	for i, l := range locs {
		got, err := s.ReadAll(l)
		if err != nil || !bytes.HasPrefix(got, []byte(fmt.Sprintf("body %04d ", i))) || len(got) != 10+i*13 {
			t.Fatalf("body %d: %.20q (%d bytes) %v", i, got, len(got), err)
		}
	}
}
