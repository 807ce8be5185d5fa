// Package netlimit caps concurrent connections per client IP and in total on
// a listener, answering the excess with a protocol-specific refusal.
package netlimit

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Listener wraps a net.Listener. Accept returns only connections within the
// limits; others are told Refusal and closed without reaching the server.
type Listener struct {
	net.Listener
	// PerIP and Total are the limits; zero or less means no limit.
	PerIP, Total int
	// Refusal is written to a refused connection, e.g. "421 4.7.0 ...\r\n".
	Refusal string
	// OnRefuse, if set, is told about each refused connection (for logs).
	OnRefuse func(remote netip.Addr)

	mu    sync.Mutex
	byIP  map[netip.Addr]int
	total int
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if l.admit(ip) {
			return &conn{Conn: c, l: l, ip: ip}, nil
		}
		if l.OnRefuse != nil {
			l.OnRefuse(ip)
		}
		go refuse(c, l.Refusal)
	}
}

func refuse(c net.Conn, msg string) {
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, _ = c.Write([]byte(msg))
	_ = c.Close()
}

func (l *Listener) admit(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byIP == nil {
		l.byIP = make(map[netip.Addr]int)
	}
	if l.Total > 0 && l.total >= l.Total {
		return false
	}
	if l.PerIP > 0 && l.byIP[ip] >= l.PerIP {
		return false
	}
	l.total++
	l.byIP[ip]++
	return true
}

func (l *Listener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

func remoteIP(c net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

type conn struct {
	net.Conn
	l    *Listener
	ip   netip.Addr
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

// Accept waits for the next connection on l. Temporary errors (EMFILE,
// ENFILE when the process or the machine is out of file descriptors, a
// timeout) pause the loop, longer each time up to a second, instead of
// ending it: a flood of connections must not stop the service. stopped
// tells a listener closed by a shutdown from a failure.
func Accept(l net.Listener, stopped func() bool, log *slog.Logger) (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err == nil {
			return c, nil
		}
		if stopped() || !temporary(err) {
			return nil, err
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		if log != nil {
			log.Warn("accept failed, retrying", "addr", l.Addr().String(), "err", err, "delay", backoff)
		}
		time.Sleep(backoff)
	}
}

func temporary(err error) bool {
	var te interface{ Temporary() bool }
	if errors.As(err, &te) && te.Temporary() {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
