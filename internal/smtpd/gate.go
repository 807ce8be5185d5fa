package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"postern/internal/antispam"
	"postern/internal/deliver"
	"postern/internal/smtpserver"
)

// gateListener lets the antispam gate see each port-25 connection as it
// arrives: one over its connection rate is told 421 and closed before any
// session starts, the others carry their gate client to the session.
type gateListener struct {
	net.Listener
	gate *atomic.Pointer[antispam.Gate]
}

type gateConn struct {
	net.Conn
	client *antispam.Client
}

func (l gateListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		var ip netip.Addr
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			ip = ap.Addr().Unmap()
		}
		client, refusal := l.gate.Load().Connect(ip)
		if refusal == nil {
			return &gateConn{Conn: c, client: client}, nil
		}
		go func() {
			_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, _ = io.WriteString(c, refusal.Error()+"\r\n")
			_ = c.Close()
		}()
	}
}

// gateClientOf finds the gate's client under the TLS layer a connection
// may gain.
func gateClientOf(c net.Conn) *antispam.Client {
	for {
		switch v := c.(type) {
		case *gateConn:
			return v.client
		case *tls.Conn:
			c = v.NetConn()
		default:
			return nil
		}
	}
}

func refusalErr(r *antispam.Refusal) *smtpserver.Reply {
	return smtpErr(r.Code, r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], r.Text)
}

// checkRcptGate runs the gate's recipient checks: the blocklists and the
// recipient rate first, then greylisting, which waits for recipients
// that exist (an unknown one is refused for good by the pipeline, and a
// relay attempt too, without leaving a triplet behind).
func (s *session) checkRcptGate(ctx context.Context, to string) error {
	if s.gate == nil {
		return nil
	}
	if r := s.gate.Rcpt(ctx, s.from, to); r != nil {
		return refusalErr(r)
	}
	if !s.gate.Greylisting() || !s.greylistable(ctx, to) {
		return nil
	}
	if r := s.gate.Greylist(ctx, s.from, to); r != nil {
		return refusalErr(r)
	}
	return nil
}

// greylistable tells a recipient that would be accepted: one that
// resolves to somewhere, or an SRS address of ours (a bounce, which the
// pipeline checks itself).
func (s *session) greylistable(ctx context.Context, to string) bool {
	a, err := deliver.ParseAddress(to)
	if err != nil {
		return false
	}
	if len(a.Local) > 4 && strings.EqualFold(a.Local[:3], "SRS") {
		local, err := s.srv.cfg.Pipeline.IsLocalDomain(ctx, a.Domain)
		return err == nil && local
	}
	_, err = s.srv.cfg.Pipeline.Resolve(ctx, a)
	return err == nil || !(errors.Is(err, deliver.ErrNotLocal) || errors.Is(err, deliver.ErrUnknownUser) || errors.Is(err, deliver.ErrAliasLoop))
}
