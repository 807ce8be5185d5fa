package jmapmail

// Undoing a Content-Transfer-Encoding (RFC 2045 §6) as a stream, for part
// downloads, body values and sizes: leniently, as delivery parses, with a
// flag for what did not decode cleanly (isEncodingProblem).

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"

	"postern/internal/message"
)

// transferDecoder reads a part's body with its transfer encoding undone.
// problem is set once something in the input was not valid in the
// encoding (it is then skipped or kept as it was).
type transferDecoder struct {
	src     *bufio.Reader
	enc     string
	problem bool
	pending []byte // decoded bytes not yet returned
	quantum [4]byte
	nq      int
	done    bool   // base64 padding or input end seen
	buf, in []byte // base64 input read ahead, and what is left of it
	srcErr  error
}

// newTransferDecoder decodes r under encoding enc (lower case). An
// encoding other than the five of RFC 2045 is read as it is and marked a
// problem.
func newTransferDecoder(r io.Reader, enc string) *transferDecoder {
	d := &transferDecoder{src: bufio.NewReaderSize(r, 32<<10), enc: enc}
	if !identityEncoding(enc) && enc != "base64" && enc != "quoted-printable" {
		d.problem = true
	}
	return d
}

// identityEncoding tells whether a body under enc is its own decoding.
func identityEncoding(enc string) bool {
	return enc == "" || enc == "7bit" || enc == "8bit" || enc == "binary"
}

func (d *transferDecoder) Read(p []byte) (int, error) {
	switch d.enc {
	case "base64":
		return d.readBase64(p)
	case "quoted-printable":
		return d.readQP(p)
	}
	return d.src.Read(p)
}

// b64dec maps a byte to its base64 value, or to one of the markers.
var b64dec = func() (t [256]byte) {
	for i := range t {
		t[i] = b64bad
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	for _, c := range []byte(" \t\r\n") {
		t[c] = b64space
	}
	t['='] = b64pad
	return t
}()

const (
	b64space = 0xfd
	b64pad   = 0xfe
	b64bad   = 0xff
)

// fill reads more input when none is left; false at its end.
func (d *transferDecoder) fill() bool {
	if len(d.in) > 0 {
		return true
	}
	if d.srcErr != nil {
		return false
	}
	if d.buf == nil {
		d.buf = make([]byte, 32<<10)
	}
	k, err := d.src.Read(d.buf)
	d.in = d.buf[:k]
	if err != nil {
		d.srcErr = err
	}
	return k > 0 || err == nil
}

// readBase64 decodes quantum by quantum; white space is skipped, other
// characters outside the alphabet are skipped and flagged (RFC 2045
// §6.8), and decoding stops at the padding.
func (d *transferDecoder) readBase64(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(d.pending) > 0 {
			k := copy(p[n:], d.pending)
			d.pending = d.pending[k:]
			n += k
			continue
		}
		if d.done {
			break
		}
		if !d.fill() {
			d.done = true
			if d.nq == 1 {
				d.problem = true
			}
			d.pending = d.flush()
			continue
		}
		in, i := d.in, 0
	scan:
		for i < len(in) {
			v := b64dec[in[i]]
			i++
			switch v {
			case b64space:
				continue
			case b64bad:
				d.problem = true
				continue
			case b64pad:
				d.done = true
				d.pending = d.flush()
				break scan
			}
			d.quantum[d.nq] = v
			d.nq++
			if d.nq < 4 {
				continue
			}
			q := d.quantum
			d.nq = 0
			b0, b1, b2 := q[0]<<2|q[1]>>4, q[1]<<4|q[2]>>2, q[2]<<6|q[3]
			if len(p)-n < 3 {
				d.pending = append(d.pending[:0], b0, b1, b2)
				break scan
			}
			p[n], p[n+1], p[n+2] = b0, b1, b2
			if n += 3; n == len(p) {
				break scan
			}
		}
		d.in = in[i:]
	}
	if n == 0 && d.done {
		return 0, io.EOF
	}
	return n, nil
}

// flush returns the bytes of an incomplete last quantum.
func (d *transferDecoder) flush() []byte {
	q := d.quantum
	var out []byte
	switch d.nq {
	case 2:
		out = []byte{q[0]<<2 | q[1]>>4}
	case 3:
		out = []byte{q[0]<<2 | q[1]>>4, q[1]<<4 | q[2]>>2}
	}
	d.nq = 0
	return out
}

// readQP decodes quoted-printable (RFC 2045 §6.7): "=XX" octets and soft
// line breaks; a malformed "=" is kept and flagged.
func (d *transferDecoder) readQP(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(d.pending) > 0 {
			k := copy(p[n:], d.pending)
			d.pending = d.pending[k:]
			n += k
			continue
		}
		c, err := d.src.ReadByte()
		if err != nil {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		if c != '=' {
			p[n] = c
			n++
			continue
		}
		next, _ := d.src.Peek(2)
		switch {
		case len(next) == 2 && isHexDigit(next[0]) && isHexDigit(next[1]):
			p[n] = unhexDigit(next[0])<<4 | unhexDigit(next[1])
			n++
			d.src.Discard(2)
		case len(next) >= 1 && next[0] == '\n':
			d.src.Discard(1)
		case len(next) == 2 && next[0] == '\r' && next[1] == '\n':
			d.src.Discard(2)
		default:
			d.problem = true
			p[n] = c
			n++
		}
	}
	return n, nil
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhexDigit(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// partReader is the body of part p in the raw message ra, decoded.
func partReader(ra io.ReaderAt, p *message.Part) *transferDecoder {
	return newTransferDecoder(io.NewSectionReader(ra, p.BodyStart, p.End-p.BodyStart), p.Encoding)
}

// exactSizeMax bounds the encoded parts whose decoded size is counted by
// decoding them; larger base64 parts are measured from their line count
// and last octets (base64Size), larger quoted-printable ones (rare: QP is
// for text) are given their encoded size, an upper bound.
const exactSizeMax = 1 << 20

// decodedSize is the size of part p's body once decoded (RFC 8621
// §4.1.4 "size"), without reading it when the encoding is the identity;
// ra may be nil, and then encoded parts get an estimate.
func decodedSize(ra io.ReaderAt, p *message.Part) int64 {
	if identityEncoding(p.Encoding) || p.IsMultipart() {
		if p.IsMultipart() {
			return 0
		}
		return p.Size
	}
	if ra != nil && p.Size <= exactSizeMax {
		n, err := io.Copy(io.Discard, partReader(ra, p))
		if err == nil {
			return n
		}
	}
	if p.Encoding == "base64" {
		return base64Size(ra, p)
	}
	return p.Size
}

// base64Size measures a large base64 body from its line count (lines
// end in CRLF, as stored) and the padding at its end: a read of at most
// 64 octets, not of the body. Other white space inside would make it an
// overestimate.
func base64Size(ra io.ReaderAt, p *message.Part) int64 {
	breaks := p.Lines
	pad := int64(0)
	if ra != nil && p.Size > 0 {
		tail := make([]byte, min(64, p.Size))
		if _, err := ra.ReadAt(tail, p.End-int64(len(tail))); err == nil {
			if tail[len(tail)-1] != '\n' {
				breaks-- // the last line is counted without a line break
			}
		scan:
			for i := len(tail) - 1; i >= 0; i-- {
				switch tail[i] {
				case '=':
					pad++
				case '\r', '\n', ' ', '\t':
				default:
					break scan
				}
			}
		}
	}
	chars := max(p.Size-2*max(breaks, 0), 0)
	return max(chars/4*3-pad, 0)
}

// readBodyValue decodes a text part to UTF-8 (RFC 8621 §4.1.4
// EmailBodyValue): at most maxBytes octets of UTF-8, never a character
// cut in two. isEncodingProblem is set when the transfer encoding or the
// charset had malformed input, or the charset is unknown; what cannot be
// decoded becomes U+FFFD.
func readBodyValue(ra io.ReaderAt, p *message.Part, maxBytes int64) (emailBodyValue, error) {
	dec := partReader(ra, p)
	cs := strings.ToLower(strings.TrimSpace(p.Param("charset")))
	var r io.Reader = dec
	direct := false // bytes that should already be UTF-8
	switch cs {
	case "", "us-ascii", "ascii", "utf-8", "utf8":
		direct = true
	default:
		cr, err := charset.Reader(cs, dec)
		if err != nil {
			direct = true // unknown charset: read as UTF-8, flagged below
		} else {
			r = cr
		}
	}
	// Enough input for maxBytes of output, and one more character to
	// tell that there is more.
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+utf8.UTFMax))
	if err != nil {
		return emailBodyValue{}, err
	}
	v := emailBodyValue{IsEncodingProblem: dec.problem}
	if direct && cs != "" && cs != "us-ascii" && cs != "ascii" && cs != "utf-8" && cs != "utf8" {
		v.IsEncodingProblem = true // an unknown charset
	}
	more := int64(len(data)) > maxBytes
	if direct && !validUTF8Prefix(data, more) {
		v.IsEncodingProblem = true
		if cs == "" || cs == "us-ascii" || cs == "ascii" {
			// 8-bit text under no or an ASCII label is most often
			// Windows-1252, as at delivery.
			if cr, err := charset.Reader("windows-1252", bytes.NewReader(data)); err == nil {
				if conv, err := io.ReadAll(cr); err == nil {
					data = conv
				}
			}
		}
	}
	s := string(data)
	if int64(len(s)) > maxBytes {
		s = cutUTF8(s, int(maxBytes))
		v.IsTruncated = true
	}
	v.Value = strings.ToValidUTF8(s, "\uFFFD")
	return v, nil
}

// validUTF8Prefix tells whether b is UTF-8, allowing a character cut at
// the end when the input goes on.
func validUTF8Prefix(b []byte, cut bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if !cut {
		return false
	}
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		if utf8.Valid(b[:len(b)-i]) {
			return true
		}
	}
	return false
}

// cutUTF8 returns at most n bytes of s without splitting a character.
func cutUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
