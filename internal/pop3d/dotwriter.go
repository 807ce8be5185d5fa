package pop3d

import (
	"bufio"
	"bytes"
	"io"
)

// dotWriter writes a message as the body of a POP3 multi-line response
// (RFC 1939 §3): lines that start with "." get another ".", every line ends
// in CRLF (a bare LF from a damaged blob is repaired), and finish adds the
// terminating ".\r\n". For TOP it can stop after the header, the blank line
// and a given number of body lines (RFC 1939 §7).
type dotWriter struct {
	w       *bufio.Writer
	bol     bool // at the beginning of a line
	prevCR  bool // the last octet written was a CR
	lineLen int  // octets of the current line so far, CR included

	top      bool // stop after the header and bodyLeft lines
	inHeader bool
	bodyLeft int
	done     bool // TOP has written all it should
}

func newDotWriter(w *bufio.Writer) *dotWriter {
	return &dotWriter{w: w, bol: true}
}

// limitTop makes the writer stop after the header, the blank line that ends
// it and n body lines.
func (d *dotWriter) limitTop(n int) {
	d.top, d.inHeader, d.bodyLeft = true, true, n
	d.done = false
}

// Write implements io.Writer; it always consumes all of p, dropping what
// comes after TOP's limit.
func (d *dotWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !d.done {
		if d.bol && p[0] == '.' {
			d.w.WriteByte('.')
		}
		d.bol = false
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.w.Write(p)
			d.lineLen += len(p)
			d.prevCR = p[len(p)-1] == '\r'
			break
		}
		hasCR := (i > 0 && p[i-1] == '\r') || (i == 0 && d.prevCR)
		d.w.Write(p[:i])
		if !hasCR {
			d.w.WriteByte('\r')
		}
		d.w.WriteByte('\n')
		d.lineLen += i
		if hasCR {
			d.lineLen--
		}
		d.endLine(d.lineLen == 0)
		d.bol, d.prevCR, d.lineLen = true, false, 0
		p = p[i+1:]
	}
	return n, nil
}

// endLine counts a completed line for TOP.
func (d *dotWriter) endLine(empty bool) {
	if !d.top {
		return
	}
	if d.inHeader {
		if empty {
			d.inHeader = false
			d.done = d.bodyLeft == 0
		}
		return
	}
	d.bodyLeft--
	d.done = d.bodyLeft <= 0
}

// finish ends the last line if the message did not, and writes the
// terminator. It returns the writer's sticky error.
func (d *dotWriter) finish() error {
	if !d.bol {
		if d.prevCR {
			d.w.WriteByte('\n')
		} else {
			d.w.WriteString("\r\n")
		}
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}

// copyMessage streams r through d using buf, stopping early once TOP's
// limit is reached.
func copyMessage(d *dotWriter, r io.Reader, buf []byte) error {
	for !d.done {
		n, err := r.Read(buf)
		if n > 0 {
			d.Write(buf[:n])
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}
