package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"postern/internal/store"
)

// LoginProtocols maps the protocol names of WithProtocol to those the
// last-login record keeps; a protocol not here (the admin API's own
// administrators) is not recorded.
var LoginProtocols = map[string]string{
	"imap":        "imap",
	"pop3":        "pop3",
	"submission":  "smtp",
	"jmap":        "jmap",
	"webmail":     "webmail",
	"managesieve": "managesieve",
}

// LoginStore is where a LoginRecorder writes.
type LoginStore interface {
	RecordLogins(ctx context.Context, logins []store.LastLogin) error
}

// LoginRecorder remembers each account's last successful login per
// protocol and writes it to the store in the background: the first login
// of an account and protocol at once (in a batch with others), later ones
// at most once per interval. A login never waits for the disk; what
// was not written yet is written by Close.
type LoginRecorder struct {
	st       LoginStore
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	pending map[loginKey]*loginState
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	started bool
	once    sync.Once
}

type loginKey struct {
	account  int64
	protocol string
}

type loginState struct {
	at      time.Time // the last login
	written time.Time // when at was last written; zero: never
	dirty   bool      // at is newer than what was written
}

// writeTimeout bounds one batch write.
const writeTimeout = 10 * time.Second

// NewLoginRecorder returns a recorder writing to st at most once per
// interval (default one minute) per account and protocol. Start runs it.
func NewLoginRecorder(st LoginStore, interval time.Duration, logger *slog.Logger) *LoginRecorder {
	if interval <= 0 {
		interval = time.Minute
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &LoginRecorder{st: st, interval: interval, log: logger, now: time.Now,
		pending: map[loginKey]*loginState{}, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Record notes a successful login of the account with protocol (a
// WithProtocol name); it only touches memory.
func (r *LoginRecorder) Record(accountID int64, protocol string) {
	p, ok := LoginProtocols[protocol]
	if !ok || accountID <= 0 {
		return
	}
	now := r.now()
	r.mu.Lock()
	k := loginKey{accountID, p}
	st := r.pending[k]
	if st == nil {
		st = &loginState{}
		r.pending[k] = st
	}
	st.at, st.dirty = now, true
	due := now.Sub(st.written) >= r.interval
	r.mu.Unlock()
	if due {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// Start runs the writer until Close.
func (r *LoginRecorder) Start() {
	r.mu.Lock()
	r.started = true
	r.mu.Unlock()
	go r.run()
}

func (r *LoginRecorder) run() {
	defer close(r.done)
	tick := time.NewTicker(max(r.interval/6, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-r.wake:
		case <-tick.C:
		case <-r.stop:
			r.flush(true)
			return
		}
		r.flush(false)
	}
}

// Close writes what is pending and stops the writer.
func (r *LoginRecorder) Close() {
	r.once.Do(func() {
		close(r.stop)
		r.mu.Lock()
		started := r.started
		r.mu.Unlock()
		if started {
			<-r.done
		} else {
			r.flush(true)
		}
	})
}

// flush writes the logins that are due (all: every one not yet written)
// in one batch, and forgets those written long enough ago that the next
// login may be written at once anyway.
func (r *LoginRecorder) flush(all bool) {
	now := r.now()
	var batch []store.LastLogin
	r.mu.Lock()
	for k, st := range r.pending {
		old := now.Sub(st.written) >= r.interval
		switch {
		case st.dirty && (all || old):
			batch = append(batch, store.LastLogin{AccountID: k.account, Protocol: k.protocol, At: st.at})
			st.written, st.dirty = now, false
		case !st.dirty && old:
			delete(r.pending, k)
		}
	}
	r.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := r.st.RecordLogins(ctx, batch); err != nil {
		r.log.Warn("last logins not recorded", "count", len(batch), "err", err)
		// Try again after the interval; a newer login may replace it.
		r.mu.Lock()
		for _, l := range batch {
			if st := r.pending[loginKey{l.AccountID, l.Protocol}]; st != nil {
				st.dirty = true
			}
		}
		r.mu.Unlock()
	}
}
