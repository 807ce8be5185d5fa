package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// SweepGrace is how old a file must be before Sweep considers it garbage.
// A body is committed before the database row that references it, so a young
// unreferenced file may be a delivery in progress.
const SweepGrace = time.Hour

// SweepStats reports what Sweep removed.
type SweepStats struct {
	Temp     int // stale files in tmp/
	Orphans  int // committed files nothing referenced
	Examined int // committed files old enough to be candidates
}

// Sweep removes what a crash can leave behind: files in tmp/ and committed
// files for which referenced returns false, both only when last modified
// more than grace before now. The predicate must answer true when it cannot
// tell (a database error), since a wrong false loses mail.
func (s *Store) Sweep(ctx context.Context, now time.Time, grace time.Duration, referenced func(key string) bool) (SweepStats, error) {
	var st SweepStats
	cutoff := now.Add(-grace)
	n, err := s.sweepDir(ctx, filepath.Join(s.dir, tmpDir), cutoff, func(string) bool { return false })
	st.Temp = n
	if err != nil {
		return st, err
	}
	for i := range 256 {
		dir := filepath.Join(s.dir, fmt.Sprintf("%02x", i))
		n, err := s.sweepDir(ctx, dir, cutoff, func(name string) bool {
			st.Examined++
			// Something that is not a key is not ours to delete.
			return !ValidKey(name) || name[:2] != filepath.Base(dir) || referenced(name)
		})
		st.Orphans += n
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// sweepDir removes the regular files of dir older than cutoff that keep
// does not want, and returns how many it removed.
func (s *Store) sweepDir(ctx context.Context, dir string, cutoff time.Time, keep func(name string) bool) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("blob: sweep: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if !info.ModTime().Before(cutoff) || keep(e.Name()) {
			continue
		}
		err = os.Remove(filepath.Join(dir, e.Name()))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("blob: sweep: %w", err)
		}
		removed++
	}
	return removed, nil
}
