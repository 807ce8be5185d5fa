// Package queue is Postern's outbound mail: the durable queue of messages for
// remote recipients, the SMTP client that carries them to the next MTA (MX
// lookup or a smarthost), retries with backoff, and delivery status
// notifications (RFC 3464) back to the sender.
//
// Contract for callers (submission, alias forwarding):
//
//	type Enqueuer interface {
//		Enqueue(ctx context.Context, msg Message) (id string, err error)
//	}
//
// Enqueue returns only once the body is durable and the queue rows are
// committed (the durability rule of DESIGN.md); from then on the message is
// never lost: it is delivered, or it bounces to its sender with a DSN.
// Message.Body holds the complete message exactly as it will be sent
// (already DKIM-signed, with its Received header). Recipients must be remote:
// local recipients go through internal/deliver.
//
// Alias forwarding (not wired yet): internal/deliver may import this package
// (the queue reaches deliver only through the LocalDelivery interface the app
// implements), take an Enqueuer in deliver.New, have Resolve return the
// remote destinations beside the accounts, and Enqueue the message as
// received (Return-Path and Received included) with those destinations
// before the MX answers 250. The envelope sender of a forward should be
// rewritten (SRS) to pass SPF at the destination; bounces of forwards then
// come back to us.
package queue

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"postern/internal/blob"
	"postern/internal/store"
)

// Message is one message handed to the queue.
type Message struct {
	// From is the envelope sender; "" is the null sender (no bounce is ever
	// sent for it).
	From string
	// To are the remote envelope recipients, at least one.
	To []string
	// Body is the message as it will be sent; read once by Enqueue.
	Body io.Reader
	// AccountID is the submitting account, 0 when none (forwarded mail).
	AccountID int64
	// EnvID, Ret and Notify carry the DSN parameters of RFC 3461 when the
	// client gave them ("" otherwise); Notify applies to every recipient.
	EnvID  string
	Ret    string
	Notify string
}

// Enqueuer is what submission and local delivery use to send mail out.
type Enqueuer interface {
	Enqueue(ctx context.Context, msg Message) (id string, err error)
}

// Store is what the queue needs of the database.
type Store interface {
	store.QueueStore
	OpenBlob(ctx context.Context, blobID int64) (io.ReadCloser, error)
}

// BlobCreator makes new bodies (the blob store).
type BlobCreator interface {
	Create() (*blob.Writer, error)
}

// LocalDelivery hands a bounce to local mailboxes. handled is false when
// rcpt is not in a local domain (then the bounce goes out through the
// queue). The app implements it with internal/deliver, which the queue does
// not import: deliver will hand remote alias destinations to the queue.
type LocalDelivery interface {
	DeliverLocal(ctx context.Context, rcpt string, body []byte) (handled bool, err error)
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
}

// Queue is the outbound queue and its delivery workers.
type Queue struct {
	st       Store
	blobs    BlobCreator
	local    LocalDelivery
	resolver Resolver
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	dial     dialer
	pool     pool

	wake     chan struct{}
	slots    chan struct{} // MaxConnections
	mu       sync.Mutex
	inflight map[int64]bool
	domains  map[string]chan struct{} // per-destination concurrency
	workers  sync.WaitGroup
}

// New returns a queue; call Run to start delivering. now is the clock
// (time.Now in production, a fake in tests).
func New(st Store, blobs BlobCreator, local LocalDelivery, resolver Resolver, opts Options, logger *slog.Logger, now func() time.Time) *Queue {
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
		st: st, blobs: blobs, local: local, resolver: resolver, opts: opts,
		log: logger.With("component", "queue"), now: now,
		dial:     dialer{opts: opts},
		wake:     make(chan struct{}, 1),
		slots:    make(chan struct{}, max(opts.MaxConnections, 1)),
		inflight: make(map[int64]bool),
		domains:  make(map[string]chan struct{}),
	}
}

// FormatID is how queue ids appear in logs and the CLI.
func FormatID(id int64) string { return strconv.FormatInt(id, 10) }

// Enqueue implements Enqueuer: the body is stored and the entry committed
// before it returns.
func (q *Queue) Enqueue(ctx context.Context, msg Message) (string, error) {
	id, err := q.enqueue(ctx, msg, false)
	if err != nil {
		return "", err
	}
	return FormatID(id), nil
}

func (q *Queue) enqueue(ctx context.Context, msg Message, isDSN bool) (int64, error) {
	if len(msg.To) == 0 {
		return 0, errors.New("queue: no recipients")
	}
	w, err := q.blobs.Create()
	if err != nil {
		return 0, err
	}
	defer w.Abort()
	if _, err := io.Copy(w, msg.Body); err != nil {
		return 0, err
	}
	key, size, err := w.Commit()
	if err != nil {
		return 0, err
	}
	nm := store.NewQueueMessage{Sender: msg.From, AccountID: msg.AccountID, EnvID: msg.EnvID, Ret: msg.Ret, IsDSN: isDSN}
	for _, r := range msg.To {
		nm.Recipients = append(nm.Recipients, store.NewQueueRecipient{Rcpt: r, Notify: msg.Notify})
	}
	id, err := q.st.Enqueue(ctx, store.NewBlob{Key: key, Size: size, Inline: w.Inline()}, nm, q.now())
	if err != nil {
		return 0, err
	}
	q.log.Info("queued", "queue_id", FormatID(id), "from", msg.From, "rcpts", len(msg.To), "size", size, "dsn", isDSN)
	q.Wake()
	return id, nil
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
