package blob

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"postern/internal/durable"
)

// Segments. Bodies up to the memory threshold are appended, in the order
// they arrive, to the active segment file: segments/<id>.seg. Writing one
// costs a pwrite into an open file; making it durable costs one fdatasync
// per segment per group commit (Sync), however many bodies the batch holds.
// Creating a file per body cost more CPU than the rest of a delivery.
//
// A segment is append-only. Space of bodies nothing references any more is
// reclaimed by compaction (the metadata store copies the live bodies of a
// mostly dead segment to the active one, then removes the old file), so a
// body never moves while its bytes are being written. Bytes written by an
// operation that failed, or by a crash before the commit that would have
// referenced them, are dead space in the same way.
//
// Each process appends to a segment of its own, created on its first
// append with O_EXCL under the next free id, so the server and a CLI
// command never write into the same file.

// SegmentDir is the directory of the segments under the store directory.
const SegmentDir = "segments"

// DefaultSegmentMax is the size at which the active segment is sealed and a
// new one started: small enough that compacting one is a short job, large
// enough that a million messages stay a few hundred files.
const DefaultSegmentMax = 64 << 20

// Loc says where a body is: in a segment, or in a file of its own (Key).
type Loc struct {
	Segment int64 // > 0: segment id; 0: the body is the file Key
	Offset  int64
	Size    int64
	// CRC is the CRC-32C of the body, checked when compaction copies it.
	CRC uint32
	Key string
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC-32C that Loc.CRC holds.
func Checksum(p []byte) uint32 { return crc32.Checksum(p, crcTable) }

type segment struct {
	id      int64
	f       *os.File
	size    int64 // next append offset
	pending int   // appends reserved and not yet written
}

// segments is the append side and the read handles of the store.
type segments struct {
	dir string
	max int64

	mu     sync.Mutex
	active *segment
	nextID int64 // 0: not scanned yet
	// dirty are segments written since the last Sync; writing are the
	// ones open for writing (the active one and sealed ones not yet
	// synced and closed).
	dirty   map[*segment]struct{}
	writing map[*segment]struct{}

	// syncMu serialises Sync, so a batch waits for an fdatasync that
	// started after its appends rather than racing another.
	syncMu sync.Mutex

	readers readCache
}

func openSegments(dir string) (*segments, error) {
	p := filepath.Join(dir, SegmentDir)
	if err := os.MkdirAll(p, 0o750); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &segments{dir: p, max: DefaultSegmentMax, dirty: map[*segment]struct{}{}, writing: map[*segment]struct{}{},
		readers: readCache{dir: p, open: map[int64]*segFile{}}}, nil
}

func segName(id int64) string { return fmt.Sprintf("%010d.seg", id) }

// SegmentName is the file name of segment id under SegmentDir.
func SegmentName(id int64) string { return segName(id) }

func parseSegName(name string) (int64, bool) {
	s, ok := strings.CutSuffix(name, ".seg")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// SetSegmentMax changes the size at which segments are sealed (tests use
// small ones). Call it before the store is used.
func (s *Store) SetSegmentMax(n int64) { s.segs.max = max(n, 1) }

// Append writes p at the end of this process's active segment and returns
// where. The bytes are durable only after a later Sync returns.
func (s *Store) Append(p []byte) (Loc, error) {
	g := s.segs
	g.mu.Lock()
	if g.active == nil || (g.active.size > 0 && g.active.size+int64(len(p)) > g.max) {
		if err := g.rotate(); err != nil {
			g.mu.Unlock()
			return Loc{}, err
		}
	}
	seg := g.active
	off := seg.size
	seg.size += int64(len(p))
	seg.pending++
	g.mu.Unlock()
	// Appends to disjoint ranges run in parallel; the reservation above
	// is all they share.
	_, err := seg.f.WriteAt(p, off)
	g.mu.Lock()
	seg.pending--
	// Dirty only once written: a Sync that began before the write ended
	// must not be taken to cover it.
	g.dirty[seg] = struct{}{}
	g.mu.Unlock()
	if err != nil {
		return Loc{}, fmt.Errorf("blob: append to segment %d: %w", seg.id, err)
	}
	return Loc{Segment: seg.id, Offset: off, Size: int64(len(p)), CRC: Checksum(p)}, nil
}

// rotate starts a new active segment; the old one stays dirty until the
// next Sync. Called with g.mu held.
func (g *segments) rotate() error {
	if g.nextID == 0 {
		ids, err := g.list()
		if err != nil {
			return err
		}
		g.nextID = 1
		if len(ids) > 0 {
			g.nextID = ids[len(ids)-1].ID + 1
		}
	}
	for range 1000 {
		id := g.nextID
		g.nextID++
		f, err := os.OpenFile(filepath.Join(g.dir, segName(id)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
		if errors.Is(err, fs.ErrExist) {
			continue // another process took this id
		}
		if err != nil {
			return fmt.Errorf("blob: new segment: %w", err)
		}
		// The lock tells other processes (a compaction run by the CLI)
		// that this segment is being written; it goes with the handle.
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			return fmt.Errorf("blob: locking new segment: %w", err)
		}
		// The new name must survive a crash before any body in it is
		// referenced.
		if err := durable.SyncDir(g.dir); err != nil {
			f.Close()
			return fmt.Errorf("blob: new segment: %w", err)
		}
		g.active = &segment{id: id, f: f}
		g.writing[g.active] = struct{}{}
		return nil
	}
	return errors.New("blob: no free segment id")
}

// Sync makes every Append that returned before the call durable: one
// fdatasync per segment written since the last Sync.
func (s *Store) Sync() error {
	g := s.segs
	g.syncMu.Lock()
	defer g.syncMu.Unlock()
	g.mu.Lock()
	if len(g.dirty) == 0 {
		g.mu.Unlock()
		return nil
	}
	todo := make([]*segment, 0, len(g.dirty))
	for seg := range g.dirty {
		todo = append(todo, seg)
	}
	clear(g.dirty)
	g.mu.Unlock()
	for i, seg := range todo {
		if err := unix.Fdatasync(int(seg.f.Fd())); err != nil {
			// Not durable: whoever appended must not be told otherwise,
			// and the next Sync must try these again.
			g.mu.Lock()
			for _, s := range todo[i:] {
				g.dirty[s] = struct{}{}
			}
			g.mu.Unlock()
			return fmt.Errorf("blob: sync segment %d: %w", seg.id, err)
		}
	}
	g.closeSealed()
	return nil
}

// closeSealed closes the write handles of sealed segments that have no
// append in flight and nothing left to sync.
func (g *segments) closeSealed() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for seg := range g.writing {
		_, dirty := g.dirty[seg]
		if seg != g.active && seg.pending == 0 && !dirty {
			seg.f.Close()
			delete(g.writing, seg)
		}
	}
}

func (g *segments) current() *segment {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active
}

// ActiveSegment is the segment this process appends to (0: none yet).
// Compaction leaves it alone.
func (s *Store) ActiveSegment() int64 {
	if a := s.segs.current(); a != nil {
		return a.id
	}
	return 0
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	ID   int64
	Size int64
	// Age is how long ago the file was last written, in seconds.
	ModUnix int64
}

// Segments lists the segment files in id order.
func (s *Store) Segments() ([]SegmentInfo, error) { return s.segs.list() }

func (g *segments) list() ([]SegmentInfo, error) {
	ents, err := os.ReadDir(g.dir)
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	var out []SegmentInfo
	for _, e := range ents {
		id, ok := parseSegName(e.Name())
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("blob: %w", err)
		}
		out = append(out, SegmentInfo{ID: id, Size: fi.Size(), ModUnix: fi.ModTime().Unix()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ErrSegmentBusy: a process is still appending to the segment.
var ErrSegmentBusy = errors.New("blob: segment in use by a writer")

// LockSegment takes a segment for compaction: it fails with ErrSegmentBusy
// while any process (this one included) may still append to it. The lock
// lasts until unlock is called.
func (s *Store) LockSegment(id int64) (unlock func(), err error) {
	f, err := os.Open(filepath.Join(s.segs.dir, segName(id)))
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrSegmentBusy
		}
		return nil, fmt.Errorf("blob: locking segment %d: %w", id, err)
	}
	return func() { f.Close() }, nil
}

// RemoveSegment deletes a segment file that nothing references any more;
// the caller holds its LockSegment. Readers that have it open keep reading.
func (s *Store) RemoveSegment(id int64) error {
	if id == s.ActiveSegment() {
		return fmt.Errorf("blob: segment %d is active", id)
	}
	s.segs.readers.forget(id)
	err := os.Remove(filepath.Join(s.segs.dir, segName(id)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Open returns the body at loc. The reader also implements io.ReaderAt
// and io.Seeker; it must be closed.
func (s *Store) Open(loc Loc) (Body, error) {
	if loc.Segment == 0 {
		f, err := s.OpenFile(loc.Key)
		if err != nil {
			return nil, err
		}
		return &fileReader{SectionReader: io.NewSectionReader(f, 0, loc.Size), f: f}, nil
	}
	sf, err := s.segs.readers.get(loc.Segment)
	if err != nil {
		return nil, err
	}
	return &segReader{SectionReader: io.NewSectionReader(sf.f, loc.Offset, loc.Size), sf: sf, c: &s.segs.readers}, nil
}

// ReadAll reads the body at loc into memory.
func (s *Store) ReadAll(loc Loc) ([]byte, error) {
	r, err := s.Open(loc)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := make([]byte, loc.Size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("blob: reading segment %d at %d: %w", loc.Segment, loc.Offset, err)
	}
	return buf, nil
}

// Body is an open stored body.
type Body interface {
	io.ReadCloser
	io.ReaderAt
	io.Seeker
	Size() int64
}

type fileReader struct {
	*io.SectionReader
	f *os.File
}

func (r *fileReader) Close() error { return r.f.Close() }

type segReader struct {
	*io.SectionReader
	sf   *segFile
	c    *readCache
	once sync.Once
}

func (r *segReader) Close() error {
	r.once.Do(func() { r.c.put(r.sf) })
	return nil
}

// readCache keeps segments open for reading, shared by every reader, with
// a reference count so that a removed segment is closed after its last
// reader.
type readCache struct {
	dir  string
	mu   sync.Mutex
	open map[int64]*segFile
}

type segFile struct {
	id      int64
	f       *os.File
	refs    int
	removed bool
}

// maxOpenSegments bounds the idle read handles kept; busy ones are never
// closed under a reader.
const maxOpenSegments = 256

func (c *readCache) get(id int64) (*segFile, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sf, ok := c.open[id]; ok {
		sf.refs++
		return sf, nil
	}
	f, err := os.Open(filepath.Join(c.dir, segName(id)))
	if err != nil {
		return nil, err
	}
	if len(c.open) >= maxOpenSegments {
		for oid, o := range c.open {
			if o.refs == 0 {
				o.f.Close()
				delete(c.open, oid)
				break
			}
		}
	}
	sf := &segFile{id: id, f: f, refs: 1}
	c.open[id] = sf
	return sf, nil
}

func (c *readCache) put(sf *segFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sf.refs--
	if sf.refs == 0 && sf.removed {
		sf.f.Close()
	}
}

// forget drops the handle of a segment about to be removed; readers that
// hold it finish first.
func (c *readCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sf, ok := c.open[id]
	if !ok {
		return
	}
	delete(c.open, id)
	sf.removed = true
	if sf.refs == 0 {
		sf.f.Close()
	}
}

// Close closes the active segment and the read handles.
func (s *Store) Close() error {
	g := s.segs
	err := s.Sync()
	g.mu.Lock()
	for seg := range g.writing {
		seg.f.Close()
	}
	clear(g.writing)
	g.active = nil
	g.mu.Unlock()
	g.readers.mu.Lock()
	for id, sf := range g.readers.open {
		if sf.refs == 0 {
			sf.f.Close()
		} else {
			sf.removed = true
		}
		delete(g.readers.open, id)
	}
	g.readers.mu.Unlock()
	return err
}
