package authcheck

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"sync"
)

// bodyHashes computes in one pass over a body every canonical body hash
// the signatures of a message ask for (RFC 6376 §3.4.3 to §3.4.5): each
// canonicalization is made once, and feeds one SHA-256 per distinct l=.
type bodyHashes struct {
	simple, relaxed bodyCanon
}

// bodySink is one body hash: the canonical body, cut at limit.
type bodySink struct {
	limit   int64 // l=, -1 for the whole body
	written int64 // bytes hashed
	total   int64 // length of the whole canonical body
	h       hash.Hash
	sum     []byte // once the pass is done
}

func (s *bodySink) write(p []byte) {
	s.total += int64(len(p))
	if s.limit >= 0 {
		room := s.limit - s.written
		if room <= 0 {
			return
		}
		if int64(len(p)) > room {
			p = p[:room]
		}
	}
	s.written += int64(len(p))
	s.h.Write(p)
}

// want returns the hash of the body canonicalized relaxed or simple, cut
// at limit (-1: whole), shared with any signature that asks the same.
func (bh *bodyHashes) want(relaxed bool, limit int64) *bodySink {
	bc := &bh.simple
	if relaxed {
		bc = &bh.relaxed
	}
	bc.relaxed = relaxed
	for _, s := range bc.sinks {
		if s.limit == limit {
			return s
		}
	}
	s := &bodySink{limit: limit, h: sha256.New()}
	bc.sinks = append(bc.sinks, s)
	return s
}

// bodyReaders are the buffers the body is read through: one per message
// would be garbage at every message.
var bodyReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

// run reads the body from r and completes every hash asked for.
func (bh *bodyHashes) run(r io.Reader) error {
	if len(bh.simple.sinks) == 0 && len(bh.relaxed.sinks) == 0 {
		return nil
	}
	br := bodyReaders.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() { br.Reset(nil); bodyReaders.Put(br) }()
	var long []byte // a line longer than the buffer (smtpd's line limit makes them rare)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			bh.simple.line(line)
			bh.relaxed.line(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	bh.simple.finish()
	bh.relaxed.finish()
	return nil
}

// bodyCanon canonicalizes a body line by line, streaming: empty lines
// are held back until a line with content shows they are not the
// trailing ones, which both canonicalizations drop.
type bodyCanon struct {
	relaxed bool
	sinks   []*bodySink
	empty   int  // empty lines held back
	any     bool // a line with content was written
	scratch []byte
}

var crlf = []byte("\r\n")

// line takes one line of the body, with its line end when it has one; a
// bare LF ends a line as CRLF does.
func (bc *bodyCanon) line(raw []byte) {
	if len(bc.sinks) == 0 {
		return
	}
	content := raw
	ended := false
	if n := len(content); n > 0 && content[n-1] == '\n' {
		content, ended = content[:n-1], true
		if n := len(content); n > 0 && content[n-1] == '\r' {
			content = content[:n-1]
		}
	}
	asIs := ended && len(content)+2 == len(raw) // content CRLF, as received
	if bc.relaxed && needsRelaxing(content) {
		bc.scratch = relaxLine(bc.scratch[:0], content)
		content, asIs = bc.scratch, false
	}
	if len(content) == 0 {
		bc.empty++
		return
	}
	for ; bc.empty > 0; bc.empty-- {
		bc.emit(crlf)
	}
	if asIs {
		bc.emit(raw)
	} else {
		bc.emit(content)
		bc.emit(crlf)
	}
	bc.any = true
}

// finish ends the body: "simple" makes an empty body one CRLF (RFC 6376
// §3.4.3), "relaxed" leaves it empty (§3.4.4).
func (bc *bodyCanon) finish() {
	if !bc.relaxed && !bc.any {
		bc.emit(crlf)
	}
	for _, s := range bc.sinks {
		s.sum = s.h.Sum(nil)
	}
}

func (bc *bodyCanon) emit(p []byte) {
	for _, s := range bc.sinks {
		s.write(p)
	}
}

// needsRelaxing tells whether the relaxed form of a line differs from
// it: white space at its end, a tab, or two spaces in a row.
func needsRelaxing(l []byte) bool {
	if len(l) == 0 {
		return false
	}
	if last := l[len(l)-1]; last == ' ' || last == '\t' {
		return true
	}
	return bytes.IndexByte(l, '\t') >= 0 || bytes.Contains(l, []byte("  "))
}

// relaxLine appends the relaxed form of a line (RFC 6376 §3.4.4): no
// white space at its end, each other run of it one space.
func relaxLine(dst, l []byte) []byte {
	space := false
	for _, b := range l {
		if b == ' ' || b == '\t' {
			space = true
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = append(dst, b)
	}
	return dst
}

// bodyHash returns the hash of the canonical body read from r, cut at
// limit (-1: whole).
func bodyHash(r io.Reader, relaxed bool, limit int64) ([]byte, error) {
	var bh bodyHashes
	s := bh.want(relaxed, limit)
	if err := bh.run(r); err != nil {
		return nil, err
	}
	return s.sum, nil
}
