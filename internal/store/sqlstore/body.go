package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"postern/internal/blob"
	"postern/internal/store"
)

// Bodies. A body handed to the store is written to the blob store before
// the database operation that references it is queued: a small one is
// appended to this process's active segment (durable with the batch's
// Sync, which the writer runs before every commit), a large one is a file
// of its own, already fsynced and renamed by then. The blobs row holds its
// location; nothing of the body itself goes into the database.

// bodyWriter is the store.BodyWriter of a Store: a blob.Writer, which keeps
// the body in memory until it outgrows blob.DefaultMemoryMax and then moves
// it to a temporary file, so that a large body is written once.
type bodyWriter struct {
	w        *blob.Writer
	finished bool
}

// NewBody implements store.Mailstore.
func (s *Store) NewBody() (store.BodyWriter, error) {
	w, err := s.blobs.Create()
	if err != nil {
		return nil, err
	}
	return &bodyWriter{w: w}, nil
}

func (b *bodyWriter) Write(p []byte) (int, error) { return b.w.Write(p) }

// ReadFrom lets io.Copy hand its buffers straight to the blob writer.
func (b *bodyWriter) ReadFrom(r io.Reader) (int64, error) { return b.w.ReadFrom(r) }

func (b *bodyWriter) Abort() {
	if !b.finished {
		b.w.Abort()
	}
}

func (b *bodyWriter) Finish() (store.Body, error) {
	b.finished = true
	if mem := b.w.Bytes(); mem != nil {
		b.w.Abort() // nothing on disk; the bytes stay ours
		return store.BytesBody(mem), nil
	}
	return &fileBody{w: b.w}, nil
}

// fileBody is a large body in a temporary file, made durable under its
// key when a store call takes it.
type fileBody struct {
	w *blob.Writer
}

func (f *fileBody) Size() int64 { return f.w.Size() }
func (f *fileBody) Discard()    { f.w.Abort() }

func (f *fileBody) Open() (io.ReadCloser, error) {
	return f.w.OpenTemp()
}

// putBody writes a body handed to the store and returns where it is. A
// segment body becomes durable with the next Sync (before the commit that
// references it); a file body already is.
func (s *Store) putBody(b store.Body) (blob.Loc, error) {
	if b == nil {
		return blob.Loc{}, invalid("no body")
	}
	switch v := b.(type) {
	case store.BytesBody:
		if int64(len(v)) > blob.DefaultMemoryMax {
			return s.putFile(bytes.NewReader(v))
		}
		return s.blobs.Append(v)
	case *fileBody:
		key, size, err := v.w.Commit()
		if err != nil {
			return blob.Loc{}, err
		}
		return blob.Loc{Key: key, Size: size}, nil
	}
	// A body of another kind: copied once, the way it would have come.
	defer b.Discard()
	r, err := b.Open()
	if err != nil {
		return blob.Loc{}, err
	}
	defer r.Close()
	if b.Size() > blob.DefaultMemoryMax {
		return s.putFile(r)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return blob.Loc{}, err
	}
	return s.blobs.Append(data)
}

func (s *Store) putFile(r io.Reader) (blob.Loc, error) {
	w, err := s.blobs.Create()
	if err != nil {
		return blob.Loc{}, err
	}
	defer w.Abort()
	if _, err := io.Copy(w, r); err != nil {
		return blob.Loc{}, err
	}
	if err := w.Spill(); err != nil {
		return blob.Loc{}, err
	}
	key, size, err := w.Commit()
	return blob.Loc{Key: key, Size: size}, err
}

// dropLoc undoes putBody for a body no row came to reference: a file is
// removed; segment bytes are dead space that compaction reclaims.
func (s *Store) dropLoc(loc blob.Loc) {
	if loc.Segment != 0 || loc.Key == "" {
		return
	}
	if s.BlobReferenced(context.Background(), loc.Key) {
		return
	}
	if err := s.blobs.Remove(loc.Key); err != nil {
		s.log.Warn("blob remove failed", "blob", loc.Key, "err", err)
	}
}

// insertBlob adds the blobs row for a body at loc, with no references yet.
// terms, when not nil, go to the text index after the commit (mailbox
// copies; a body only queued is never searched, and stays "not indexed",
// which no search meets).
func insertBlob(ctx context.Context, tx *wtx, e *effects, loc blob.Loc, terms *textTerms) (int64, error) {
	var key any
	if loc.Segment == 0 {
		key = loc.Key
	}
	// The indexer indexes it after the commit (indexer.go).
	state := textNotIndexed
	res, err := tx.ExecContext(ctx, `INSERT INTO blobs (segment, seg_offset, size, crc, blob_key, refs, text_state, created_at)
		VALUES (?, ?, ?, ?, ?, 0, ?, ?)`, loc.Segment, loc.Offset, loc.Size, int64(loc.CRC), key, state, now())
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if terms != nil {
		e.indexLater = append(e.indexLater, ftsRow{blobID: id, terms: *terms})
	}
	return id, nil
}

// blobLoc reads where a blob is; inline is the body of a row the upgrade
// has not moved to a segment yet.
func blobLoc(ctx context.Context, q querier, blobID int64) (loc blob.Loc, inline []byte, err error) {
	var key sql.NullString
	var crc int64
	err = q.QueryRowContext(ctx, `SELECT segment, seg_offset, size, crc, blob_key, data FROM blobs WHERE id = ?`, blobID).
		Scan(&loc.Segment, &loc.Offset, &loc.Size, &crc, &key, &inline)
	loc.CRC, loc.Key = uint32(crc), key.String
	return loc, inline, notFound(err)
}

// OpenBlob implements store.Mailstore. The reader also implements
// io.ReaderAt and io.Seeker.
func (s *Store) OpenBlob(ctx context.Context, blobID int64) (io.ReadCloser, error) {
	s.idx.noteRead()
	// Compaction may move a body between the lookup and the open; the
	// second lookup finds it at its new place.
	for attempt := 0; ; attempt++ {
		loc, inline, err := blobLoc(ctx, s.rdb, blobID)
		if err != nil {
			return nil, err
		}
		if inline != nil {
			return nopCloser{bytes.NewReader(inline)}, nil
		}
		r, err := s.blobs.Open(loc)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			return nil, fmt.Errorf("sqlstore: blob %d: %w", blobID, err)
		}
	}
}

// nopCloser keeps the io.ReaderAt and io.Seeker of a bytes.Reader.
type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
