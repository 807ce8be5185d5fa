package queue

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/emersion/go-smtp"
)

// hostGate caps the connections open to each MX host with a slow start,
// as Postfix does for a destination: a host starts with a few, gets one
// more each time a new connection succeeds at the cap, and drops to what
// it has open when it refuses one (a reset, or 421 at the greeting: a
// remote with a per-client connection limit). Many domains share one MX
// (Google, Microsoft, any hoster), so the cap is per host, not per domain.
// A connection holds its place while in use and while idle in the pool.
type hostGate struct {
	start, max int
	mu         sync.Mutex
	hosts      map[string]*hostState
}

type hostState struct {
	open  int
	limit int
	// freed is closed, and replaced, when a place frees or an idle
	// connection comes back to the pool: waiters look again.
	freed chan struct{}
}

func newHostGate(start, max int) *hostGate {
	return &hostGate{start: start, max: max, hosts: map[string]*hostState{}}
}

func (g *hostGate) state(host string) *hostState {
	st := g.hosts[host]
	if st == nil {
		st = &hostState{limit: g.start, freed: make(chan struct{})}
		g.hosts[host] = st
	}
	return st
}

// tryAcquire takes a place for a new connection to host; when there is
// none it returns a channel closed once there may be.
func (g *hostGate) tryAcquire(host string) (release func(), wait <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(host)
	if st.open >= st.limit {
		return nil, st.freed
	}
	st.open++
	var once sync.Once
	return func() { once.Do(func() { g.release(host) }) }, nil
}

func (g *hostGate) release(host string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(host)
	st.open--
	g.wakeLocked(st)
	if st.open == 0 && st.limit == g.start {
		delete(g.hosts, host) // nothing to remember
	}
}

// idle tells waiters that a connection to host is back in the pool.
func (g *hostGate) idle(host string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st, ok := g.hosts[host]; ok {
		g.wakeLocked(st)
	}
}

func (g *hostGate) wakeLocked(st *hostState) {
	close(st.freed)
	st.freed = make(chan struct{})
}

// connected grows the cap by one when a new connection succeeded at it.
func (g *hostGate) connected(host string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.state(host); st.open >= st.limit && st.limit < g.max {
		st.limit++
	}
}

// refused lowers the cap to the connections still open after one was
// refused, and reports whether there are any: then the refusal is the
// host's limit, and the message waits for one of them.
func (g *hostGate) refused(host string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(host)
	if st.open == 0 {
		return false
	}
	st.limit = max(1, st.open)
	return true
}

// refusal tells a refused connection (reset, or 421 at the greeting) from
// an unreachable host.
func refusal(err error) bool {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code == 421
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read" && !op.Timeout()
}

// acquireHost waits for a pooled connection or a place for a new one to
// host; c is the pooled connection, or nil with release the place.
func (q *Queue) acquireHost(ctx context.Context, key, host string) (c *conn, release func(), err error) {
	for {
		if c := q.pool.get(key, q.now()); c != nil {
			return c, nil, nil
		}
		release, wait := q.gate.tryAcquire(host)
		if release != nil {
			return nil, release, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}
