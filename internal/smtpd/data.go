package smtpd

import (
	"bytes"
	"io"
)

var (
	// RFC 5321 §2.3.8: CR and LF only as CRLF. Refusing bare ones stops SMTP
	// smuggling, where servers disagree on where DATA ends.
	errBareLineEnding = smtpErr(550, 5, 6, 0, "Message contains a bare CR or LF; use CRLF line endings (RFC 5321 section 2.3.8)")
	errHeaderTooLarge = smtpErr(552, 5, 3, 4, "Message header too large")
	errLineTooLong    = smtpErr(500, 5, 5, 6, "Line too long in message (RFC 5322 section 2.1.1)")
	// RFC 5321 §6.3: a message that has passed this many relays is in a
	// loop. Refusing it in the session means no bounce goes to a sender
	// that may be forged.
	errTooManyHops = smtpErr(554, 5, 4, 6, "Too many hops (Received header fields): mail loop")
)

// maxHops is the most Received fields a message may arrive with (Postfix's
// hopcount_limit).
const maxHops = 50

// checkedReader passes a message through while enforcing the rules a raw
// stream must obey: CRLF line endings only, a bounded header block and
// bounded line length. It fails the read that crosses a rule, so nothing
// downstream ever commits a message that broke one.
type checkedReader struct {
	r              io.Reader
	maxHeaderBytes int64
	maxLine        int

	prevCR     bool
	inHeader   bool
	headerSeen int64
	lineLen    int
	// lastTwo tracks the end of the header block across reads.
	lastTwo [2]byte
	// name holds the start of the current header line, lower-cased, to
	// count the Received fields.
	name    [len(receivedName)]byte
	nameLen int
	midLine bool
	hops    int
	err     error
}

const receivedName = "received:"

func newCheckedReader(r io.Reader, maxHeaderBytes int64, maxLine int) *checkedReader {
	return &checkedReader{r: r, maxHeaderBytes: maxHeaderBytes, maxLine: maxLine, inHeader: true}
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	if cerr := c.check(p[:n]); cerr != nil {
		c.err = cerr
		return 0, cerr
	}
	if err == io.EOF && c.prevCR {
		c.err = errBareLineEnding
		return 0, c.err
	}
	if err != nil && err != io.EOF {
		// Remember the stream's own failure (size limit, BDAT reset) so the
		// session answers for it, however the consumer wraps it.
		c.err = err
	}
	return n, err
}

func (c *checkedReader) check(b []byte) error {
	for len(b) > 0 {
		if c.inHeader {
			// Header bytes one at a time: few, and they end the block.
			if err := c.checkByte(b[0]); err != nil {
				return err
			}
			b = b[1:]
			continue
		}
		if c.prevCR {
			if b[0] != '\n' {
				return errBareLineEnding
			}
			c.prevCR, c.lineLen = false, 0
			b = b[1:]
			continue
		}
		// A line at a time: find its LF, then check that its only CR is
		// the one right before it.
		nl := bytes.IndexByte(b, '\n')
		line := b
		if nl >= 0 {
			line = b[:nl]
		}
		cr := bytes.IndexByte(line, '\r')
		n := len(line)
		if cr >= 0 {
			n--
		}
		bad := nl == 0 || (cr >= 0 && cr != len(line)-1) || (nl > 0 && cr != len(line)-1)
		if bad || c.lineLen+n > c.maxLine {
			// A rule breaks in this line: byte by byte, so the reply names
			// the first one broken.
			for _, ch := range b {
				if err := c.checkByte(ch); err != nil {
					return err
				}
			}
			return nil
		}
		c.lineLen += n
		if nl < 0 {
			c.prevCR = cr >= 0 // the LF may come with the next read
			return nil
		}
		c.lineLen = 0
		b = b[nl+1:]
	}
	return nil
}

// checkByte applies the rules to one byte.
func (c *checkedReader) checkByte(ch byte) error {
	switch {
	case c.prevCR && ch != '\n':
		return errBareLineEnding
	case !c.prevCR && ch == '\n':
		return errBareLineEnding
	}
	c.prevCR = ch == '\r'
	if ch == '\n' {
		c.lineLen = 0
	} else if ch != '\r' {
		c.lineLen++
		if c.lineLen > c.maxLine {
			return errLineTooLong
		}
	}
	if !c.inHeader {
		return nil
	}
	c.headerSeen++
	if c.headerSeen > c.maxHeaderBytes {
		return errHeaderTooLarge
	}
	if err := c.countHop(ch); err != nil {
		return err
	}
	// The header block ends at the first empty line: CRLF CRLF, or a CRLF
	// at the very start (no header at all).
	if ch == '\n' && (c.headerSeen == 2 || c.lastTwo == [2]byte{'\n', '\r'}) {
		c.inHeader = false
	}
	c.lastTwo = [2]byte{c.lastTwo[1], ch}
	return nil
}

// countHop counts the Received fields of the header as its bytes pass.
func (c *checkedReader) countHop(ch byte) error {
	if ch == '\n' {
		c.midLine, c.nameLen = false, 0
		return nil
	}
	if c.midLine {
		return nil
	}
	if 'A' <= ch && ch <= 'Z' {
		ch += 'a' - 'A'
	}
	if ch != receivedName[c.nameLen] {
		c.midLine = true
		return nil
	}
	c.nameLen++
	if c.nameLen < len(receivedName) {
		return nil
	}
	c.midLine = true
	c.hops++
	if c.hops > maxHops {
		return errTooManyHops
	}
	return nil
}
