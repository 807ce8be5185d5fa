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
// readers and copies the bulk of the pages. But under steady writes such a
// checkpoint never catches the end of the WAL, and the WAL restarts from
// its beginning only after one that did: so the writer itself, between
// batches and at most every writerCheckpointEvery, runs a PASSIVE
// checkpoint too, which has only the last pages left to copy and nothing
// appending meanwhile.

// A checkpoint copies each page written since the last one, once however
// many times it was written: the tail pages of the indexes that deliveries
// append to (a few per mailbox) are written again and again, so the
// interval sets how many copies of them are made. With many mailboxes
// receiving, the tails spread over more pages than one interval rewrites,
// and at 500 ms each delivery cost several page copies plus a share of the
// database file's fsync: the checkpoints' CPU per message grew sixfold
// between 0 and 300,000 messages in BenchmarkScale.
const (
	checkpointEvery       = time.Second
	writerCheckpointEvery = 2 * time.Second
	// walSizeLimit is what a restarted WAL file is truncated to: above
	// what the intervals above let it grow to under load, so the file is
	// not cut and grown again at every restart.
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

// maybeCheckpoint runs the writer's own checkpoint when it is due.
func (w *writer) maybeCheckpoint() {
	if time.Since(w.lastCkpt) < writerCheckpointEvery {
		return
	}
	w.lastCkpt = time.Now()
	var busy, logFrames, done int64
	if err := w.conn.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done); err != nil {
		w.s.log.Warn("wal checkpoint", "err", err)
	}
}

func (s *Store) startCheckpointer() error {
	db, err := sql.Open("sqlite", dsn(s.path, false))
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	db.SetMaxOpenConns(1)
	s.ckptDone = make(chan struct{})
	go func() {
		defer close(s.ckptDone)
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
			// A reserve given back on a full disk comes back once there is room.
			if err := s.reserve.ensure(); err != nil {
				s.log.Warn("disk reserve not made", "path", s.reserve.path, "err", err)
			}
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
