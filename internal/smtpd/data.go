package smtpd

import (
	"bytes"
	"errors"
	"io"

	"github.com/emersion/go-smtp"
)

var (
	// RFC 5321 §2.3.8: CR and LF only as CRLF. Refusing bare ones stops SMTP
	// smuggling, where servers disagree on where DATA ends.
	errBareLineEnding = &smtp.SMTPError{
		Code:         550,
		EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message:      "Message contains a bare CR or LF; use CRLF line endings (RFC 5321 section 2.3.8)",
	}
	errHeaderTooLarge = &smtp.SMTPError{
		Code:         552,
		EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message:      "Message header too large",
	}
	errLineTooLong = &smtp.SMTPError{
		Code:         500,
		EnhancedCode: smtp.EnhancedCode{5, 5, 6},
		Message:      "Line too long in message (RFC 5322 section 2.1.1)",
	}
)

// checkedReader passes a message through while enforcing the rules a raw
// stream must obey: CRLF line endings only, a bounded header block and
// bounded line length. It fails the read that crosses a rule, so nothing
// downstream ever commits a message that broke one.
type checkedReader struct {
	r              io.Reader
	maxHeaderBytes int64
	maxLine        int
	// bareSeen, if set, is asked at the end of the stream whether the
	// connection saw a bare line ending that the stream no longer shows.
	bareSeen func() bool

	prevCR     bool
	inHeader   bool
	headerSeen int64
	lineLen    int
	// lastTwo tracks the end of the header block across reads.
	lastTwo [2]byte
	err     error
}

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
	if err == io.EOF && (c.prevCR || (c.bareSeen != nil && c.bareSeen())) {
		c.err = errBareLineEnding
		return 0, c.err
	}
	if errors.Is(err, smtp.ErrTooLongLine) {
		err = errLineTooLong
	}
	if err != nil && err != io.EOF {
		// Remember the stream's own failure (size limit, BDAT reset) so the
		// session answers for it, however the consumer wraps it.
		c.err = err
	}
	return n, err
}

func (c *checkedReader) check(b []byte) error {
	// Fast path: no CR or LF in a chunk that cannot end a line.
	if !c.prevCR && !c.inHeader && bytes.IndexAny(b, "\r\n") < 0 {
		c.lineLen += len(b)
		if c.lineLen > c.maxLine {
			return errLineTooLong
		}
		return nil
	}
	for _, ch := range b {
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
		if c.inHeader {
			c.headerSeen++
			if c.headerSeen > c.maxHeaderBytes {
				return errHeaderTooLarge
			}
			// The header block ends at the first empty line: CRLF CRLF,
			// or a CRLF at the very start (no header at all).
			if ch == '\n' && (c.headerSeen == 2 || c.lastTwo == [2]byte{'\n', '\r'}) {
				c.inHeader = false
			}
			c.lastTwo = [2]byte{c.lastTwo[1], ch}
		}
	}
	return nil
}
