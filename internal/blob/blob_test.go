package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// openStore returns a store that writes every body to a file, the path
// these tests exercise; inline bodies have their own test.
func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.SetMemoryMax(0)
	return s
}

func TestInlineThenSpill(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.SetMemoryMax(10)
	small, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	small.Write([]byte("hello"))
	key, size, err := small.Commit()
	if err != nil || size != 5 || !ValidKey(key) {
		t.Fatalf("inline commit: %q %d %v", key, size, err)
	}
	if string(small.Bytes()) != "hello" {
		t.Fatalf("Bytes() = %q", small.Bytes())
	}
	if _, err := s.OpenFile(key); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("inline body has a file: %v", err)
	}
	big, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	big.Write([]byte("0123456"))
	big.Write([]byte("789abcdef"))
	key, size, err = big.Commit()
	if err != nil || size != 16 {
		t.Fatalf("spilled commit: %d %v", size, err)
	}
	if big.Bytes() != nil {
		t.Fatal("spilled body reported inline")
	}
	f, err := s.OpenFile(key)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, _ := io.ReadAll(f)
	if string(got) != "0123456789abcdef" {
		t.Fatalf("file holds %q", got)
	}
	aborted, _ := s.Create()
	aborted.Write(make([]byte, 20))
	aborted.Abort()
	if ents, _ := os.ReadDir(filepath.Join(s.Dir(), tmpDir)); len(ents) != 0 {
		t.Fatalf("abort left %d temp files", len(ents))
	}
}

// visibleFiles lists every committed file in the shards.
func visibleFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	m, err := filepath.Glob(filepath.Join(s.Dir(), "[0-9a-f][0-9a-f]", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m {
		out = append(out, filepath.Base(p))
	}
	return out
}

func tmpFiles(t *testing.T, s *Store) []string {
	t.Helper()
	e, err := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range e {
		out = append(out, x.Name())
	}
	return out
}

func TestOpenCreatesLayout(t *testing.T) {
	s := openStore(t)
	for _, d := range []string{"tmp", "00", "7f", "ff"} {
		fi, err := os.Stat(filepath.Join(s.Dir(), d))
		if err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v", d, err)
		}
	}
	// Opening again is fine.
	if _, err := Open(s.Dir()); err != nil {
		t.Fatal(err)
	}
}

func TestWriteCommitOpen(t *testing.T) {
	s := openStore(t)
	body := []byte("Subject: hi\r\n\r\nhello\r\n")
	w, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(body[:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(body[5:])); err != nil {
		t.Fatal(err)
	}
	// Nothing is visible under a final name before Commit.
	if v := visibleFiles(t, s); len(v) != 0 {
		t.Fatalf("visible before commit: %v", v)
	}
	key, size, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if !ValidKey(key) || size != int64(len(body)) {
		t.Fatalf("key %q size %d", key, size)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), key[:2], key)); err != nil {
		t.Fatalf("not in its shard: %v", err)
	}
	if tf := tmpFiles(t, s); len(tf) != 0 {
		t.Fatalf("tmp not empty after commit: %v", tf)
	}
	f, err := s.OpenFile(key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, body) {
		t.Fatalf("got %q", got)
	}
	if n, err := s.Size(key); err != nil || n != int64(len(body)) {
		t.Fatalf("Size: %d %v", n, err)
	}
	w.Abort() // after Commit: no effect
	if _, err := s.OpenFile(key); err != nil {
		t.Fatal("Abort after Commit removed the body")
	}
	if _, _, err := w.Commit(); err == nil {
		t.Fatal("second Commit succeeded")
	}
	if err := s.Remove(key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenFile(key); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open after remove: %v", err)
	}
	if err := s.Remove(key); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := s.Size(key); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Size after remove: %v", err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	s := openStore(t)
	w, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(strings.Repeat("x", 100000))); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if v, tf := visibleFiles(t, s), tmpFiles(t, s); len(v)+len(tf) != 0 {
		t.Fatalf("left %v %v", v, tf)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write after abort succeeded")
	}
	if _, _, err := w.Commit(); err == nil {
		t.Fatal("commit after abort succeeded")
	}
}

func TestInvalidKeys(t *testing.T) {
	s := openStore(t)
	for _, k := range []string{"", "../../etc/passwd", strings.Repeat("A", 32), strings.Repeat("0", 31), strings.Repeat("g", 32), "00/" + strings.Repeat("0", 29)} {
		if _, err := s.OpenFile(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Open(%q): %v", k, err)
		}
		if err := s.Remove(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Remove(%q): %v", k, err)
		}
	}
}

// A reader watching the shards while writers work must only ever see
// complete files: every visible file has its full, final content.
func TestNoPartialFileVisible(t *testing.T) {
	s := openStore(t)
	const writers, size = 8, 256 << 10
	content := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, size) }
	stop := make(chan struct{})
	var bad []string
	var mu sync.Mutex
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, k := range visibleFiles(t, s) {
				b, err := os.ReadFile(filepath.Join(s.Dir(), k[:2], k))
				if err == nil && len(b) != size {
					mu.Lock()
					bad = append(bad, k)
					mu.Unlock()
				}
			}
		}
	}()
	var wg sync.WaitGroup
	keys := make([]string, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := s.Create()
			if err != nil {
				t.Error(err)
				return
			}
			defer w.Abort()
			c := content(i)
			for off := 0; off < size; off += 4096 {
				if _, err := w.Write(c[off : off+4096]); err != nil {
					t.Error(err)
					return
				}
			}
			keys[i], _, err = w.Commit()
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	if len(bad) != 0 {
		t.Fatalf("partial files seen: %v", bad)
	}
	for i, k := range keys {
		b, err := os.ReadFile(filepath.Join(s.Dir(), k[:2], k))
		if err != nil || !bytes.Equal(b, content(i)) {
			t.Fatalf("writer %d: wrong content (%v)", i, err)
		}
	}
}

// Concurrent commits into the same shard share directory fsyncs and all succeed.
func TestDirSyncerGroups(t *testing.T) {
	d := &dirSyncer{path: t.TempDir()}
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.sync(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if d.done != d.next || d.next != 32 {
		t.Fatalf("done %d next %d", d.done, d.next)
	}
	bad := &dirSyncer{path: filepath.Join(t.TempDir(), "missing")}
	if err := bad.sync(); err == nil {
		t.Fatal("fsync of a missing directory succeeded")
	}
}

func commit(t *testing.T, s *Store, body string) string {
	t.Helper()
	w, err := s.Create()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(body))
	k, _, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSweep(t *testing.T) {
	s := openStore(t)
	now := time.Now()
	old := now.Add(-2 * time.Hour)
	kept := commit(t, s, "referenced")
	orphan := commit(t, s, "orphan")
	young := commit(t, s, "young orphan")
	for _, k := range []string{kept, orphan} {
		if err := os.Chtimes(filepath.Join(s.Dir(), k[:2], k), old, old); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := s.Create() // a crashed writer
	w.Write([]byte("partial"))
	os.Chtimes(w.f.Name(), old, old)
	w2, _ := s.Create() // a writer still at work
	defer w2.Abort()
	stranger := filepath.Join(s.Dir(), "00", "README")
	os.WriteFile(stranger, []byte("x"), 0o644)
	os.Chtimes(stranger, old, old)

	st, err := s.Sweep(context.Background(), now, SweepGrace, func(k string) bool { return k == kept })
	if err != nil {
		t.Fatal(err)
	}
	if st.Temp != 1 || st.Orphans != 1 {
		t.Fatalf("stats %+v", st)
	}
	for k, want := range map[string]bool{kept: true, orphan: false, young: true} {
		_, err := os.Stat(filepath.Join(s.Dir(), k[:2], k))
		if (err == nil) != want {
			t.Errorf("%s exists=%v want %v", k, err == nil, want)
		}
	}
	if _, err := os.Stat(w.f.Name()); err == nil {
		t.Error("stale temp file kept")
	}
	if _, err := os.Stat(w2.f.Name()); err != nil {
		t.Error("young temp file removed")
	}
	if _, err := os.Stat(stranger); err != nil {
		t.Error("non-key file removed")
	}
}

// FuzzKey checks that only well-formed keys are accepted, so no key can
// name a path outside its shard.
func FuzzKey(f *testing.F) {
	for _, k := range []string{strings.Repeat("a", 32), "../" + strings.Repeat("0", 29), strings.Repeat("0", 31) + "/", ""} {
		f.Add(k)
	}
	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, k string) {
		p, err := s.path(k)
		if err != nil {
			return
		}
		rel, rerr := filepath.Rel(s.Dir(), p)
		if rerr != nil || rel != filepath.Join(k[:2], k) || strings.ContainsAny(k, "/.\\") {
			t.Fatalf("key %q maps to %q", k, p)
		}
	})
}
