package jmapmail

import (
	"bufio"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"io"
	"mime/quotedprintable"
	"strconv"
	"strings"
	"time"
)

// Writing a draft as an RFC 5322 message with MIME (RFC 2045–2047, 2231):
// header fields folded under 78 octets where spaces allow and never over
// 998, text parts as 7bit when they are short-lined ASCII and
// quoted-printable otherwise, blobs base64 (76-octet lines) except
// encapsulated messages, which stay 7bit or 8bit as RFC 2046 §5.2.1 wants
// when their lines allow. The body is streamed: blobs are copied from
// their reader, never held whole.

// blobOpener opens a blob a draft part refers to.
type blobOpener func(blobID string) (io.ReadCloser, error)

// draftEnv is what writing needs besides the draft.
type draftEnv struct {
	now       time.Time
	msgDomain string // right side of a generated Message-ID
	open      blobOpener
}

// Line lengths of RFC 5322 §2.1.1.
const (
	softLine = 78
	hardLine = 998
)

var errLongLine = errors.New("a header line would exceed 998 octets")

// writeDraft writes d to w.
func writeDraft(w io.Writer, d *draft, env draftEnv) error {
	bw := bufio.NewWriter(w)
	fields := d.fields
	if !d.hasDate {
		fields = append([]field{{name: "Date", value: env.now.Format(rfc5322Date)}}, fields...)
	}
	if !d.hasMsgID {
		fields = append(fields, field{name: "Message-ID", value: "<" + randomToken() + "@" + env.msgDomain + ">"})
	}
	fields = append(fields, field{name: "MIME-Version", value: "1.0"})
	for _, f := range fields {
		if err := writeField(bw, f); err != nil {
			return err
		}
	}
	if err := writePart(bw, d.body, env); err != nil {
		return err
	}
	return bw.Flush()
}

// randomToken is 26 random base32 characters (130 bits).
func randomToken() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// writeField writes one field, folded at spaces (a raw one as given).
func writeField(w *bufio.Writer, f field) error {
	if f.raw {
		if len(f.name)+1+len(f.value) > hardLine {
			return errLongLine
		}
		w.WriteString(f.name + ":" + f.value + "\r\n")
		return nil
	}
	line := f.name + ":"
	for _, word := range strings.Split(f.value, " ") {
		piece := " " + word
		if word != "" && len(line)+len(piece) > softLine && strings.TrimSpace(line) != "" &&
			len(line) > len(f.name)+1 {
			if len(line) > hardLine {
				return errLongLine
			}
			w.WriteString(line + "\r\n")
			line = ""
		}
		line += piece
	}
	if len(line) > hardLine {
		return errLongLine
	}
	w.WriteString(line + "\r\n")
	return nil
}

// writePart writes a part's MIME header fields, the blank line and its
// body.
func writePart(w *bufio.Writer, p *draftPart, env draftEnv) error {
	ct := p.typ
	var enc string
	var scan messageScan
	if p.charset != "" {
		ct += formatParam("charset", p.charset)
	}
	if p.name != "" {
		ct += formatParam("name", p.name)
	}
	boundary := ""
	switch {
	case p.isMultipart():
		boundary = "=_" + randomToken()
		ct += formatParam("boundary", boundary)
	case p.blobID == "":
		enc = textEncoding(p.text)
	case strings.HasPrefix(p.typ, "message/"):
		var err error
		if scan, err = scanBlob(env.open, p.blobID); err != nil {
			return err
		}
		enc = scan.encoding()
	default:
		enc = "base64"
	}
	fields := []field{{name: "Content-Type", value: ct}}
	if enc != "" {
		fields = append(fields, field{name: "Content-Transfer-Encoding", value: enc})
	}
	if p.disposition != "" {
		v := p.disposition
		if p.name != "" {
			v += formatParam("filename", p.name)
		}
		fields = append(fields, field{name: "Content-Disposition", value: v})
	}
	if p.cid != "" {
		fields = append(fields, field{name: "Content-ID", value: "<" + p.cid + ">"})
	}
	if len(p.language) > 0 {
		fields = append(fields, field{name: "Content-Language", value: strings.Join(p.language, ", ")})
	}
	if p.location != "" {
		fields = append(fields, field{name: "Content-Location", value: p.location})
	}
	for _, f := range append(fields, p.fields...) {
		if err := writeField(w, f); err != nil {
			return err
		}
	}
	w.WriteString("\r\n")
	if boundary != "" {
		for _, c := range p.sub {
			w.WriteString("--" + boundary + "\r\n")
			if err := writePart(w, c, env); err != nil {
				return err
			}
			w.WriteString("\r\n")
		}
		w.WriteString("--" + boundary + "--\r\n")
		return nil
	}
	if p.blobID == "" {
		return writeText(w, p.text, enc)
	}
	return copyBlob(w, env.open, p.blobID, enc)
}

// formatParam is "; key=value": a token as it is, other short ASCII
// quoted, and anything else (not ASCII, or long) in RFC 2231 form, UTF-8
// and percent-encoded, cut into continuations so that a line stays short.
func formatParam(key, value string) string {
	if isToken(value) {
		return "; " + key + "=" + value
	}
	if printableASCII(value, 60) {
		return "; " + key + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
	}
	var enc strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c > ' ' && c < 0x7f && strings.IndexByte(`*'%()<>@,;:\"/[]?=`, c) < 0 {
			enc.WriteByte(c)
		} else {
			enc.WriteByte('%')
			enc.WriteByte("0123456789ABCDEF"[c>>4])
			enc.WriteByte("0123456789ABCDEF"[c&15])
		}
	}
	s := enc.String()
	var b strings.Builder
	for n := 0; len(s) > 0; n++ {
		cut := min(len(s), 60)
		// Never split a %XX triplet.
		if i := strings.LastIndexByte(s[:cut], '%'); i >= 0 && i > cut-3 && cut < len(s) {
			cut = i
		}
		b.WriteString("; " + key + "*" + strconv.Itoa(n) + "*=")
		if n == 0 {
			b.WriteString("utf-8''")
		}
		b.WriteString(s[:cut])
		s = s[cut:]
	}
	return b.String()
}

// textEncoding is 7bit for ASCII text whose lines fit in 78 octets, else
// quoted-printable.
func textEncoding(s string) string {
	lineLen := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n' || c == '\r':
			lineLen = 0
		case c >= 0x80 || c == 0 || c < ' ' && c != '\t':
			return "quoted-printable"
		default:
			if lineLen++; lineLen > softLine {
				return "quoted-printable"
			}
		}
	}
	return "7bit"
}

// writeText writes text in enc, its line breaks as CRLF.
func writeText(w *bufio.Writer, s string, enc string) error {
	s = crlf(s)
	if enc == "7bit" {
		_, err := w.WriteString(s)
		return err
	}
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}

// crlf turns bare CR and bare LF into CRLF.
func crlf(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			b.WriteString("\r\n")
			i++
		case c == '\r' || c == '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// messageScan is what copying an encapsulated message needs to know.
type messageScan struct {
	eightBit, longLine, bareEOL bool
}

// encoding is 7bit or 8bit when the lines allow, else base64 (a message
// with lines over 998 octets cannot travel otherwise).
func (s messageScan) encoding() string {
	switch {
	case s.longLine:
		return "base64"
	case s.eightBit:
		return "8bit"
	}
	return "7bit"
}

func scanBlob(open blobOpener, id string) (messageScan, error) {
	rc, err := open(id)
	if err != nil {
		return messageScan{}, err
	}
	defer rc.Close()
	var s messageScan
	br := bufio.NewReader(rc)
	lineLen := 0
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return s, err
		}
		switch {
		case c == '\n':
			lineLen = 0
		case c == 0:
			s.longLine = true // NUL cannot travel as 8bit either
		default:
			if c >= 0x80 {
				s.eightBit = true
			}
			if lineLen++; lineLen > hardLine {
				s.longLine = true
			}
		}
	}
}

// copyBlob copies a blob in enc: base64 in lines of 76, else with its
// line breaks made CRLF.
func copyBlob(w *bufio.Writer, open blobOpener, id, enc string) error {
	rc, err := open(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	if enc == "base64" {
		lw := &lineWrapper{w: w, max: 76}
		b64 := base64.NewEncoder(base64.StdEncoding, lw)
		if _, err := io.Copy(b64, rc); err != nil {
			return err
		}
		if err := b64.Close(); err != nil {
			return err
		}
		if lw.n > 0 {
			w.WriteString("\r\n")
		}
		return nil
	}
	br := bufio.NewReader(rc)
	prevCR := false
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			if prevCR {
				w.WriteByte('\n')
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case c == '\n' && !prevCR:
			w.WriteString("\r\n")
		case prevCR && c != '\n':
			w.WriteByte('\n')
			w.WriteByte(c)
		default:
			w.WriteByte(c)
		}
		prevCR = c == '\r'
	}
}

// lineWrapper breaks its output into lines of max octets.
type lineWrapper struct {
	w   *bufio.Writer
	max int
	n   int // octets on the current line
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	for _, c := range p {
		if l.n == l.max {
			l.w.WriteString("\r\n")
			l.n = 0
		}
		l.w.WriteByte(c)
		l.n++
	}
	return len(p), nil
}
