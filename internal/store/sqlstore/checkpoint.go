package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// WAL checkpoints. SQLite's automatic checkpoint runs inside the commit
// that pushes the WAL past its threshold, on the committing connection:
// the writer, whose whole batch (and every delivery queued behind it)
// would wait for pages to be copied and the database file fsynced. The
// writer's automatic checkpoint is off; a connection of its own runs a
// PASSIVE checkpoint every checkpointEvery, which never blocks writers or
// readers, and the WAL restarts from its beginning at the next commit
// after a complete one.

const (
	checkpointEvery = 500 * time.Millisecond
	// walSizeLimit is what a restarted WAL file is truncated to.
	walSizeLimit = 64 << 20
)

// writerPragmas turn the writer connection's automatic checkpoint off.
func writerPragmas(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA journal_size_limit = %d`, walSizeLimit)); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

func (s *Store) startCheckpointer() error {
	db, err := sql.Open("sqlite", dsn(s.path, false))
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	db.SetMaxOpenConns(1)
	go func() {
		defer db.Close()
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-s.closed:
				return
			case <-t.C:
			}
			s.checkpoint(db)
		}
	}()
	return nil
}

func (s *Store) checkpoint(db *sql.DB) {
	var busy, logFrames, done int64
	err := db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done)
	if err != nil {
		s.log.Warn("wal checkpoint", "err", err)
		return
	}
	s.ckpts.Add(1)
	if logFrames > 0 && done < logFrames {
		s.log.Debug("wal checkpoint incomplete", "frames", logFrames, "checkpointed", done)
	}
}
