// Package blob keeps raw RFC 5322 message bodies on disk. Bodies up to
// DefaultMemoryMax are appended to segment files (segment.go), made durable
// by one fdatasync per group commit; larger ones are files of their own,
// written durably: such a body is visible under its final name only after its
// contents and its directory entry are fsynced, so a crash leaves either the
// whole file or nothing under that name.
//
// On-disk layout under the store directory:
//
//	segments/          append-only segment files, <id>.seg
//	tmp/               large bodies being written (w-*), never read by anyone else
//	00/ .. ff/         256 shards; a committed large body is <shard>/<key>
//
// A key is 32 random lower-case hex characters; its first two are the shard.
// The store keeps no index: the metadata database references segments,
// offsets and keys; Sweep removes files a crash left behind (stale temp
// files, committed files the database never came to reference), and the
// metadata store's compaction reclaims dead space in segments.
package blob

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"postern/internal/durable"
)

// ErrInvalidKey is returned for a key that is not 32 lower-case hex characters.
var ErrInvalidKey = errors.New("blob: invalid key")

// KeyLen is the length of a key in characters.
const KeyLen = 32

const tmpDir = "tmp"

// Store is a directory of bodies. It is safe for concurrent use.
type Store struct {
	dir    string
	memMax int
	segs   *segments
	// shards group the directory fsyncs of concurrent commits to one shard.
	shards [256]dirSyncer
}

// Open opens (creating when needed) the blob store in dir, with its tmp
// directory and all 256 shard directories, so commits never have to create
// a directory (whose own entry would then need an fsync of the parent too).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o750); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	segs, err := openSegments(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, memMax: DefaultMemoryMax, segs: segs}
	for i := range 256 {
		name := fmt.Sprintf("%02x", i)
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("blob: %w", err)
		}
		s.shards[i].path = p
	}
	// The shard entries themselves must survive a crash before any body is
	// committed into them.
	if err := durable.SyncDir(dir); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return s, nil
}

// Dir returns the directory of the store.
func (s *Store) Dir() string { return s.dir }

// ValidKey reports whether key has the form of a key.
func ValidKey(key string) bool {
	if len(key) != KeyLen {
		return false
	}
	for i := range len(key) {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Store) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", ErrInvalidKey
	}
	return filepath.Join(s.dir, KeyPath(key)), nil
}

// KeyPath is where the large body with a valid key lies under a store's
// directory.
func KeyPath(key string) string { return filepath.Join(key[:2], key) }

func shardIndex(key string) int {
	b, _ := hex.DecodeString(key[:2])
	return int(b[0])
}

// OpenFile opens the committed large body with this key for reading.
func (s *Store) OpenFile(key string) (*os.File, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Size returns the size of the committed body with this key; a missing
// body gives an error matching fs.ErrNotExist.
func (s *Store) Size(key string) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Remove deletes the committed body with this key. Removing a key that does
// not exist is not an error, so cleanup can be retried after a crash. The
// directory is not fsynced: a removal lost in a crash is found again by Sweep.
func (s *Store) Remove(key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// DefaultMemoryMax is the size up to which a body being received stays in
// memory and is then appended to a segment. On the machines we measured,
// creating, fsyncing and renaming a file costs 0.6-1.2 ms of CPU, more than
// the rest of a small delivery, while an append costs a pwrite and a share
// of one fdatasync per batch. Larger bodies go to files of their own as
// they arrive: their transfer dwarfs the file creation, compaction never
// has to copy them, and a thousand sessions receiving at once hold at most
// this much memory each.
const DefaultMemoryMax = 256 << 10

// SetMemoryMax changes the memory threshold; 0 or less sends every body to
// a file. Call it before the store is used.
func (s *Store) SetMemoryMax(n int) { s.memMax = n }

// Create starts a new body. It stays in memory until it outgrows the
// memory threshold; then it moves to a file in tmp/.
func (s *Store) Create() (*Writer, error) {
	w := &Writer{s: s}
	if s.memMax <= 0 {
		if err := w.spill(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Writer writes one body. Call Commit to make it durable under a new key,
// or Abort to throw it away; one of the two must be called.
type Writer struct {
	s    *Store
	buf  []byte   // the body while it is small
	f    *os.File // the body once it is not
	n    int64
	done bool
	err  error
}

// spill moves the body from memory to a temporary file.
func (w *Writer) spill() error {
	f, err := os.CreateTemp(filepath.Join(w.s.dir, tmpDir), "w-*")
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if _, err := f.Write(w.buf); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return fmt.Errorf("blob: %w", err)
	}
	w.f, w.buf = f, nil
	return nil
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("blob: write after commit or abort")
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.f == nil {
		if len(w.buf)+len(p) <= w.s.memMax {
			w.buf = append(w.buf, p...)
			w.n += int64(len(p))
			return len(p), nil
		}
		if err := w.spill(); err != nil {
			w.err = err
			return 0, err
		}
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// ReadFrom lets io.Copy hand its data straight to the writer.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	buf := make([]byte, 32<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// Spill moves a body still in memory to its temporary file, so that Commit
// makes it a file of its own whatever its size.
func (w *Writer) Spill() error {
	if w.f != nil || w.done {
		return w.err
	}
	if err := w.spill(); err != nil {
		w.err = err
		return err
	}
	return nil
}

// OpenTemp reads what was written so far, before Commit: a file body from
// its temporary file, a small one from memory.
func (w *Writer) OpenTemp() (io.ReadCloser, error) {
	if w.f == nil {
		return io.NopCloser(bytes.NewReader(w.buf)), nil
	}
	return os.Open(w.f.Name())
}

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// Bytes returns the body when it stayed small enough to be kept in memory
// (for a segment), or nil when it is a file.
func (w *Writer) Bytes() []byte {
	if w.f != nil {
		return nil
	}
	if w.buf == nil {
		return []byte{}
	}
	return w.buf
}

// Commit gives a file body a new key and makes it durable and visible:
// fsync of the file, rename into its shard, fsync of the shard directory.
// A body in memory (Bytes not nil) gets a key but nothing else: the caller
// appends it to a segment. On error nothing is visible.
func (w *Writer) Commit() (key string, size int64, err error) {
	if w.done {
		return "", 0, errors.New("blob: commit after commit or abort")
	}
	w.done = true
	if w.err != nil {
		w.discard()
		return "", 0, fmt.Errorf("blob: commit: %w", w.err)
	}
	var rnd [KeyLen / 2]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails (Go 1.24+)
	key = hex.EncodeToString(rnd[:])
	if w.f == nil {
		return key, w.n, nil
	}
	tmp := w.f.Name()
	fail := func(err error) (string, int64, error) {
		_ = w.f.Close()
		_ = os.Remove(tmp)
		return "", 0, fmt.Errorf("blob: commit: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return fail(err)
	}
	if err := w.f.Close(); err != nil {
		_ = os.Remove(tmp)
		return "", 0, fmt.Errorf("blob: commit: %w", err)
	}
	final, _ := w.s.path(key)
	// A fresh 128-bit random key does not collide; Link would refuse to
	// overwrite, but rename is the portable atomic publish.
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return "", 0, fmt.Errorf("blob: commit: %w", err)
	}
	if err := w.s.shards[shardIndex(key)].sync(); err != nil {
		// The file is in place but its entry may not be durable: report
		// failure and take it back so the caller can retry from scratch.
		_ = os.Remove(final)
		return "", 0, fmt.Errorf("blob: commit: %w", err)
	}
	return key, w.n, nil
}

func (w *Writer) discard() {
	if w.f != nil {
		_ = w.f.Close()
		_ = os.Remove(w.f.Name())
	}
	w.buf = nil
}

// Abort discards the body. It is safe to call after Commit (then it does
// nothing), so `defer w.Abort()` is the idiom.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.discard()
}

// dirSyncer groups fsyncs of one directory: a caller whose rename happened
// before an fsync started can share that fsync's result instead of issuing
// its own. A waiter only counts an fsync that began after its own request.
type dirSyncer struct {
	path    string
	mu      sync.Mutex
	cond    *sync.Cond
	next    uint64 // ticket of the latest request
	done    uint64 // every request <= done is durable
	running bool
}

func (d *dirSyncer) sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cond == nil {
		d.cond = sync.NewCond(&d.mu)
	}
	d.next++
	ticket := d.next
	for d.done < ticket {
		if d.running {
			d.cond.Wait()
			continue
		}
		// Lead an fsync covering every request made so far.
		d.running = true
		upto := d.next
		d.mu.Unlock()
		err := durable.SyncDir(d.path)
		d.mu.Lock()
		d.running = false
		d.cond.Broadcast()
		if err != nil {
			// Waiters retry with their own fsync; report ours.
			return err
		}
		d.done = upto
	}
	return nil
}
