package imapd

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// respWriter buffers the responses of one command; the session flushes once
// per command (and at each continuation request) so that a FETCH of ten
// thousand messages costs a handful of system calls.
//
// The buffer is borrowed from the server's pool at the first write and
// given back at the flush that empties it: ten thousand sessions idling
// in IDLE hold no write buffer at all (bench/imap_test.go measures it).
type respWriter struct {
	w    *bufio.Writer // nil between flushes
	dst  io.Writer
	pool *sync.Pool // of *bufio.Writer
}

// writeBufSize lets a FETCH of many messages go out in few system calls.
const writeBufSize = 32 << 10

// buf returns the buffer, borrowing one if there is none.
func (w *respWriter) buf() *bufio.Writer {
	if w.w == nil {
		bw, _ := w.pool.Get().(*bufio.Writer)
		if bw == nil {
			bw = bufio.NewWriterSize(w.dst, writeBufSize)
		} else {
			bw.Reset(w.dst)
		}
		w.w = bw
	}
	return w.w
}

func (w *respWriter) str(s string) { w.buf().WriteString(s) }

func (w *respWriter) byte(c byte) { w.buf().WriteByte(c) }

func (w *respWriter) num(n uint64) {
	var buf [20]byte
	w.buf().Write(strconv.AppendUint(buf[:0], n, 10))
}

func (w *respWriter) crlf() { w.buf().WriteString("\r\n") }

func (w *respWriter) flush() error {
	if w.w == nil {
		return nil
	}
	err := w.w.Flush()
	if err == nil {
		// Reset drops the connection, so a pooled buffer keeps none alive.
		w.w.Reset(nil)
		w.pool.Put(w.w)
		w.w = nil
	}
	return err
}

// line writes one complete response line.
func (w *respWriter) line(parts ...string) {
	for _, s := range parts {
		w.buf().WriteString(s)
	}
	w.crlf()
}

// string writes s as a quoted string or, when it cannot be, a literal.
func (w *respWriter) string(s string) {
	b := w.buf()
	// Appending to the buffer's free space writes in place when it fits.
	b.Write(appendString(b.AvailableBuffer(), s))
}

// appendString appends s as a quoted string or, when it cannot be, a
// literal: the one rule for strings of both the general renderer and the
// envelopes rendered from their stored form.
func appendString[T string | []byte](dst []byte, s T) []byte {
	if len(s) > 1024 {
		return appendLiteral(dst, s)
	}
	// One pass over s: a FETCH of envelopes is mostly short strings with
	// nothing to escape, which go out in one copy.
	mark := len(dst)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		switch quoteClass[s[i]] {
		case quoteEscape:
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', s[i])
			start = i + 1
		case quoteNever:
			return appendLiteral(dst[:mark], s)
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendLiteral[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '{')
	dst = strconv.AppendUint(dst, uint64(len(s)), 10)
	dst = append(dst, "}\r\n"...)
	return append(dst, s...)
}

// quoteClass tells how each byte goes into a quoted string: RFC 9051 §9
// allows TEXT-CHAR minus the quoted specials, which are escaped; we keep
// 8-bit text in literals so that IMAP4rev1 clients without UTF8=ACCEPT
// read it too.
var quoteClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20 || c >= 0x7f:
			t[c] = quoteNever
		case c == '"' || c == '\\':
			t[c] = quoteEscape
		}
	}
	return t
}()

const (
	quoteAsIs = iota
	quoteEscape
	quoteNever
)

// appendNString appends NIL for the empty string, else s as a string.
func appendNString[T string | []byte](dst []byte, s T) []byte {
	if len(s) == 0 {
		return append(dst, "NIL"...)
	}
	return appendString(dst, s)
}

func (w *respWriter) literal(b []byte) {
	w.byte('{')
	w.num(uint64(len(b)))
	w.str("}\r\n")
	w.buf().Write(b)
}

// nstring writes NIL for the empty string.
func (w *respWriter) nstring(s string) {
	if s == "" {
		w.str("NIL")
		return
	}
	w.string(s)
}

// astring writes s as an atom when it is one, else as a string.
func (w *respWriter) astring(s string) {
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return r > 0x7f || !isAstringChar(byte(r)) }) < 0 &&
		!strings.EqualFold(s, "NIL") {
		w.str(s)
		return
	}
	w.string(s)
}

// dateTime writes an INTERNALDATE (RFC 9051 §9 date-time).
func (w *respWriter) dateTime(t time.Time) {
	w.byte('"')
	w.str(t.Format("02-Jan-2006 15:04:05 -0700"))
	w.byte('"')
}

// flags writes a parenthesised flag list.
func (w *respWriter) flagList(names []string) {
	w.byte('(')
	for i, n := range names {
		if i > 0 {
			w.byte(' ')
		}
		w.str(n)
	}
	w.byte(')')
}
