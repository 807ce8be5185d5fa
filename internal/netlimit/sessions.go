package netlimit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ErrClosed is returned by Sessions.Serve after Shutdown.
var ErrClosed = errors.New("netlimit: server closed")

// Sessions runs the connections of a line-protocol server (POP3,
// ManageSieve): it accepts on any number of listeners, caps connections
// per client IP, runs each session in its own goroutine, and shuts down
// gracefully. S is the server's session type.
type Sessions[S comparable] struct {
	// MaxPerIP caps concurrent sessions per client IP; zero or less: none.
	MaxPerIP int
	// Refusal is written to a connection over MaxPerIP (not on implicit
	// TLS, where plaintext would only confuse the client).
	Refusal string
	Log     *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	live      map[S]struct{}
	perIP     map[netip.Addr]int
	closed    bool
	wg        sync.WaitGroup
}

// refusalTimeout bounds the write of a refusal.
const refusalTimeout = 2 * time.Second

// Serve accepts on l until Shutdown, then returns ErrClosed. newSession
// makes the session of a connection (cheaply: it runs under the lock, so
// that a Shutdown sees every session); run serves it.
func (m *Sessions[S]) Serve(l net.Listener, implicitTLS bool, newSession func(c net.Conn, ip netip.Addr) S, run func(S)) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.listeners == nil {
		m.listeners, m.live, m.perIP = map[net.Listener]struct{}{}, map[S]struct{}{}, map[netip.Addr]int{}
	}
	m.listeners[l] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.listeners, l)
		m.mu.Unlock()
	}()
	for {
		c, err := Accept(l, m.Closed, m.Log)
		if err != nil {
			if m.Closed() {
				return ErrClosed
			}
			return err
		}
		m.start(c, implicitTLS, newSession, run)
	}
}

func (m *Sessions[S]) start(c net.Conn, implicitTLS bool, newSession func(net.Conn, netip.Addr) S, run func(S)) {
	ip := remoteIP(c)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		c.Close()
		return
	}
	if m.MaxPerIP > 0 && m.perIP[ip] >= m.MaxPerIP {
		m.mu.Unlock()
		if m.Log != nil {
			m.Log.Warn("too many connections", "remote", ip)
		}
		if !implicitTLS && m.Refusal != "" {
			_ = c.SetWriteDeadline(time.Now().Add(refusalTimeout))
			_, _ = io.WriteString(c, m.Refusal)
		}
		c.Close()
		return
	}
	m.perIP[ip]++
	sess := newSession(c, ip)
	m.live[sess] = struct{}{}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		defer m.end(sess, ip)
		run(sess)
	}()
}

func (m *Sessions[S]) end(sess S, ip netip.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.live, sess)
	if m.perIP[ip]--; m.perIP[ip] <= 0 {
		delete(m.perIP, ip)
	}
}

// Closed reports whether Shutdown has begun.
func (m *Sessions[S]) Closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Len is the number of sessions running.
func (m *Sessions[S]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.live)
}

// Shutdown stops accepting and waits for the sessions to end; when ctx is
// done first, kick ends each remaining one and Shutdown returns ctx.Err()
// once they have.
func (m *Sessions[S]) Shutdown(ctx context.Context, kick func(S)) error {
	m.mu.Lock()
	m.closed = true
	for l := range m.listeners {
		l.Close()
	}
	m.mu.Unlock()
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	m.mu.Lock()
	for sess := range m.live {
		kick(sess)
	}
	m.mu.Unlock()
	<-done
	return ctx.Err()
}
