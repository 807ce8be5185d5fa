package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"postern/internal/store"
)

// Group commit. Every change goes through one goroutine that owns the writer
// connection. It takes whatever operations are queued (up to maxBatch), runs
// them in one transaction with a SAVEPOINT around each, so a failing
// operation (over quota, not found) undoes only itself, commits once, and
// only then answers the callers and publishes their change events. Under
// load, N concurrent deliveries share one fsync of the WAL instead of N.

// maxBatch bounds one transaction, so a flood of writes cannot hold the
// SQLite write lock (and the CLI) for long.
const maxBatch = 128

// effects are what an operation wants done only after its commit.
type effects struct {
	changes []store.Change
	// blobKeys are body files whose rows were deleted.
	blobKeys []string
	// purge: references to bodies were dropped; the maintenance loop
	// collects those that nothing references any more.
	purge bool
	// indexLater are words for the indexer once the body is committed;
	// unindexed are bodies gone, whose words the indexer removes.
	indexLater []ftsRow
	unindexed  []int64
	// logged are the delivery log rows the operation wrote.
	logged []store.LogEvent
}

type ftsRow struct {
	blobID int64
	terms  textTerms
}

func (e *effects) change(c store.Change) { e.changes = append(e.changes, c) }

// opFunc changes the database inside tx; it records in e what must happen
// after the commit. Returning an error rolls back what it did, and only that.
type opFunc func(ctx context.Context, tx *wtx, e *effects) error

type op struct {
	ctx  context.Context
	fn   opFunc
	eff  effects
	err  error
	done chan error
}

type writer struct {
	s       *Store
	conn    *sql.Conn // the writer connection, held for the writer's life
	stmts   map[string]*sql.Stmt
	ops     chan *op
	stopped chan struct{}
	batches atomic.Uint64
	done    atomic.Uint64 // operations run, committed or not
	// lastCkpt is the time of the writer's last checkpoint (checkpoint.go).
	lastCkpt time.Time
}

func newWriter(ctx context.Context, s *Store) (*writer, error) {
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: writer connection: %w", err)
	}
	if err := writerPragmas(ctx, conn); err != nil {
		conn.Close()
		return nil, err
	}
	w := &writer{s: s, conn: conn, stmts: map[string]*sql.Stmt{},
		ops: make(chan *op, maxBatch), stopped: make(chan struct{})}
	go w.run()
	return w, nil
}

// wtx is the writer's transaction. Its statements are prepared once on the
// writer connection and reused by every later batch: parsing SQL would
// otherwise cost more CPU than executing it. Statements run on the
// connection that holds the transaction, so they are part of it.
type wtx struct {
	*sql.Tx
	w *writer
}

func (t *wtx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := t.w.stmts[q]; ok {
		return st, nil
	}
	st, err := t.w.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	t.w.stmts[q] = st
	return st, nil
}

// ExecContext runs q as a cached statement.
func (t *wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs q as a cached statement.
func (t *wtx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs q as a cached statement.
func (t *wtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, q, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// Stats reports how many write batches (transactions) and operations the
// writer has run; ops/batches is the group-commit factor.
func (s *Store) Stats() (batches, ops uint64) {
	return s.w.batches.Load(), s.w.done.Load()
}

func (w *writer) wait() { <-w.stopped }

// write queues fn and waits until its batch is committed. Once queued, an
// operation is waited for even when ctx ends, so a caller never reports
// failure for a change that was in fact committed.
func (s *Store) write(ctx context.Context, fn opFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.w.ops <- o:
	case <-s.closed:
		return store.ErrStoreShutdown
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-o.done:
		return err
	case <-s.w.stopped:
		// The writer may have answered just before stopping.
		select {
		case err := <-o.done:
			return err
		default:
			return store.ErrStoreShutdown
		}
	}
}

func (w *writer) run() {
	defer close(w.stopped)
	defer func() {
		for _, st := range w.stmts {
			st.Close()
		}
		w.conn.Close()
	}()
	batch := make([]*op, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case o := <-w.ops:
			batch = append(batch, o)
		case <-w.s.closed:
			w.drain()
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case o := <-w.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		w.runBatch(batch)
		w.maybeCheckpoint()
	}
}

// drain answers the operations still queued at Close.
func (w *writer) drain() {
	for {
		select {
		case o := <-w.ops:
			o.done <- store.ErrStoreShutdown
		default:
			return
		}
	}
}

// slowBatch is how long a batch may take before the log says so: a disk
// that slows down shows here first.
const slowBatch = 500 * time.Millisecond

func (w *writer) runBatch(batch []*op) {
	t0 := time.Now()
	err := w.execBatch(batch)
	if d := time.Since(t0); d > slowBatch {
		w.s.log.Warn("slow database commit", "ops", len(batch), "ms", d.Milliseconds())
	}
	if err != nil && len(batch) > 1 {
		// One operation may have broken the whole transaction (an I/O or
		// disk-full error rolls everything back): run each alone, so the
		// others do not fail with it.
		w.s.log.Warn("database batch failed, retrying one by one", "ops", len(batch), "err", err)
		for _, o := range batch {
			o.err, o.eff = nil, effects{}
			w.runBatch([]*op{o})
		}
		return
	}
	if err != nil {
		w.s.log.Error("database write failed", "err", err)
	}
	obs := w.s.observe()
	if err == nil && obs != nil {
		obs.Committed(len(batch), time.Since(t0))
	}
	for _, o := range batch {
		if err != nil {
			o.done <- err
			continue
		}
		if o.err == nil {
			w.after(&o.eff)
			if obs != nil && len(o.eff.logged) > 0 {
				obs.Logged(o.eff.logged)
			}
		}
		o.done <- o.err
	}
}

// execBatch runs the batch in one transaction. A non-nil result means the
// transaction did not commit and every operation failed with it.
func (w *writer) execBatch(batch []*op) (err error) {
	ctx := context.Background()
	w.batches.Add(1)
	w.done.Add(uint64(len(batch)))
	stx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	tx := &wtx{Tx: stx, w: w}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, o := range batch {
		if cerr := o.ctx.Err(); cerr != nil {
			o.err = cerr
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
			return fmt.Errorf("sqlstore: savepoint: %w", err)
		}
		// Once started, an operation runs to its end: a cancelled caller
		// must not leave half an operation to the savepoint logic.
		o.err = w.call(o, tx)
		if o.err != nil {
			o.eff = effects{}
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO op"); err != nil {
				return fmt.Errorf("sqlstore: rollback to savepoint: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE op"); err != nil {
			return fmt.Errorf("sqlstore: release savepoint: %w", err)
		}
	}
	if err := writeLogRows(ctx, tx, batch); err != nil {
		return fmt.Errorf("sqlstore: delivery log: %w", err)
	}
	// The bodies the batch references were appended to segments before
	// their operations were queued: one fdatasync makes them all durable
	// before the commit that makes them visible.
	if err := w.s.blobs.Sync(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// call runs one operation; a panic in it (a bug) fails that operation
// only, instead of the writer and with it every later write.
func (w *writer) call(o *op, tx *wtx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.s.log.Error("database operation panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("sqlstore: operation panicked: %v", p)
		}
	}()
	return o.fn(context.WithoutCancel(o.ctx), tx, &o.eff)
}

// after runs the effects of a committed operation.
func (w *writer) after(e *effects) {
	for _, c := range e.changes {
		w.s.hub.Publish(c)
	}
	if len(e.indexLater) > 0 || len(e.unindexed) > 0 {
		w.s.idx.queue(e.indexLater, e.unindexed)
	}
	if e.purge {
		select {
		case w.s.purgeWake <- struct{}{}:
		default:
		}
	}
	for _, k := range e.blobKeys {
		if err := w.s.blobs.Remove(k); err != nil {
			// Sweep finds it again later.
			w.s.log.Warn("blob remove failed", "blob", k, "err", err)
		}
	}
}

// savepoint runs fn inside a nested savepoint, undoing only fn's changes
// when it fails; used for the per-target part of a delivery.
func savepoint(ctx context.Context, tx *wtx, fn func() error) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT part"); err != nil {
		return err
	}
	ferr := fn()
	if ferr != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO part"); err != nil {
			return errors.Join(ferr, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "RELEASE part"); err != nil {
		return errors.Join(ferr, err)
	}
	return ferr
}
