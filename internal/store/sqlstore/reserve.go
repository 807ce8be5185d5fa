package sqlstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"postern/internal/store"
)

// A full disk must not keep users from freeing space: deleting mail
// writes too (the WAL, tombstones), and SQLite fails with SQLITE_FULL like
// any other write. So the store keeps a reserve file beside the database;
// an operation that frees space and hits a full disk gives the reserve
// back to the file system and runs once more. The reserve is made again
// once the disk has room.

// reserveBytes is the size of the reserve: room for the WAL frames of a
// large expunge.
const reserveBytes = 8 << 20

// reserve is the reserve file of one store.
type reserve struct {
	path string
	mu   sync.Mutex
	// fail, in tests, makes the next writes fail as on a full disk while
	// it returns true.
	fail func() bool
}

func newReserve(dbPath string) *reserve { return &reserve{path: dbPath + ".reserve"} }

// ensure makes the reserve when it is missing and the disk has room for it
// with some to spare; a failure leaves it missing, for the next try.
func (r *reserve) ensure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := os.Stat(r.path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(r.path), &st); err == nil && int64(st.Bavail)*int64(st.Bsize) < 4*reserveBytes {
		return nil // not now: the disk is (nearly) full
	}
	f, err := os.OpenFile(r.path+".tmp", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// Written, not sparse: the blocks must be really taken (a file
	// system allocates them, or says ENOSPC, at write time; a crash
	// before they reach the disk only means a new reserve at the next
	// start).
	buf := make([]byte, 1<<20)
	for n := 0; n < reserveBytes && err == nil; n += len(buf) {
		_, err = f.Write(buf)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(r.path + ".tmp")
		return err
	}
	return os.Rename(r.path+".tmp", r.path)
}

// release gives the reserve back to the file system; it reports whether
// there was one.
func (r *reserve) release() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return os.Remove(r.path) == nil
}

// writeFreeing runs an operation that frees space (expunge, deleting a
// mailbox or an account): on a full disk it releases the reserve and runs
// it once more.
func (s *Store) writeFreeing(ctx context.Context, fn opFunc) error {
	err := s.write(ctx, s.failingOnFullDisk(fn))
	if !store.IsDiskFull(err) || !s.reserve.release() {
		return err
	}
	s.log.Warn("disk full: the reserve released so that mail can be deleted")
	return s.write(ctx, s.failingOnFullDisk(fn))
}

// failingOnFullDisk wraps fn with the test hook of a full disk.
func (s *Store) failingOnFullDisk(fn opFunc) opFunc {
	if s.reserve.fail == nil {
		return fn
	}
	return func(ctx context.Context, tx *wtx, e *effects) error {
		if s.reserve.fail() {
			return syscall.ENOSPC
		}
		return fn(ctx, tx, e)
	}
}
