package message

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// scanBufSize bounds the longest line fragment handled at once. Longer
// lines (base64 without breaks, binary parts) arrive in several fragments;
// only the first can be a boundary delimiter, which is at most ~80 bytes.
const scanBufSize = 4 * 1024

// line is one line fragment read from the message. Its bytes are valid
// only until the next call to next.
type line struct {
	b     []byte // the fragment, with its line terminator if it has one
	start int64  // offset of b[0] in the raw message
	// atStart is true when the fragment begins a line (a boundary
	// delimiter can only be at the start of a line).
	atStart bool
	// eol is the length of the line terminator at the end of b: 2 for CRLF,
	// 1 for a bare LF, 0 when the line continues in the next fragment or
	// the message ends without one.
	eol int
	// prevEOL is the eol of the fragment before this one, and before the
	// last three bytes read before it (before[2] is b's predecessor), so a
	// boundary can give back the CRLF that belongs to it.
	prevEOL int
	before  [3]byte
	// nlBefore is the number of LF bytes before this fragment.
	nlBefore int64
}

// content returns the fragment without its line terminator.
func (l *line) content() []byte { return l.b[:max(0, len(l.b)-l.eol)] }

// scanner reads the raw message line by line, keeping the offset and the
// count of LF bytes seen so far so parts can be measured exactly.
type scanner struct {
	br  *bufio.Reader
	off int64 // offset of the next byte to read
	nl  int64 // LF bytes read so far
	err error // the first read error other than io.EOF
	eof bool
	// last is the last byte read, so a CRLF split across two fragments is
	// still seen as one terminator; tail holds the last three.
	last    byte
	tail    [3]byte
	lastEOL int
	cur     line
	pushed  bool // cur is to be returned again
}

func newScanner(r io.Reader) *scanner {
	return &scanner{
		br:   bufio.NewReaderSize(r, scanBufSize),
		last: '\n',
		tail: [3]byte{'\n', '\n', '\n'},
	}
}

// next returns the next line fragment, or nil at the end of input (or on a
// read error, kept in s.err).
func (s *scanner) next() *line {
	if s.pushed {
		s.pushed = false
		return &s.cur
	}
	if s.eof {
		return nil
	}
	b, err := s.br.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		if !errors.Is(err, io.EOF) {
			s.err = err
		}
		s.eof = true
		if len(b) == 0 {
			return nil
		}
	}
	l := &s.cur
	l.b = b
	l.start = s.off
	l.atStart = s.last == '\n'
	l.eol = 0
	l.prevEOL = s.lastEOL
	l.before = s.tail
	l.nlBefore = s.nl
	if n := len(b); n > 0 && b[n-1] == '\n' {
		s.nl++
		l.eol = 1
		if n > 1 && b[n-2] == '\r' {
			l.eol = 2
		} else if n == 1 && s.last == '\r' && !l.atStart {
			// CR ended the previous fragment: the terminator is CRLF,
			// though this fragment holds only its LF.
			l.eol = 2
		}
	}
	s.off += int64(len(b))
	s.lastEOL = l.eol
	s.pushTail(b)
	return l
}

// unread makes next return the current line again. Its bytes are still
// valid, as nothing was read since.
func (s *scanner) unread() { s.pushed = true }

// isBlank reports whether a line is empty apart from its terminator: the
// end of a header block (RFC 5322 §2.1).
func (l *line) isBlank() bool {
	return l.atStart && l.eol > 0 && len(l.b) == l.eol
}

// matchBoundary tells whether the line is a delimiter line of boundary b
// (RFC 2046 §5.1.1): "--" boundary, optionally "--" for the close
// delimiter, then transport padding (linear whitespace). Anything after a
// close delimiter is tolerated, as real mailers add junk there.
func matchBoundary(c []byte, b string) (ok, closing bool) {
	if len(c) < 2+len(b) || c[0] != '-' || c[1] != '-' || string(c[2:2+len(b)]) != b {
		return false, false
	}
	rest := c[2+len(b):]
	if len(rest) >= 2 && rest[0] == '-' && rest[1] == '-' {
		return true, true
	}
	if len(bytes.Trim(rest, " \t\r")) == 0 {
		return true, false
	}
	return false, false
}

// pushTail keeps the last three bytes read.
func (s *scanner) pushTail(b []byte) {
	if len(b) == 0 {
		return
	}
	s.last = b[len(b)-1]
	if len(b) >= 3 {
		copy(s.tail[:], b[len(b)-3:])
		return
	}
	n := copy(s.tail[:], s.tail[len(b):])
	copy(s.tail[n:], b)
}
