package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/blob"
	"postern/internal/durable"
)

// BackupStats says what a backup holds.
type BackupStats struct {
	Messages  int64 // message rows (a body in two mailboxes counts twice)
	Bodies    int64 // distinct bodies
	Files     int   // files copied under blobs/ (segments and large bodies)
	BodyBytes int64 // bytes of those files
}

// Backup writes a consistent copy of the mail database and of every body
// it references into dir (which must not exist yet): dir/postern.db and
// dir/blobs. It is safe while a server runs on the store.
//
// The database is a snapshot (VACUUM INTO). Bodies are files that are
// only ever appended to or removed, so every body file gets a hard link
// in a staging directory of the store before the snapshot, and again
// those that appeared since after it: a linked file can be copied whole
// even if compaction or an expunge removes it meanwhile (links, unlike
// open files, cost no descriptor however many large bodies there are),
// and no body the snapshot references can be missing. The copy is then
// checked against the snapshot: every segment long enough for the bodies
// in it, every large body's file there at its size.
//
// The text index is not copied: the snapshot marks every body as not
// indexed yet, and a server started on the copy indexes them again in the
// background (searches read the bodies meanwhile).
func (s *Store) Backup(ctx context.Context, dir string) (BackupStats, error) {
	var st BackupStats
	if _, err := os.Stat(dir); err == nil {
		return st, fmt.Errorf("backup: %s exists already; give a new directory", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return st, fmt.Errorf("backup: %w", err)
	}
	srcBlobs := s.blobs.Dir()
	removeStaleStages(srcBlobs, time.Now())
	stage, err := os.MkdirTemp(srcBlobs, backupStagePrefix)
	if err != nil {
		return st, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(stage)
	linked := map[string]bool{}
	if err := linkBodyFiles(srcBlobs, stage, linked); err != nil {
		return st, err
	}
	dbPath := filepath.Join(dir, "postern.db")
	if err := snapshotDB(ctx, s.path, dbPath); err != nil {
		return st, err
	}
	if err := linkBodyFiles(srcBlobs, stage, linked); err != nil {
		return st, err
	}
	dstBlobs := filepath.Join(dir, "blobs")
	for rel := range linked {
		n, err := durable.CopyFile(filepath.Join(stage, rel), filepath.Join(dstBlobs, rel), 0o640)
		if err != nil {
			return st, fmt.Errorf("backup: copying %s: %w", rel, err)
		}
		st.Files++
		st.BodyBytes += n
	}
	if err := durable.SyncTree(dstBlobs); err != nil {
		return st, fmt.Errorf("backup: %w", err)
	}
	if err := prepareBackupDB(ctx, dbPath, dstBlobs, &st); err != nil {
		return st, err
	}
	if err := durable.SyncDir(dir); err != nil {
		return st, fmt.Errorf("backup: %w", err)
	}
	return st, nil
}

// snapshotDB writes one consistent copy of the database at src to dst.
// VACUUM INTO writes a new file, which the read pool's query_only
// connections may not do: it takes a connection of its own, which writes
// nothing to src.
func snapshotDB(ctx context.Context, src, dst string) error {
	db, err := sql.Open("sqlite", dsn(src, false))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("backup: database snapshot: %w", err)
	}
	return nil
}

// backupStagePrefix names the staging directories of backups in the
// blob store's directory.
const backupStagePrefix = "backup-stage-"

// removeStaleStages removes what a backup that died left: staging
// directories a day old.
func removeStaleStages(root string, now time.Time) {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), backupStagePrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > 24*time.Hour {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// linkBodyFiles gives every body file under root not linked yet a hard
// link under stage (the tmp directory's bodies being written are no
// one's yet; staging directories are skipped).
func linkBodyFiles(root, stage string, linked map[string]bool) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking: nothing references it
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "tmp" || strings.HasPrefix(rel, backupStagePrefix) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || linked[rel] {
			return nil
		}
		dst := filepath.Join(stage, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := os.Link(path, dst); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("backup: %w", err)
		}
		linked[rel] = true
		return nil
	})
}

// prepareBackupDB marks every body of the copy as not indexed and checks
// that the copied files hold every body it references.
func prepareBackupDB(ctx context.Context, dbPath, blobDir string, st *BackupStats) error {
	db, err := sql.Open("sqlite", dsn(dbPath, false))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE blobs SET text_state = 2 WHERE text_state <> 2`); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages`).Scan(&st.Messages); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM blobs`).Scan(&st.Bodies); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var problems []string
	rows, err := db.QueryContext(ctx, `SELECT segment, MAX(seg_offset + size) FROM blobs WHERE segment <> 0 GROUP BY segment`)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for rows.Next() {
		var seg, end int64
		if err := rows.Scan(&seg, &end); err != nil {
			rows.Close()
			return fmt.Errorf("backup: %w", err)
		}
		fi, err := os.Stat(filepath.Join(blobDir, blob.SegmentDir, blob.SegmentName(seg)))
		if err != nil || fi.Size() < end {
			problems = append(problems, fmt.Sprintf("segment %d: %v", seg, statProblem(fi, err, end)))
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	rows, err = db.QueryContext(ctx, `SELECT blob_key, size FROM blobs WHERE blob_key IS NOT NULL AND blob_key <> ''`)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for rows.Next() {
		var key string
		var size int64
		if err := rows.Scan(&key, &size); err != nil {
			rows.Close()
			return fmt.Errorf("backup: %w", err)
		}
		if !blob.ValidKey(key) {
			problems = append(problems, fmt.Sprintf("body key %q not valid", key))
			continue
		}
		fi, err := os.Stat(filepath.Join(blobDir, blob.KeyPath(key)))
		if err != nil || fi.Size() != size {
			problems = append(problems, fmt.Sprintf("body %s: %v", key, statProblem(fi, err, size)))
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("and %d more", len(problems)-10))
		}
		return fmt.Errorf("backup: the copy lacks bodies the database references (run it again): %s", strings.Join(problems, "; "))
	}
	return nil
}

func statProblem(fi os.FileInfo, err error, want int64) string {
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d bytes, want %d", fi.Size(), want)
}
