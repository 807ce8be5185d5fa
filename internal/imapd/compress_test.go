package imapd

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// storedWriter is a deflate stream of stored blocks (RFC 1951 §3.2.4): a
// valid compressor for tests that costs no memory, each Write a block
// followed by the empty block of a sync flush.
type storedWriter struct{ w io.Writer }

func (s storedWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); {
		n := min(len(p)-off, 0xffff)
		var hdr [5]byte // BFINAL 0, BTYPE 00, then LEN and NLEN
		binary.LittleEndian.PutUint16(hdr[1:], uint16(n))
		binary.LittleEndian.PutUint16(hdr[3:], ^uint16(n))
		if _, err := s.w.Write(append(hdr[:], p[off:off+n]...)); err != nil {
			return off, err
		}
		off += n
	}
	// An empty stored block is the sync-flush marker at which an inflater
	// hands out what it has (RFC 4978 §4).
	if _, err := s.w.Write([]byte{0, 0, 0, 0xff, 0xff}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// compress sends COMPRESS DEFLATE and switches the test connection to it;
// with stored the client sends stored blocks instead of a real deflater.
func (r *rawConn) compress(stored bool) {
	r.t.Helper()
	r.send("z COMPRESS DEFLATE")
	r.expectTagged("z", "OK")
	if r.br.Buffered() != 0 {
		r.t.Fatal("data after the COMPRESS OK")
	}
	var w io.Writer = storedWriter{r.c}
	if !stored {
		fw, _ := flate.NewWriter(r.c, flate.BestSpeed)
		w = flushWriter{fw}
	}
	r.c = &deflateTestConn{Conn: r.c, r: flate.NewReader(r.c), w: w}
	r.br = bufio.NewReader(r.c)
}

type flushWriter struct{ fw *flate.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.fw.Write(p)
	if err == nil {
		err = f.fw.Flush()
	}
	return n, err
}

type deflateTestConn struct {
	net.Conn
	r io.Reader
	w io.Writer
}

func (d *deflateTestConn) Read(p []byte) (int, error)  { return d.r.Read(p) }
func (d *deflateTestConn) Write(p []byte) (int, error) { return d.w.Write(p) }

func TestCompressDeflate(t *testing.T) {
	env := newTestEnv(t, nil)
	body := simpleMsg + strings.Repeat("All work and no play makes Jack a dull boy.\r\n", 2000)
	env.deliver("INBOX", body)
	rc := env.dial()
	rc.send("a COMPRESS DEFLATE")
	rc.expectTagged("a", "BAD") // not before login (RFC 4978 §3)
	rc.send("b LOGIN " + testUser + " " + testPass)
	got := rc.expectTagged("b", "OK")
	if !strings.Contains(got[len(got)-1], "COMPRESS=DEFLATE") {
		t.Fatalf("caps: %q", got)
	}
	rc.send("c COMPRESS GZIP")
	rc.expectTagged("c", "BAD")
	rc.compress(false)
	rc.send("d CAPABILITY")
	got = rc.expectTagged("d", "OK")
	if contains(got, "COMPRESS=DEFLATE") {
		t.Fatalf("COMPRESS still offered: %q", got)
	}
	rc.send("e COMPRESS DEFLATE")
	got = rc.expectTagged("e", "NO")
	if !strings.Contains(got[0], "[COMPRESSIONACTIVE]") {
		t.Fatalf("second COMPRESS: %q", got)
	}
	rc.send("f SELECT INBOX")
	rc.expectTagged("f", "OK")
	rc.send("g FETCH 1 BODY.PEEK[]")
	head := rc.readLine()
	if !strings.HasSuffix(head, "{"+itoa(int64(len(body)))+"}") {
		t.Fatalf("FETCH: %q", head)
	}
	buf := make([]byte, len(body))
	if _, err := io.ReadFull(rc.br, buf); err != nil || string(buf) != body {
		t.Fatalf("body: %v", err)
	}
	rc.expectPrefix(")")
	rc.expectTagged("g", "OK")
	// A literal in the compressed stream, and IDLE reading it too.
	rc.send("h APPEND INBOX {5+}\r\nhello")
	rc.expectTagged("h", "OK")
	rc.send("i IDLE")
	rc.expectPrefix("+")
	env.deliver("INBOX", simpleMsg)
	rc.expectPrefix("* 3 EXISTS")
	rc.send("DONE")
	rc.expectTagged("i", "OK")
}

// TestCompressMemory: idle compressed connections hold no deflater (a
// flate writer is ~790 KiB): the writers live in the server's pool.
func TestCompressMemory(t *testing.T) {
	env := newTestEnv(t, nil)
	const n = 40
	conns := make([]*rawConn, n)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range conns {
		rc := env.login()
		rc.compress(true)
		rc.send("a LIST \"\" *")
		rc.expectTagged("a", "OK")
		conns[i] = rc
	}
	time.Sleep(50 * time.Millisecond)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("heap per compressed connection (server and test client): %d KiB", per>>10)
	if per > 400<<10 {
		t.Fatalf("heap per compressed connection %d KiB", per>>10)
	}
	for _, rc := range conns {
		rc.send("b NOOP")
		rc.expectTagged("b", "OK")
	}
}

type discardConn struct {
	net.Conn
	n int64
}

func (d *discardConn) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

// BenchmarkDeflateWrite is the cost of one compressed response flush with
// a pooled deflater: a short tagged reply and a FETCH of 100 envelopes.
func BenchmarkDeflateWrite(b *testing.B) {
	line := `* 12 FETCH (UID 112 FLAGS (\Seen) ENVELOPE ("Tue, 05 Mar 2024 09:00:00 +0000" "Subject number 3" (("Bob" NIL "bob" "example.net")) NIL NIL ((NIL NIL "alice" "example.org")) NIL NIL NIL "<1@example.net>"))` + "\r\n"
	for _, resp := range []struct {
		name string
		data []byte
	}{{"tagged", []byte("a12 OK NOOP completed\r\n")}, {"fetch100", []byte(strings.Repeat(line, 100))}} {
		b.Run(resp.name, func(b *testing.B) {
			var pool sync.Pool
			dst := &discardConn{}
			dc := &deflateConn{Conn: dst, pool: &pool}
			b.SetBytes(int64(len(resp.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dc.Write(resp.data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(dst.n)/float64(b.N)/float64(len(resp.data)), "ratio")
		})
	}
}
