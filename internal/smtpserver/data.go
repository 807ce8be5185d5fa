package smtpserver

import (
	"bufio"
	"bytes"
	"io"
)

var crlfDot = []byte("\r\n.")

// dotReader reads the mail data of DATA (RFC 5321 §4.1.1.4): it removes
// the dot of dot-stuffed lines (§4.5.2) and ends at CRLF "." CRLF. Every
// other octet passes through as it came, bare CR and LF included, so the
// Session sees (and refuses) what the client really sent: only CRLF ends
// a line here, never a bare LF, which is what SMTP smuggling relies on.
// Past max octets (0: no limit) it fails with ErrDataTooLarge.
type dotReader struct {
	br  *bufio.Reader
	max int64

	n         int64 // octets returned
	lineStart bool
	prevCR    bool
	done      bool
	tooLarge  bool
	err       error // the connection's failure, sticky
}

func newDotReader(br *bufio.Reader, max int64) *dotReader {
	return &dotReader{br: br, max: max, lineStart: true}
}

func (r *dotReader) Read(p []byte) (int, error) {
	if r.tooLarge {
		return 0, ErrDataTooLarge
	}
	if r.max > 0 && int64(len(p)) > r.max-r.n+1 {
		// One octet past the limit is enough to know.
		p = p[:r.max-r.n+1]
	}
	n, err := r.read(p)
	r.n += int64(n)
	if r.max > 0 && r.n > r.max {
		r.tooLarge = true
		return 0, ErrDataTooLarge
	}
	return n, err
}

// drain reads to the end of the data, without a limit, so that the reply
// comes after it (RFC 5321 §4.1.1.4); it returns the connection's error.
func (r *dotReader) drain() error {
	var buf [4096]byte
	for {
		_, err := r.read(buf[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (r *dotReader) read(p []byte) (int, error) {
	switch {
	case r.err != nil:
		return 0, r.err
	case r.done:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	if r.lineStart {
		b, err := r.br.Peek(1)
		if err != nil {
			return 0, r.fail(err)
		}
		if b[0] == '.' {
			b, err = r.br.Peek(3)
			if err != nil {
				return 0, r.fail(err)
			}
			if b[1] == '\r' && b[2] == '\n' {
				r.br.Discard(3)
				r.done = true
				return 0, io.EOF
			}
			r.br.Discard(1) // the stuffing dot
		}
		r.lineStart = false
	}
	if r.br.Buffered() == 0 {
		if _, err := r.br.Peek(1); err != nil {
			return 0, r.fail(err)
		}
	}
	buf, _ := r.br.Peek(r.br.Buffered())
	chunk := buf
	if r.prevCR && buf[0] == '\n' {
		chunk = buf[:1] // the LF of a CRLF split between reads
	} else if i := bytes.Index(buf, crlfDot); i >= 0 {
		chunk = buf[:i+2] // up to a line that starts with a dot
	}
	n := copy(p, chunk)
	r.br.Discard(n)
	out := p[:n]
	last := out[n-1]
	r.lineStart = last == '\n' && ((n >= 2 && out[n-2] == '\r') || (n == 1 && r.prevCR))
	r.prevCR = last == '\r'
	return n, nil
}

func (r *dotReader) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	r.err = err
	return err
}

// chunkReader reads a message sent with BDAT (RFC 3030): the chunk of
// the BDAT command that started it, then, each time a chunk is used up
// before LAST, it acknowledges that chunk and reads the next command
// itself. The message thus streams to the Session in the connection's
// own goroutine, with no copy held in memory.
type chunkReader struct {
	c        *Conn
	left     int64 // octets of the current chunk not yet read
	last     bool
	total    int64
	tooLarge bool
	// pending is a command that ended the transfer (RSET, QUIT, EHLO,
	// HELO), run once the Session has given up the message.
	pending string
	err     error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for r.left == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.last {
			return 0, io.EOF
		}
		r.c.writeReply(NewReply(250, 2, 0, 0, "Chunk received"))
		r.next()
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.c.br.Read(p)
	r.left -= int64(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.err = err
		r.c.fatal = err
		return n, err
	}
	return n, nil
}

// next reads commands until the next BDAT chunk, answering the few that
// make sense in the middle of a message.
func (r *chunkReader) next() {
	c := r.c
	for {
		line, err := c.readCommand(maxCommandLine)
		if err == errLineTooLong {
			if c.protocolError(replyLineTooLong) {
				r.err = ErrDataReset
				return
			}
			continue
		}
		if err != nil {
			c.fatal = err
			r.err = err
			return
		}
		verb, arg := splitCommand(line)
		switch verb {
		case "BDAT":
			size, last, sizeOK, ok := parseBDAT(arg)
			switch {
			case !ok:
				if sizeOK {
					c.discard(size)
				}
				if c.protocolError(syntax("BDAT chunk-size [LAST]")) {
					r.err = ErrDataReset
					return
				}
				continue
			case c.srv.cfg.MaxMessageBytes > 0 && r.total+size > c.srv.cfg.MaxMessageBytes:
				c.discard(size)
				r.tooLarge = true
				r.err = ErrDataTooLarge
				return
			}
			r.left, r.last = size, last
			r.total += size
			return
		case "NOOP":
			c.writeReply(replyOK)
		case "RSET", "QUIT", "EHLO", "HELO":
			r.pending = line
			r.err = ErrDataReset
			return
		default:
			if c.protocolError(replyInBDAT) {
				r.err = ErrDataReset
				return
			}
		}
	}
}
