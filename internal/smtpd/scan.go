package smtpd

import (
	"bytes"
	"net"
	"sync/atomic"
)

// go-smtp's DATA reader drops a bare CR that follows a dot at the start of
// a line ("\r\n.\rX" reaches us as "\r\nX"), so the message stream alone
// cannot show every bare CR. scanConn watches the connection's plaintext
// for bare CR and LF before go-smtp reads it, and the DATA check consults
// its count (RFC 5321 §2.3.8).
type scanConn struct {
	net.Conn
	bare   atomic.Int64
	prevCR bool
	// After STARTTLS the bytes are ciphertext: the watch stops there, and
	// the message-level check of checkedReader carries on alone (as on
	// implicit-TLS connections). Its one blind spot is that dropped CR.
	off  bool
	line []byte // the start of the current line, to spot STARTTLS
}

type scanListener struct{ net.Listener }

func (l scanListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &scanConn{Conn: c}, nil
}

func (c *scanConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.off {
		c.scan(p[:n])
	}
	return n, err
}

const maxWatchedLine = 16

func (c *scanConn) scan(b []byte) {
	for _, ch := range b {
		if (c.prevCR && ch != '\n') || (!c.prevCR && ch == '\n') {
			c.bare.Add(1)
		}
		c.prevCR = ch == '\r'
		if ch == '\n' {
			if bytes.EqualFold(bytes.TrimRight(c.line, "\r "), []byte("STARTTLS")) {
				c.off = true
				return
			}
			c.line = c.line[:0]
		} else if len(c.line) < maxWatchedLine {
			c.line = append(c.line, ch)
		}
	}
}

// bareCount is the number of bare line endings seen so far, or -1 when
// the connection is not watched (after STARTTLS).
func bareCount(c net.Conn) int64 {
	sc, ok := c.(*scanConn)
	if !ok {
		return -1
	}
	return sc.bare.Load()
}
