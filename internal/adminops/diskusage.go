package adminops

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// bodyUsage sums the sizes of the files under the blob store's directory
// (internal/blob) so that the figure is true at every look without walking
// every body each time. Segment files grow in place, so their directory
// (and the temporary one) is listed at every look: a few hundred files for
// a million messages. A shard directory (00 .. ff) of large bodies only
// gains or loses whole files, which moves its modification time, so its
// total is kept until that time moves.
type bodyUsage struct {
	dir    string
	mu     sync.Mutex
	shards map[string]shardTotal
}

type shardTotal struct {
	modTime time.Time
	bytes   int64
}

// racyWindow: a directory changed this shortly before it was listed may
// change again within its file system's timestamp granularity without its
// modification time moving, so its total is not kept.
const racyWindow = 2 * time.Second

func newBodyUsage(dir string) *bodyUsage {
	return &bodyUsage{dir: dir, shards: map[string]shardTotal{}}
}

// bytes is the space the bodies take now.
func (u *bodyUsage) bytes() int64 {
	if u.dir == "" {
		return 0
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return 0
	}
	var total int64
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		path := filepath.Join(u.dir, e.Name())
		switch {
		case e.Type().IsRegular():
			total += entrySize(e)
		case e.IsDir() && isShardName(e.Name()):
			seen[e.Name()] = true
			total += u.shardBytes(path, e.Name())
		case e.IsDir():
			total += treeBytes(path)
		}
	}
	for name := range u.shards {
		if !seen[name] {
			delete(u.shards, name)
		}
	}
	return total
}

func (u *bodyUsage) shardBytes(path, name string) int64 {
	// Stat before listing: a file added in between is counted now and,
	// having moved the time, again at the next look.
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if c, ok := u.shards[name]; ok && c.modTime.Equal(fi.ModTime()) {
		return c.bytes
	}
	n := treeBytes(path)
	if time.Since(fi.ModTime()) > racyWindow {
		u.shards[name] = shardTotal{modTime: fi.ModTime(), bytes: n}
	} else {
		delete(u.shards, name)
	}
	return n
}

// isShardName: two lower-case hex digits, the blob store's shard directories.
func isShardName(name string) bool {
	if len(name) != 2 {
		return false
	}
	for _, c := range []byte(name) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func treeBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed meanwhile
		}
		if e.Type().IsRegular() {
			n += entrySize(e)
		}
		return nil
	})
	return n
}

func entrySize(e fs.DirEntry) int64 {
	fi, err := e.Info()
	if err != nil {
		return 0
	}
	return fi.Size()
}
