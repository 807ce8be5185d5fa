// Package sqlstore implements store.Store on SQLite (modernc.org/sqlite, no
// cgo), with the bodies in a blob.Store.
//
// Connections: one writer connection, owned by a single goroutine that runs
// queued operations in batches (group commit, see writer.go), and a small pool
// of read-only connections. WAL mode lets readers run beside the writer;
// synchronous=FULL makes a returned commit durable. Nothing of the directory
// is cached in memory, because the CLI changes the same database from another
// process while the server runs.
//
// Schema: migrations/*.sql, applied in order at Open, each in its own
// transaction, recorded in schema_migrations. The tables are domains,
// accounts, aliases, mailboxes, blobs (one row per body file, reference
// counted), messages (flags and sizes; their cached envelope, body structure
// and preview in message_meta), expunged (for QRESYNC), blob_fts (FTS5, rowid =
// blobs.id), the outbound queue, and access_tokens (bearer tokens of the HTTP
// API, by SHA-256 digest, dropped with a credential change or a disable),
// and the delivery log (delivery_log, its rows inserted by the writer with
// the batch they belong to, and delivery_log_keys, its search keys added in
// batches a few seconds later: deliverylog.go).
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"postern/internal/blob"
	"postern/internal/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// readConns bounds the read pool: enough for the protocol sessions of a
// small machine without holding many SQLite page caches.
const readConns = 4

// busyTimeout is how long a connection waits for a lock held by another
// process (the CLI) before failing with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Store is the SQLite implementation of store.Store.
type Store struct {
	path   string
	wdb    *sql.DB // exactly one connection, used only by the writer goroutine
	rdb    *readDB // read-only pool
	blobs  *blob.Store
	log    *slog.Logger
	hub    store.Notifier
	w      *writer
	closed chan struct{}
	// purgeWake tells the maintenance loop that references were dropped.
	purgeWake chan struct{}
	ckpts     atomic.Uint64
	text      *textDB
	// ownBlobs: the store opened its blob store itself (OpenDir) and
	// closes it.
	ownBlobs bool
	idx      *indexer
	// reserve is disk space kept for deleting mail on a full disk.
	reserve *reserve
	// ckptDone is closed when the checkpointer has stopped: Close waits,
	// so no file of the store is touched after it returns.
	ckptDone chan struct{}
	// observer is told of commits (SetObserver).
	observer atomic.Pointer[Observer]

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

func dsn(path string, readOnly bool) string { return dsnCache(path, readOnly, 8192) }

// dsnCache is dsn with a page cache of cacheKiB per connection. The cache
// is not free at commit: SQLite scans its whole page table at the end of
// every write transaction (pcache1Truncate), and with 32 MB the mail
// writer, committing hundreds of times a second, spent 6% of the server's
// CPU there at 300,000 messages, more as the store grew; 8 MB holds the hot pages of the indexes a delivery
// appends to (random-key indexes miss at any size that fits in memory).
func dsnCache(path string, readOnly bool, cacheKiB int) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	// Savepoint journals (one per operation in a batch) stay in memory
	// instead of temporary files.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cacheKiB))
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// Take the write lock at BEGIN, so a busy wait happens there and
		// never as a deadlock-prone lock upgrade in the middle of a batch.
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Options are what Open needs; the composition root builds them.
type Options struct {
	// Path is the database file.
	Path string
	// Blobs keeps the bodies.
	Blobs *blob.Store
	// Notifier carries change events between sessions; nil gives a hub of
	// this process alone.
	Notifier store.Notifier
	Logger   *slog.Logger
}

// Open opens (creating and migrating when needed) the database.
func Open(ctx context.Context, opts Options) (*Store, error) {
	path, blobs, logger, hub := opts.Path, opts.Blobs, opts.Logger, opts.Notifier
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if hub == nil {
		hub = store.NewHub()
	}
	wdb, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	if err := migrate(ctx, wdb, logger); err != nil {
		wdb.Close()
		return nil, err
	}
	rdbRaw, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	rdb := &readDB{DB: rdbRaw, stmts: map[string]*sql.Stmt{}}
	rdb.SetMaxOpenConns(readConns)
	rdb.SetMaxIdleConns(readConns)
	if err := rdb.PingContext(ctx); err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	text, err := openTextDB(ctx, textPath(path))
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, err
	}
	s := &Store{
		path:   path,
		wdb:    wdb,
		rdb:    rdb,
		text:   text,
		blobs:  blobs,
		log:    logger,
		hub:    hub,
		closed: make(chan struct{}),

		purgeWake: make(chan struct{}, 1),
		reserve:   newReserve(path),
	}
	if err := s.reserve.ensure(); err != nil {
		logger.Warn("disk reserve not made", "path", s.reserve.path, "err", err)
	}
	if s.w, err = newWriter(ctx, s); err != nil {
		wdb.Close()
		rdb.Close()
		text.close()
		return nil, err
	}
	s.startIndexer()
	if err := s.startCheckpointer(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenDir opens the usual layout under one data directory: the blob store
// in dir/blobs and the database in dir/postern.db. Tests of other packages
// can open a real store with OpenDir(ctx, t.TempDir(), nil).
func OpenDir(ctx context.Context, dir string, logger *slog.Logger) (*Store, error) {
	blobs, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, Options{Path: filepath.Join(dir, "postern.db"), Blobs: blobs, Logger: logger})
	if err != nil {
		blobs.Close()
		return nil, err
	}
	s.ownBlobs = true
	return s, nil
}

// Close stops the writer (operations already queued are answered with
// store.ErrStoreShutdown) and closes the database. The blob store stays
// open for its owner to close, unless OpenDir opened it.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// Words still waiting are cheaper to write now than to cut again.
		if err := s.FlushIndex(context.Background()); err != nil {
			s.log.Warn("text index at close", "err", err)
		}
		close(s.closed)
		s.w.wait()
		if s.ckptDone != nil {
			<-s.ckptDone
		}
		<-s.idx.done
		s.closeErr = s.wdb.Close()
		if err := s.rdb.Close(); s.closeErr == nil {
			s.closeErr = err
		}
		if err := s.text.close(); s.closeErr == nil {
			s.closeErr = err
		}
		if s.ownBlobs {
			if err := s.blobs.Close(); s.closeErr == nil {
				s.closeErr = err
			}
		}
	})
	return s.closeErr
}

// readDB is the read-only pool with a cache of prepared statements; a
// statement is prepared on each pooled connection the first time it runs
// there, then reused.
type readDB struct {
	*sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func (r *readDB) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	r.mu.Lock()
	st, ok := r.stmts[q]
	r.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := r.DB.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.stmts[q]; ok || r.stmts == nil {
		st.Close()
		if old == nil {
			return nil, store.ErrStoreShutdown
		}
		return old, nil
	}
	r.stmts[q] = st
	return st, nil
}

// QueryContext runs q as a cached statement.
func (r *readDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := r.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs q as a cached statement.
func (r *readDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := r.stmt(ctx, q)
	if err != nil {
		return r.DB.QueryRowContext(ctx, q, args...) // reports the error
	}
	return st.QueryRowContext(ctx, args...)
}

// Close closes the statements and the pool.
func (r *readDB) Close() error {
	r.mu.Lock()
	for _, st := range r.stmts {
		st.Close()
	}
	r.stmts = nil
	r.mu.Unlock()
	return r.DB.Close()
}

// Notifier implements store.Store.
func (s *Store) Notifier() store.Notifier { return s.hub }

// Blobs returns the blob store the bodies live in.
func (s *Store) Blobs() *blob.Store { return s.blobs }

// migrate applies the embedded migrations not yet recorded, in order.
// Each runs in its own IMMEDIATE transaction, so two processes opening a new
// database at once apply each migration exactly once.
func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlstore: migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	latest := 0
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s: bad version", base)
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		applied, err := applyMigration(ctx, db, v, base, string(body))
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s: %w", base, err)
		}
		if applied {
			log.Info("database migrated", "version", v, "migration", base)
		}
		latest = max(latest, v)
	}
	// An older binary must not write to a schema it does not know.
	var newest int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	if newest > latest {
		return fmt.Errorf("sqlstore: database schema version %d is newer than this program's %d; upgrade postern", newest, latest)
	}
	return nil
}

// fkOffMarker starts a migration that rebuilds tables: foreign keys must be
// off while a referenced table is dropped and its new copy renamed (they can
// only be switched outside a transaction), and are checked before commit.
const fkOffMarker = "-- postern:foreign-keys-off"

func applyMigration(ctx context.Context, db *sql.DB, version int, name, body string) (bool, error) {
	fkOff := strings.HasPrefix(body, fkOffMarker)
	if fkOff {
		// db has exactly one connection, so the pragma applies to the
		// transaction below.
		if _, err := db.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
			return false, err
		}
		defer db.ExecContext(ctx, `PRAGMA foreign_keys = ON`)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return false, err
	}
	if fkOff {
		rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			return false, err
		}
		bad := rows.Next()
		rows.Close()
		if bad {
			return false, fmt.Errorf("foreign key violations after migration")
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		version, name, time.Now().Unix()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// BlobReferenced reports whether the database references the blob key. On a
// database error it answers true, so a sweep never deletes on doubt.
func (s *Store) BlobReferenced(ctx context.Context, key string) bool {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM blobs WHERE blob_key = ?`, key).Scan(&n)
	return err != nil || n > 0
}

// SweepBlobs removes body files a crash left behind (see blob.Store.Sweep).
func (s *Store) SweepBlobs(ctx context.Context) (blob.SweepStats, error) {
	st, err := s.blobs.Sweep(ctx, time.Now(), blob.SweepGrace, func(key string) bool {
		return s.BlobReferenced(ctx, key)
	})
	if st.Temp+st.Orphans > 0 {
		s.log.Info("blob sweep", "temp_removed", st.Temp, "orphans_removed", st.Orphans)
	}
	return st, err
}
