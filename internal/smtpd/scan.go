package smtpd

import (
	"bytes"
	"errors"
	"net"
	"sync/atomic"
	"time"
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
	// partial: bytes arrived since the last LF. go-smtp's line reader
	// hands a partial line over as a whole command when the read times
	// out, so a timeout then is answered here: 421 and the connection
	// closed (RFC 5321 §4.5.3.2.7), before that fragment can run.
	partial bool
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
	if n > 0 {
		c.partial = p[n-1] != '\n'
	}
	var ne net.Error
	if err != nil && c.partial && !c.off && errors.As(err, &ne) && ne.Timeout() {
		c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Conn.Write([]byte("421 4.4.2 Idle timeout in the middle of a command, closing\r\n"))
		c.Conn.Close()
	}
	return n, err
}

const maxWatchedLine = 16

func (c *scanConn) scan(b []byte) {
	for len(b) > 0 {
		if c.prevCR {
			c.prevCR = false
			if b[0] == '\n' {
				if c.endLine() {
					return
				}
				b = b[1:]
				continue
			}
			c.bare.Add(1) // CR without LF; the byte itself is looked at below
		}
		nl := bytes.IndexByte(b, '\n')
		line := b
		if nl >= 0 {
			line = b[:nl]
		}
		c.keep(line)
		// Every CR of the line but one right before its LF is bare.
		for rest := line; ; {
			cr := bytes.IndexByte(rest, '\r')
			if cr < 0 {
				break
			}
			if cr == len(rest)-1 {
				if nl < 0 {
					c.prevCR = true // the LF may come with the next read
				}
				break
			}
			c.bare.Add(1)
			rest = rest[cr+1:]
		}
		if nl < 0 {
			return
		}
		if len(line) == 0 || line[len(line)-1] != '\r' {
			c.bare.Add(1) // LF without CR
		}
		if c.endLine() {
			return
		}
		b = b[nl+1:]
	}
}

// keep remembers the start of the current line, enough to spot STARTTLS.
func (c *scanConn) keep(b []byte) {
	if n := min(maxWatchedLine-len(c.line), len(b)); n > 0 {
		c.line = append(c.line, b[:n]...)
	}
}

// endLine ends the current line; true when it was STARTTLS, after which
// the bytes are ciphertext and the watch stops.
func (c *scanConn) endLine() bool {
	if bytes.EqualFold(bytes.TrimRight(c.line, "\r "), []byte("STARTTLS")) {
		c.off = true
		return true
	}
	c.line = c.line[:0]
	return false
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
