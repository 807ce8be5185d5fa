package smtpserver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// memConn is a net.Conn over a fixed input, collecting the output.
type memConn struct {
	in  io.Reader
	out bytes.Buffer
}

func (m *memConn) Read(p []byte) (int, error)         { return m.in.Read(p) }
func (m *memConn) Write(p []byte) (int, error)        { return m.out.Write(p) }
func (m *memConn) Close() error                       { return nil }
func (m *memConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25} }
func (m *memConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }
func (m *memConn) SetDeadline(t time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(t time.Time) error { return nil }

var replyLine = regexp.MustCompile(`^[2-5][0-9][0-9][ -][^\r\n]*\r\n$`)

// FuzzSession runs a whole session over arbitrary client input: the
// server never panics, every reply line is well formed and within the
// 512 octets of RFC 5321 §4.5.3.1.5, and the session ends.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\n..y\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<a@b> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=a+2B\r\nRCPT TO:<c@d> NOTIFY=SUCCESS ORCPT=rfc822;c+40d\r\nBDAT 3\r\nabcBDAT 0 LAST\r\n",
		"RCPT TO:<a@b>\r\nRSET\r\nRCPT TO:<a@b>\r\nDATA\r\n",
		"EHLO x\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH LOGIN\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 5\r\nabNOOP\r\nRSET\r\nBDAT 99999999999\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + strings.Repeat("z", 1200) + "\r\n.\r\n",
		"HELO\r\nSTARTTLS\r\nVRFY\r\n\r\n\x00\xff\r\nEHLO " + strings.Repeat("h", 600) + "\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		logs := &logBuf{}
		srv := New(&fakeBackend{}, Config{Hostname: "mx.example.org", MaxMessageBytes: 1000, MaxRecipients: 3,
			SMTPUTF8: true, DSN: true, REQUIRETLS: true, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		mc := &memConn{in: iotest.HalfReader(bytes.NewReader(input))}
		c := newConn(srv, mc)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.serve()
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end at the end of its input")
		}
		if strings.Contains(logs.String(), "panic") && !bytes.Contains(input, []byte("panic@x")) {
			t.Fatalf("panic on %q:\n%s", input, logs)
		}
		out := mc.out.String()
		if !strings.HasPrefix(out, "220 ") {
			t.Fatalf("no greeting: %q", out)
		}
		for _, l := range strings.SplitAfter(out, "\r\n") {
			if l == "" {
				continue
			}
			if !replyLine.MatchString(l) || len(l) > 512 {
				t.Fatalf("bad reply line %q for input %q", l, input)
			}
		}
	})
}

// refDot is the byte-at-a-time definition of the DATA reader: the
// message, the octets consumed including the terminator, and whether the
// terminator was found.
func refDot(in []byte) (msg []byte, used int, ended bool) {
	lineStart, prevCR := true, false
	for i := 0; i < len(in); i++ {
		if lineStart && in[i] == '.' {
			if i+2 >= len(in) {
				return msg, i, false
			}
			if in[i+1] == '\r' && in[i+2] == '\n' {
				return msg, i + 3, true
			}
			i++
		}
		b := in[i]
		msg = append(msg, b)
		lineStart = b == '\n' && prevCR
		prevCR = b == '\r'
	}
	return msg, len(in), false
}

// FuzzDotReader checks the DATA reader against refDot, whatever the
// sizes of the reads on both sides, and its size limit.
func FuzzDotReader(f *testing.F) {
	for _, s := range []string{
		"a\r\n.\r\n", ".\r\n", "..x\r\n.\r\nMAIL", "a\n.\nb\r\n.\rc\r\n.\r\n", "\r\n.\r\n", "x\r", ".", "..", ".\r",
		"line\r\n..\r\n.\r\n", "a\r\r\n.\r\n", strings.Repeat("abc\r\n", 50) + ".\r\n",
	} {
		f.Add([]byte(s), uint8(7), uint16(0))
		f.Add([]byte(s), uint8(1), uint16(10))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8, max uint16) {
		want, used, ended := refDot(in)
		src := bytes.NewReader(in)
		br := bufio.NewReaderSize(iotest.HalfReader(src), 16)
		r := newDotReader(br, int64(max))
		var got []byte
		buf := make([]byte, int(step)%13+1)
		var err error
		for {
			var n int
			n, err = r.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		switch {
		case max > 0 && len(want) > int(max):
			if err != ErrDataTooLarge {
				t.Fatalf("%q limit %d: err %v, want too large", in, max, err)
			}
			if derr := r.drain(); (derr == nil) != ended {
				t.Fatalf("%q: drain %v, terminator %v", in, derr, ended)
			}
		case !ended:
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%q without terminator: %v", in, err)
			}
			return
		case err != io.EOF || !bytes.Equal(got, want):
			t.Fatalf("%q: got %q (%v), want %q", in, got, err, want)
		}
		if consumed := len(in) - src.Len() - br.Buffered(); consumed != used {
			t.Fatalf("%q: consumed %d octets, want %d", in, consumed, used)
		}
	})
}

// BenchmarkDotReader reads a 4 KiB message of 60-octet lines, some
// dot-stuffed, as DATA: the protocol layer's share of ingest.
func BenchmarkDotReader(b *testing.B) {
	var msg bytes.Buffer
	for msg.Len() < 4096 {
		msg.WriteString("..a line of the message that is dot-stuffed at its start\r\n")
		msg.WriteString("an ordinary line of the message, fifty-eight octets long\r\n")
	}
	msg.WriteString(".\r\n")
	in := msg.Bytes()
	b.SetBytes(int64(len(in)))
	src := bytes.NewReader(in)
	br := bufio.NewReaderSize(src, readBufferSize)
	buf := make([]byte, 32<<10)
	for b.Loop() {
		src.Reset(in)
		br.Reset(src)
		r := newDotReader(br, 1<<20)
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
	}
}
