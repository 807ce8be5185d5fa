package sqlstore

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"postern/internal/blob"
)

// Compaction reclaims the dead space of segments: bodies nothing references
// (collected by Purge), bytes of operations that failed, and whatever a
// crash left after its last commit. A segment whose live bytes are at most
// half of its size (any dead space at all when full) has its live bodies
// copied to the active segment, in batches: each batch is appended, then
// one writer operation points the rows at the copies, and the writer's
// Sync before its commit makes the copies durable first. A row changed or
// deleted meanwhile is left alone (its copy is dead space in turn). Once no
// row references the old segment, its file is removed.
//
// Crash safety: before a batch's commit the rows still point at the old
// segment, which is intact; after it they point at durable copies. The old
// file goes only when no row references it. A segment some process may still
// append to is locked by that process and skipped.

// CompactStats tells what a compaction did.
type CompactStats struct {
	Segments       int   // segments examined
	Compacted      int   // segments whose bodies were moved
	Removed        int   // segment files removed
	MovedBodies    int64 // bodies copied
	MovedBytes     int64
	ReclaimedBytes int64 // size of the removed files
	Purged         int   // unreferenced body rows deleted first
	Inlined        int64 // bodies moved out of the database (upgrade)
	// After the pass: the segment files and their bytes, and the bytes
	// the rows reference in them (equal when there is no dead space left).
	SegmentFiles int
	SegmentBytes int64
	LiveBytes    int64
}

// compactBatchBytes bounds the bytes moved per writer operation.
const compactBatchBytes = 1 << 20

// CompactOptions tune a compaction pass.
type CompactOptions struct {
	// Full compacts every segment with dead space (postern compact --full);
	// otherwise only those at most half live.
	Full bool
	// Pause is slept between batches, so that a compaction leaves the disk
	// to deliveries (and a test can stop it half way).
	Pause time.Duration
}

// Compact runs one compaction pass.
func (s *Store) Compact(ctx context.Context, o CompactOptions) (CompactStats, error) {
	full := o.Full
	var st CompactStats
	var err error
	if st.Purged, err = s.Purge(ctx); err != nil {
		return st, err
	}
	if st.Inlined, err = s.moveInlineBodies(ctx); err != nil {
		return st, err
	}
	live, err := s.segmentLive(ctx)
	if err != nil {
		return st, err
	}
	segs, err := s.blobs.Segments()
	if err != nil {
		return st, err
	}
	for _, seg := range segs {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		if seg.ID == s.blobs.ActiveSegment() {
			continue
		}
		st.Segments++
		l := live[seg.ID]
		if l > 0 && (l == seg.Size || (!full && l*2 > seg.Size)) {
			continue
		}
		if err := s.compactSegment(ctx, seg, o.Pause, &st); err != nil {
			if errors.Is(err, blob.ErrSegmentBusy) {
				continue
			}
			return st, err
		}
	}
	if err := s.segmentTotals(ctx, &st); err != nil {
		return st, err
	}
	if st.Compacted+st.Removed > 0 {
		s.log.Info("segments compacted", "examined", st.Segments, "compacted", st.Compacted, "removed", st.Removed,
			"moved_bodies", st.MovedBodies, "moved_bytes", st.MovedBytes, "reclaimed_bytes", st.ReclaimedBytes)
	}
	return st, nil
}

// segmentTotals fills in the figures of the segments as they are now.
func (s *Store) segmentTotals(ctx context.Context, st *CompactStats) error {
	segs, err := s.blobs.Segments()
	if err != nil {
		return err
	}
	st.SegmentFiles, st.SegmentBytes = len(segs), 0
	for _, g := range segs {
		st.SegmentBytes += g.Size
	}
	live, err := s.segmentLive(ctx)
	if err != nil {
		return err
	}
	st.LiveBytes = 0
	for _, n := range live {
		st.LiveBytes += n
	}
	return nil
}

// segmentLive sums the bytes rows reference in each segment, from the
// blobs_segment index alone.
func (s *Store) segmentLive(ctx context.Context) (map[int64]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT segment, SUM(size) FROM blobs WHERE segment > 0 GROUP BY segment`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// movedBody is a body's row and its place: old while read, new once
// copied.
type movedBody struct {
	id, oldOffset int64
	loc           blob.Loc
}

func (s *Store) compactSegment(ctx context.Context, seg blob.SegmentInfo, pause time.Duration, st *CompactStats) error {
	unlock, err := s.blobs.LockSegment(seg.ID)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unlock()
	var after int64
	for {
		batch, next, err := s.segmentRows(ctx, seg.ID, after)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		after = next
		moved, err := s.copyBodies(seg.ID, batch)
		if err != nil {
			return err
		}
		if err := s.pointAt(ctx, seg.ID, moved); err != nil {
			return err
		}
		st.MovedBodies += int64(len(moved))
		for _, m := range moved {
			st.MovedBytes += m.loc.Size
		}
		if pause > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
		}
	}
	st.Compacted++
	var left int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM blobs WHERE segment = ?`, seg.ID).Scan(&left); err != nil {
		return err
	}
	if left > 0 {
		return nil // rows moved in meanwhile cannot happen; a later pass retries
	}
	if err := s.blobs.RemoveSegment(seg.ID); err != nil {
		return err
	}
	st.Removed++
	st.ReclaimedBytes += seg.Size
	return nil
}

// segmentRows returns the next rows of the segment after offset after, up
// to compactBatchBytes of bodies, in offset order.
func (s *Store) segmentRows(ctx context.Context, segID, after int64) ([]movedBody, int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, seg_offset, size, crc FROM blobs
		WHERE segment = ? AND seg_offset >= ? ORDER BY seg_offset LIMIT 1024`, segID, after)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []movedBody
	var total, next int64
	for rows.Next() && total < compactBatchBytes {
		m := movedBody{loc: blob.Loc{Segment: segID}}
		var crc int64
		if err := rows.Scan(&m.id, &m.loc.Offset, &m.loc.Size, &crc); err != nil {
			return nil, 0, err
		}
		m.loc.CRC, m.oldOffset = uint32(crc), m.loc.Offset
		out = append(out, m)
		total += m.loc.Size
		next = m.loc.Offset + 1
	}
	return out, next, rows.Err()
}

// copyBodies appends the bodies to the active segment (not durable yet)
// and returns them with their new places.
func (s *Store) copyBodies(segID int64, bodies []movedBody) ([]movedBody, error) {
	out := make([]movedBody, 0, len(bodies))
	for _, b := range bodies {
		l, id := b.loc, b.id
		data, err := s.blobs.ReadAll(l)
		if err != nil {
			return nil, err
		}
		if l.CRC != 0 && blob.Checksum(data) != l.CRC {
			// Moving it keeps what is there; the checksum no longer
			// vouches for it, and the administrator must know.
			s.log.Error("body checksum mismatch in segment", "segment", segID, "offset", l.Offset, "blob", id)
		}
		nl, err := s.blobs.Append(data)
		if err != nil {
			return nil, err
		}
		out = append(out, movedBody{id: id, oldOffset: b.oldOffset, loc: nl})
	}
	return out, nil
}

// pointAt moves the rows to their copies in one writer operation; rows that
// changed meanwhile keep their place.
func (s *Store) pointAt(ctx context.Context, segID int64, moved []movedBody) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		for _, m := range moved {
			if _, err := tx.ExecContext(ctx, `UPDATE blobs SET segment = ?, seg_offset = ?, crc = ?
				WHERE id = ? AND segment = ? AND seg_offset = ?`,
				m.loc.Segment, m.loc.Offset, int64(m.loc.CRC), m.id, segID, m.oldOffset); err != nil {
				return err
			}
		}
		return nil
	})
}

// moveInlineBodies moves bodies that an older version kept inside the
// database (blobs.data) to segments, in batches: the upgrade path that
// leaves the database with metadata only.
func (s *Store) moveInlineBodies(ctx context.Context) (int64, error) {
	var total int64
	for ctx.Err() == nil {
		rows, err := s.rdb.QueryContext(ctx, `SELECT id, data FROM blobs WHERE data IS NOT NULL LIMIT 256`)
		if err != nil {
			return total, err
		}
		var moved []movedBody
		for rows.Next() {
			var id int64
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				rows.Close()
				return total, err
			}
			loc, err := s.blobs.Append(data)
			if err != nil {
				rows.Close()
				return total, err
			}
			moved = append(moved, movedBody{id: id, loc: loc})
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(moved) == 0 {
			return total, err
		}
		err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
			for _, m := range moved {
				if _, err := tx.ExecContext(ctx, `UPDATE blobs SET segment = ?, seg_offset = ?, crc = ?, data = NULL
					WHERE id = ? AND data IS NOT NULL`, m.loc.Segment, m.loc.Offset, int64(m.loc.CRC), m.id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += int64(len(moved))
	}
	return total, ctx.Err()
}
