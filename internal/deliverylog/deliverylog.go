// Package deliverylog is the administrator's view of the delivery log:
// what happened to each message, from reception to a mailbox or a remote
// MX. The rows are written by the store in the transaction of the change
// they tell of (store.Delivery.Log, the queue's updates and actions), so
// they ride the delivery's group commit; this package adds what belongs
// to no change (refusals, through Record), the search keys added in
// batches a few seconds later (Index, so that no random-key index page is
// written per delivery), the retention (Prune; Run does all three),
// the hourly counts of the dashboard, and the JSON handlers of the admin
// API:
//
//	GET /admin/api/log?address=&message_id=&queue_id=&txn=&since=&before=&limit=   Search
//	GET /admin/api/log/trace?key=ID                                                Trace
//
// The admin API (package of the /admin/api router) mounts the handlers
// behind its authentication; this package has no router of its own.
package deliverylog

import (
	"context"
	"log/slog"
	"time"

	"postern/internal/store"
)

// DefaultRetention is how long rows are kept when the config says nothing
// ([log] delivery_retention).
const DefaultRetention = 30 * 24 * time.Hour

// Log is the delivery log of one store.
type Log struct {
	st        store.DeliveryLog
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
	rec       chan store.LogEvent
}

// Options build a Log.
type Options struct {
	// Retention is how long rows are kept (DefaultRetention when 0).
	Retention time.Duration
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// recordBuffer bounds the refusals waiting to be written: a flood of
// refused recipients loses log rows, never slows the SMTP sessions.
const recordBuffer = 4096

// New returns the delivery log over st.
func New(st store.DeliveryLog, o Options) *Log {
	l := &Log{st: st, retention: o.Retention, now: o.Now, log: o.Logger, rec: make(chan store.LogEvent, recordBuffer)}
	if l.retention <= 0 {
		l.retention = DefaultRetention
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l
}

// Record queues a row that belongs to no store change (a refusal); Run
// writes it. It implements deliver.LogRecorder and never blocks.
func (l *Log) Record(ev store.LogEvent) {
	if ev.Time.IsZero() {
		ev.Time = l.now()
	}
	select {
	case l.rec <- ev:
	default:
		l.log.Warn("delivery log: refusal not recorded, buffer full", "txn", ev.TxnID)
	}
}

// pruneEvery is how often Run prunes; pruneBatch bounds one delete, so
// the writer is never held long.
const (
	pruneEvery = 10 * time.Minute
	pruneBatch = 5000
)

// indexEvery is how often Run indexes the search keys of new rows (in
// batches of indexBatch): searches read the rows not indexed yet
// directly, so this bounds how many they scan.
const (
	indexEvery = 2 * time.Second
	indexBatch = 2000
)

// Run writes recorded rows (many in one operation) and prunes old rows
// until ctx ends.
func (l *Log) Run(ctx context.Context) {
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	index := time.NewTicker(indexEvery)
	defer index.Stop()
	l.pruneLogged(ctx)
	for {
		select {
		case <-index.C:
			if _, err := l.Index(ctx); err != nil && ctx.Err() == nil {
				l.log.Warn("delivery log: indexing failed", "err", err)
			}
		case <-ctx.Done():
			l.flush(context.WithoutCancel(ctx), nil)
			return
		case ev := <-l.rec:
			l.flush(ctx, []store.LogEvent{ev})
		case <-prune.C:
			l.pruneLogged(ctx)
		}
	}
}

// flush writes batch and whatever else is waiting.
func (l *Log) flush(ctx context.Context, batch []store.LogEvent) {
	for more := true; more && len(batch) < 256; {
		select {
		case ev := <-l.rec:
			batch = append(batch, ev)
		default:
			more = false
		}
	}
	if len(batch) == 0 {
		return
	}
	if err := l.st.AppendLog(ctx, batch); err != nil && ctx.Err() == nil {
		l.log.Warn("delivery log: writing refusals failed", "rows", len(batch), "err", err)
	}
}

func (l *Log) pruneLogged(ctx context.Context) {
	n, err := l.Prune(ctx)
	if err != nil && ctx.Err() == nil {
		l.log.Warn("delivery log: pruning failed", "err", err)
	} else if n > 0 {
		l.log.Info("delivery log pruned", "rows", n)
	}
}

// Index adds the search keys of every row not indexed yet, and returns
// how many rows it indexed.
func (l *Log) Index(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := l.st.IndexLog(ctx, indexBatch)
		total += n
		if err != nil || n < indexBatch {
			return total, err
		}
	}
}

// Prune deletes the rows older than the retention, in batches, and
// returns how many it deleted.
func (l *Log) Prune(ctx context.Context) (int, error) {
	before := l.now().Add(-l.retention)
	total := 0
	for {
		n, err := l.st.PruneLog(ctx, before, pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// Hourly are the counts of one hour.
type Hourly struct {
	Hour time.Time `json:"hour"`
	// Counts by event: received (accepted), delivered, relayed, deferred,
	// bounced, rejected.
	Received  int64 `json:"received"`
	Delivered int64 `json:"delivered"`
	Relayed   int64 `json:"relayed"`
	Deferred  int64 `json:"deferred"`
	Bounced   int64 `json:"bounced"`
	Rejected  int64 `json:"rejected"`
}

// PerHour returns the counts of the last hours hours, oldest first, one
// entry per hour (zeros included), the current hour last.
func (l *Log) PerHour(ctx context.Context, hours int) ([]Hourly, error) {
	end := l.now().UTC().Truncate(time.Hour)
	start := end.Add(-time.Duration(hours-1) * time.Hour)
	counts, err := l.st.LogCounts(ctx, start)
	if err != nil {
		return nil, err
	}
	out := make([]Hourly, hours)
	for i := range out {
		out[i].Hour = start.Add(time.Duration(i) * time.Hour)
	}
	for _, c := range counts {
		i := int(c.Hour.Sub(start) / time.Hour)
		if i < 0 || i >= hours {
			continue
		}
		h := &out[i]
		switch c.Kind {
		case store.LogAccepted:
			h.Received += c.N
		case store.LogDelivered:
			h.Delivered += c.N
		case store.LogRelayed:
			h.Relayed += c.N
		case store.LogDeferred:
			h.Deferred += c.N
		case store.LogBounced:
			h.Bounced += c.N
		case store.LogRejected:
			h.Rejected += c.N
		}
	}
	return out, nil
}
