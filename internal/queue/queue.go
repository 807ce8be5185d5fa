// Package queue is Postern's outbound mail: the durable queue of messages for
// remote recipients, the SMTP client that carries them to the next MTA (MX
// lookup or a smarthost), retries with backoff, and delivery status
// notifications (RFC 3464) back to the sender.
//
// Messages enter the queue through the delivery pipeline (internal/deliver),
// which commits a message's queued copies together with its local ones
// (store.Delivery.Queue) and wakes the queue. From then on a message is
// never lost: it is delivered, or it bounces to its sender with a DSN, which
// goes back through the pipeline (Bouncer).
package queue

import (
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"postern/internal/store"
)

// Store is what the queue needs of the database.
type Store interface {
	store.QueueStore
	OpenBlob(ctx context.Context, blobID int64) (io.ReadCloser, error)
}

// Bouncer sends a delivery status notification, a message from the null
// sender, to rcpt through the delivery pipeline: into a local mailbox, or
// back into the queue. where says what became of it, for the log.
type Bouncer interface {
	Bounce(ctx context.Context, rcpt string, body []byte) (where string, err error)
}

// Options are the queue's settings ([outbound] and [dns]).
type Options struct {
	// Hostname is our name in EHLO and in DSNs.
	Hostname string
	// Port is the TCP port of MX hosts (25).
	Port           int
	RelayHost      string
	RelayUsername  string
	RelayPassword  string
	RelayTLS       string // starttls, implicit, none
	FirstRetry     time.Duration
	MaxRetry       time.Duration
	MaxAge         time.Duration
	DelayWarning   time.Duration
	MaxPerDomain   int
	MaxConnections int
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	// PollInterval is how often the queue looks for work it was not told
	// about (a CLI retry or release from another process).
	PollInterval time.Duration
	// RootCAs verifies peer certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// STS finds MTA-STS policies (RFC 8461); nil: MTA-STS off.
	STS STSLookup
	// DANE looks up TLSA records (RFC 7672); nil: DANE off.
	DANE DANELookup
	// TLSResults counts each connection's TLS result for TLS-RPT; nil: none.
	TLSResults TLSRecorder
}

// Queue is the outbound queue and its delivery workers.
type Queue struct {
	st       Store
	bouncer  Bouncer
	resolver Resolver
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	dial     dialer
	pool     pool
	gate     *hostGate // connections per MX host, with a slow start

	wake     chan struct{}
	slots    chan struct{} // MaxConnections
	mu       sync.Mutex
	inflight map[int64]bool
	domains  map[string]chan struct{} // per-destination concurrency
	workers  sync.WaitGroup
}

// New returns a queue; call Run to start delivering. now is the clock
// (time.Now in production, a fake in tests).
func New(st Store, bouncer Bouncer, resolver Resolver, opts Options, logger *slog.Logger, now func() time.Time) *Queue {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	return &Queue{
		st: st, bouncer: bouncer, resolver: resolver, opts: opts,
		log: logger.With("component", "queue"), now: now,
		dial:     dialer{opts: opts},
		gate:     newHostGate(hostStartConnections, max(opts.MaxPerDomain, hostStartConnections)),
		wake:     make(chan struct{}, 1),
		slots:    make(chan struct{}, max(opts.MaxConnections, 1)),
		inflight: make(map[int64]bool),
		domains:  make(map[string]chan struct{}),
	}
}

// hostStartConnections is how many connections a host gets before it has
// shown it takes more (the slow start of hostGate).
const hostStartConnections = 2

// FormatID is how queue ids appear in logs and the CLI.
func FormatID(id int64) string { return strconv.FormatInt(id, 10) }

// openBody opens the queued message (store.OpenQueued).
func (q *Queue) openBody(ctx context.Context, m store.QueueMessage) (io.ReadCloser, error) {
	return store.OpenQueued(ctx, q.st, m)
}

// Wake makes the runner look for due messages now.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers due messages until ctx is cancelled, then waits for the
// attempts in progress to end (their connections are closed by ctx).
func (q *Queue) Run(ctx context.Context) error {
	defer q.pool.closeAll()
	defer q.workers.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-q.wake:
		case <-timer.C:
		}
		q.dispatch(ctx)
		q.pool.expire(q.now())
		timer.Reset(q.nextWake(ctx))
	}
}

// nextWake is the time until the earliest due entry not in progress, at
// most PollInterval.
func (q *Queue) nextWake(ctx context.Context) time.Duration {
	d := q.opts.PollInterval
	if t, ok, err := q.st.QueueNextDue(ctx, q.inflightIDs()); err == nil && ok {
		d = min(d, max(t.Sub(q.now()), 100*time.Millisecond))
	}
	return d
}

func (q *Queue) inflightIDs() []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := make([]int64, 0, len(q.inflight))
	for id := range q.inflight {
		ids = append(ids, id)
	}
	return ids
}

// Flush runs every due attempt and waits for them: tests drive the queue
// with it and a fake clock.
func (q *Queue) Flush(ctx context.Context) {
	q.dispatch(ctx)
	q.workers.Wait()
}

// dispatch starts a worker for each due entry not already in progress, up
// to maxInflight entries at once; a finishing worker wakes the runner.
func (q *Queue) dispatch(ctx context.Context) {
	exclude := q.inflightIDs()
	room := q.maxInflight() - len(exclude)
	if room <= 0 {
		return
	}
	due, err := q.st.QueueDue(ctx, q.now(), room, exclude)
	if err != nil {
		if ctx.Err() == nil {
			q.log.Error("queue scan failed", "err", err)
		}
		return
	}
	for _, m := range due {
		q.mu.Lock()
		busy := q.inflight[m.ID]
		q.inflight[m.ID] = true
		q.mu.Unlock()
		if busy {
			continue
		}
		q.workers.Add(1)
		go func() {
			defer q.workers.Done()
			defer q.Wake()
			defer func() {
				q.mu.Lock()
				delete(q.inflight, m.ID)
				q.mu.Unlock()
			}()
			q.attempt(ctx, m)
		}()
	}
}

// maxInflight bounds the entries in progress: workers beyond the
// connection caps would only wait for a slot.
func (q *Queue) maxInflight() int { return 4 * max(q.opts.MaxConnections, 1) }

// Close closes idle connections (Run does this on its way out too).
func (q *Queue) Close() { q.pool.closeAll() }
