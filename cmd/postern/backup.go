package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/app"
	"postern/internal/config"
	"postern/internal/durable"
)

// cmdBackup writes a consistent copy of everything a server needs to come
// back, while it runs: DIR/data is a data directory (the mail database as
// one snapshot, every body it references, the SRS key, the TLS files and
// whatever else the data directory holds, but not the text index, which a
// server rebuilds), DIR/postern.toml the config file as it is.
func cmdBackup(e *env, args []string) error {
	fs := newFlags(e, "backup", "postern -c FILE backup DIR")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 1); err != nil {
		return err
	}
	dir := pos[0]
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("backup: %s exists already; give a new directory", dir)
	}
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	if abs, aerr := filepath.Abs(dir); aerr == nil {
		if data, derr := filepath.Abs(cfg.DataPath(".")); derr == nil && (abs == data || strings.HasPrefix(abs, data+string(filepath.Separator))) {
			return fmt.Errorf("backup: %s is inside the data directory %s; give a directory outside it", dir, data)
		}
	}
	ctx := context.Background()
	backend, err := app.OpenBackend(ctx, cfg, discardLogger())
	if err != nil {
		return err
	}
	defer backend.Close()
	start := time.Now()
	data := filepath.Join(dir, "data")
	st, err := backend.Store.Backup(ctx, data)
	if err != nil {
		return err
	}
	files, err := copyDataRest(cfg.DataPath("."), data)
	if err != nil {
		return err
	}
	if cfg.File() != "" {
		if _, err := durable.CopyFile(cfg.File(), filepath.Join(dir, "postern.toml"), 0o640); err != nil {
			return fmt.Errorf("backup: copying the config: %w", err)
		}
	}
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(e.stdout, "backup in %s: %d messages, %d bodies in %d files (%d bytes), %d other files, in %v\n",
		dir, st.Messages, st.Bodies, st.Files, st.BodyBytes, files, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "restore: stop the server, put %s in place of the data directory %s, start it\n",
		data, cfg.DataPath("."))
	return nil
}

// copyDataRest copies what the data directory holds besides the mail
// database, the bodies and the text index (the SRS key, TLS files, ...):
// small files that change rarely. Their directories are synced once the
// files are in.
func copyDataRest(src, dst string) (int, error) {
	n := 0
	dirs := []string{dst}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			if rel == "blobs" {
				return filepath.SkipDir
			}
			dirs = append(dirs, filepath.Join(dst, rel))
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		if !d.Type().IsRegular() || backupSkips(rel) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if _, err := durable.CopyFile(path, filepath.Join(dst, rel), fi.Mode().Perm()); err != nil {
			return fmt.Errorf("backup: copying %s: %w", path, err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	for _, d := range dirs {
		if err := durable.SyncDir(d); err != nil {
			return n, fmt.Errorf("backup: %w", err)
		}
	}
	return n, nil
}

// backupSkips names the data directory's files a backup leaves out: the
// databases (Backup writes the mail database's snapshot; the text index is
// rebuilt), their journals, the reserve file (made again at start).
func backupSkips(rel string) bool {
	if filepath.Dir(rel) != "." {
		return false
	}
	for _, db := range []string{"postern.db", "text.db"} {
		if rel == db || strings.HasPrefix(rel, db+"-") || strings.HasPrefix(rel, db+".") {
			return true
		}
	}
	return false
}
