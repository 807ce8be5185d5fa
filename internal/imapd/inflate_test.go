package imapd

import (
	"bytes"
	"compress/flate"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// inflateAll decodes data with our inflater, reading readSize bytes at a
// time from a source that hands out oneByte bytes per Read if set.
func inflateAll(data []byte, readSize int, oneByte bool) ([]byte, error) {
	var src io.Reader = bytes.NewReader(data)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	r := newInflater(src)
	var out []byte
	buf := make([]byte, readSize)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func stdInflate(data []byte) ([]byte, error) {
	return io.ReadAll(flate.NewReader(bytes.NewReader(data)))
}

// testInputs are data kinds that exercise literals, short and long
// matches, overlapping runs and distances across the whole window.
func testInputs(rng *rand.Rand) map[string][]byte {
	in := map[string][]byte{"empty": nil, "one": {'x'}}
	rnd := make([]byte, 100_000)
	for i := range rnd {
		rnd[i] = byte(rng.Uint32())
	}
	in["random"] = rnd
	in["zeros"] = make([]byte, 200_000)
	var text bytes.Buffer
	words := strings.Fields("a UID FETCH FLAGS BODY.PEEK[HEADER] \\Seen \\Answered INBOX Work Archive 1:* (UID) OK NO BAD * EXISTS RECENT")
	for text.Len() < 150_000 {
		fmt.Fprintf(&text, "%d %s %s\r\n", rng.IntN(100000), words[rng.IntN(len(words))], words[rng.IntN(len(words))])
	}
	in["text"] = text.Bytes()
	// A random 32 KiB block repeated: matches at distance exactly 32768
	// and copies whose source wraps around the window end.
	blk := rnd[:1<<15]
	far := bytes.Repeat(blk, 4)
	in["far"] = append(far, blk[:1000]...)
	// Short runs mixed with noise: distances shorter than lengths.
	var runs []byte
	for len(runs) < 80_000 {
		if rng.IntN(2) == 0 {
			runs = append(runs, bytes.Repeat([]byte{byte(rng.Uint32())}, 1+rng.IntN(300))...)
		} else {
			pat := rnd[rng.IntN(1000):][:1+rng.IntN(7)]
			for range 1 + rng.IntN(50) {
				runs = append(runs, pat...)
			}
		}
	}
	in["runs"] = runs
	return in
}

// deflate compresses data at level, with sync flushes at random points if
// flushes is set.
func deflate(t testing.TB, data []byte, level int, flushes bool, rng *rand.Rand) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); {
		n := len(data) - off
		if flushes {
			n = min(n, 1+rng.IntN(5000))
		}
		w.Write(data[off : off+n])
		off += n
		if flushes {
			w.Flush()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestInflateDifferential: streams made by compress/flate at every level,
// with and without sync flushes, decode to the original with our
// inflater, read in various sizes from sources of various chunkings.
func TestInflateDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, data := range testInputs(rng) {
		for level := flate.HuffmanOnly; level <= flate.BestCompression; level++ {
			for _, flushes := range []bool{false, true} {
				z := deflate(t, data, level, flushes, rng)
				for _, rs := range []struct {
					size    int
					oneByte bool
				}{{1 << 16, false}, {1, false}, {4096, true}, {777, false}} {
					if rs.size == 1 && len(data) > 20_000 {
						continue // covered by the smaller inputs; too slow
					}
					got, err := inflateAll(z, rs.size, rs.oneByte)
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("%s level %d flushes %v read %d/%v: err %v, got %d bytes want %d (equal %v)",
							name, level, flushes, rs.size, rs.oneByte, err, len(got), len(data), bytes.Equal(got, data))
					}
				}
			}
		}
	}
}

// TestInflateSmallPieces: many small writes each followed by a sync flush,
// as a client sends commands, decoded both ways.
func TestInflateSmallPieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var buf bytes.Buffer
		var want []byte
		w, _ := flate.NewWriter(&buf, rng.IntN(10))
		for range rng.IntN(30) {
			p := fmt.Appendf(nil, "a%d UID FETCH %d:* (FLAGS)\r\n", rng.IntN(1000), rng.IntN(50))
			want = append(want, p...)
			w.Write(p)
			if rng.IntN(3) > 0 {
				w.Flush()
			}
		}
		w.Close()
		got, err := inflateAll(buf.Bytes(), 1+rng.IntN(100), rng.IntN(2) == 0)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("err %v\ngot  %q\nwant %q", err, got, want)
		}
	}
}

// readWithin reads len(want) bytes from r, failing if that takes longer
// than a second (the inflater would be blocked on input it does not need).
func readWithin(t *testing.T, r io.Reader, want string) {
	t.Helper()
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b := make([]byte, len(want))
		_, err := io.ReadFull(r, b)
		ch <- res{b, err}
	}()
	select {
	case x := <-ch:
		if x.err != nil || string(x.b) != want {
			t.Fatalf("read %q, %v; want %q", x.b, x.err, want)
		}
	case <-time.After(time.Second):
		t.Fatalf("blocked instead of returning %q", want)
	}
}

// mbsyncStream is what zlib (level 6) sends for each command when flushed
// with Z_PARTIAL_FLUSH as mbsync does: each piece ends with the empty
// fixed block, whose last bits come with the next piece. Made with
// Python's zlib.compressobj(6, DEFLATED, -15) and flush(Z_PARTIAL_FLUSH).
var mbsyncStream = []struct{ cmd, hex string }{
	{"3 NAMESPACE\r\n", "3256f073f4750d0e707476e5e50208"},
	{"4 LIST \"\" \"*\"\r\n", "2013051fcfe01005252505252d255e2e8000"},
	{"5 SELECT \"INBOX\"\r\n", "32550876f57175060a78fa39f94700450002"},
	{"6 UID FETCH 1:* (UID FLAGS)\r\n", "c84c21d4d345c1cd35c4d943c1d04a4b4103ccf571740fd6e4e50208"},
	{"7 UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (X-TUID MESSAGE-ID)])\r\n", "20739c920a4efe2e917a01aeaeded11eae8e2eae417a6e9eae3e2ec10a1a11ba2120554017043bbabbea7aba68c6024d0208"},
	{"8 APPEND \"Work\" (\\Seen) {20+}\r\nSubject: x\r\n\r\nhello\r\n\r\n", "200b05c78000573f1705a5f0fca26c25058d98e0d4d43c4d856a2303ed5a5eaee0d2a4acd4e4122b850a5e2e5eae8cd49c9c7c100320"},
	{"9 UID STORE 3 +FLAGS.SILENT (\\Seen \\Flagged)\r\n", "802cc1f60787f807b92a182b68836dd60bf6f471f50b819aa010e39693989e9e9a02b40320"},
	{strings.Repeat("10 UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (X-TUID MESSAGE-ID)])\r\n", 3), "800c0da8e6dcc1691440"},
	{"11 LOGOUT\r\n", "00191a2af8f8bbfb8786f0720104"},
}

// TestInflateMbsyncNamespace: the first command mbsync sends after
// COMPRESS comes out while the connection stays open (compress/flate
// blocks here waiting for the rest of the empty fixed block).
func TestInflateMbsyncNamespace(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(mustHex(t, "3256f073f4750d0e707476e5e50208"))
	readWithin(t, newInflater(pr), "3 NAMESPACE\r\n")
}

// TestInflatePartialFlushStream: a whole session of zlib partial flushes,
// each command readable as soon as its piece has arrived.
func TestInflatePartialFlushStream(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	r := newInflater(pr)
	for _, c := range mbsyncStream {
		go pw.Write(mustHex(t, c.hex))
		readWithin(t, r, c.cmd)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bitWriter builds deflate streams bit by bit for crafted tests.
type bitWriter struct {
	out   []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) bits(v uint32, n uint) {
	w.acc |= uint64(v) << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

// code writes a Huffman code of n bits, most significant bit first
// (RFC 1951 §3.1.1).
func (w *bitWriter) code(c uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.bits(c>>uint(i)&1, 1)
	}
}

// whole returns the complete bytes written so far (what a partial flush
// sends); flushAll also the last partial byte.
func (w *bitWriter) whole() []byte { return bytes.Clone(w.out) }
func (w *bitWriter) flushAll() []byte {
	if w.nbits > 0 {
		return append(bytes.Clone(w.out), byte(w.acc))
	}
	return bytes.Clone(w.out)
}

// fixedSym writes literal/length symbol s with the fixed code (RFC 1951
// §3.2.6).
func (w *bitWriter) fixedSym(s int) {
	switch {
	case s < 144:
		w.code(uint32(0x30+s), 8)
	case s < 256:
		w.code(uint32(0x190+s-144), 9)
	case s < 280:
		w.code(uint32(s-256), 7)
	default:
		w.code(uint32(0xc0+s-280), 8)
	}
}

// fixedMatch writes a length code with extra bits and a fixed distance
// code with extra bits, given as symbols and extra values.
func (w *bitWriter) fixedMatch(lsym int, lext uint32, lbits uint, dsym int, dext uint32, dbits uint) {
	w.fixedSym(lsym)
	w.bits(lext, lbits)
	w.code(uint32(dsym), 5)
	w.bits(dext, dbits)
}

// TestInflateCraftedPartialFlush: fixed blocks each followed by an empty
// fixed block of which only the whole bytes are sent (Z_PARTIAL_FLUSH);
// every command is readable before the next piece, including one that is
// a match reaching back into an earlier command.
func TestInflateCraftedPartialFlush(t *testing.T) {
	var w bitWriter
	var pieces [][]byte
	sent := 0
	cut := func() {
		b := w.whole()
		pieces = append(pieces, b[sent:])
		sent = len(b)
	}
	block := func(body func()) {
		w.bits(0b010, 3) // BFINAL 0, BTYPE 01
		body()
		w.fixedSym(256)
		w.bits(0b010, 3) // the empty fixed block of a partial flush
		w.fixedSym(256)
		cut()
	}
	lits := func(s string) {
		for i := range len(s) {
			w.fixedSym(int(s[i]))
		}
	}
	block(func() { lits("a1 NOOP\r\n") })
	// "a2 NOOP\r\n": "a", "2", then " NOOP\r\n" (7 bytes) from distance 9:
	// length 7 is code 261, distance 9 is code 6 with extra 0.
	block(func() { lits("a2"); w.fixedMatch(261, 0, 0, 6, 0, 2) })
	// "zzzzzzzzzz": z then length 9 (code 263) at distance 1 (code 0).
	block(func() { lits("z"); w.fixedMatch(263, 0, 0, 0, 0, 0) })
	want := []string{"a1 NOOP\r\n", "a2 NOOP\r\n", "zzzzzzzzzz"}

	pr, pw := io.Pipe()
	r := newInflater(pr)
	for i, p := range pieces {
		go pw.Write(p)
		readWithin(t, r, want[i])
	}
	// A final empty stored block ends the stream.
	w.bits(1, 3)
	go func() {
		pw.Write(append(w.flushAll()[sent:], 0, 0, 0xff, 0xff))
		pw.Close()
	}()
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("after the final block: %d, %v; want EOF", n, err)
	}
}

// TestInflateReturnsBeforeBlocking: with output decoded, Read returns it
// rather than reading more, even within a block.
func TestInflateReturnsBeforeBlocking(t *testing.T) {
	var w bitWriter
	w.bits(0b010, 3)
	for _, c := range []byte("hello, world") {
		w.fixedSym(int(c))
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(w.whole()) // the block is unfinished
	r := newInflater(pr)
	readWithin(t, r, "hello, worl") // the last symbol lacks bits
}

// canonical returns the canonical Huffman codes of lens (RFC 1951 §3.2.2).
func canonical(lens []uint8) []uint32 {
	var count, next [16]uint32
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	code := uint32(0)
	for b := 1; b < 16; b++ {
		code = (code + count[b-1]) << 1
		next[b] = code
	}
	codes := make([]uint32, len(lens))
	for i, l := range lens {
		if l > 0 {
			codes[i] = next[l]
			next[l]++
		}
	}
	return codes
}

// dynHeader writes a dynamic block header (BFINAL 1) whose code length
// code gives 0..15 five bits, 16 two, 17 and 18 three; seq is the code
// length sequence as (symbol, extra) pairs, nlit and ndist the counts.
func (w *bitWriter) dynHeader(nlit, ndist int, seq [][2]uint32) {
	w.bits(0b101, 3)
	w.bits(uint32(nlit-257), 5)
	w.bits(uint32(ndist-1), 5)
	w.bits(19-4, 4)
	var cl [19]uint8
	for i := range 16 {
		cl[i] = 5
	}
	cl[16], cl[17], cl[18] = 2, 3, 3
	for _, s := range []int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15} {
		w.bits(uint32(cl[s]), 3)
	}
	codes := canonical(cl[:])
	extra := map[uint32]uint{16: 2, 17: 3, 18: 7}
	for _, s := range seq {
		w.code(codes[s[0]], uint(cl[s[0]]))
		w.bits(s[1], extra[s[0]])
	}
}

// lensSeq turns code lengths into a plain sequence (no repeats).
func lensSeq(lens []uint8) [][2]uint32 {
	seq := make([][2]uint32, len(lens))
	for i, l := range lens {
		seq[i] = [2]uint32{uint32(l), 0}
	}
	return seq
}

// TestInflateDynamicSingleDistance: RFC 1951 §3.2.7 allows one distance
// code of one bit; a match using it decodes like compress/flate does.
func TestInflateDynamicSingleDistance(t *testing.T) {
	lit := make([]uint8, 258)
	lit['a'], lit[256], lit[257] = 2, 1, 2
	var w bitWriter
	w.dynHeader(258, 1, lensSeq(append(lit, 1)))
	codes := canonical(lit)
	w.code(codes['a'], 2)
	w.code(codes[257], 2) // length 3
	w.code(0, 1)          // distance code 0: distance 1
	w.code(codes[256], 1)
	data := w.flushAll()
	got, err := inflateAll(data, 100, false)
	std, stdErr := stdInflate(data)
	if err != nil || string(got) != "aaaa" || stdErr != nil || string(std) != "aaaa" {
		t.Fatalf("ours %q %v, compress/flate %q %v; want aaaa", got, err, std, stdErr)
	}
}

// TestInflateCorrupt: invalid streams are errors (corruptError, or
// io.ErrUnexpectedEOF for truncation), for compress/flate too.
func TestInflateCorrupt(t *testing.T) {
	fixed := func(body func(w *bitWriter)) []byte {
		var w bitWriter
		w.bits(0b011, 3)
		body(&w)
		w.fixedSym(256)
		return w.flushAll()
	}
	dyn := func(nlit, ndist int, seq [][2]uint32) []byte {
		var w bitWriter
		w.dynHeader(nlit, ndist, seq)
		w.bits(0, 16) // enough bits that only the header can be wrong
		return w.flushAll()
	}
	okLit := make([]uint8, 257)
	for i := range okLit {
		okLit[i] = 9 // 257 of 512: incomplete
	}
	overLit := make([]uint8, 257)
	for i := range overLit {
		overLit[i] = 8 // 257 codes of 8 bits: over-subscribed
	}
	twoLit := make([]uint8, 257)
	twoLit['a'], twoLit[256] = 1, 1
	cases := []struct {
		name string
		data []byte
	}{
		{"reserved block type", []byte{0x07}},
		{"stored length complement", []byte{0x01, 0x05, 0x00, 0x00, 0x00, 'x', 'x', 'x', 'x', 'x'}},
		{"distance with no output", fixed(func(w *bitWriter) { w.fixedMatch(257, 0, 0, 0, 0, 0) })},
		{"distance past the output", fixed(func(w *bitWriter) {
			w.fixedSym('a')
			w.fixedMatch(257, 0, 0, 1, 0, 0) // distance 2
		})},
		{"literal/length code 286", fixed(func(w *bitWriter) { w.fixedSym(286) })},
		{"literal/length code 287", fixed(func(w *bitWriter) { w.fixedSym(287) })},
		{"distance code 30", fixed(func(w *bitWriter) {
			w.fixedSym('a')
			w.fixedMatch(257, 0, 0, 30, 0, 0)
		})},
		{"too many literal codes", dyn(287, 1, nil)},
		{"too many distance codes", dyn(257, 31, nil)},
		{"repeat first", dyn(257, 1, [][2]uint32{{16, 0}})},
		{"repeat past the end", dyn(257, 1, append(lensSeq(twoLit[:250]), [2]uint32{18, 127}))},
		{"incomplete literal code", dyn(257, 1, lensSeq(append(okLit, 1)))},
		{"over-subscribed literal code", dyn(257, 1, lensSeq(append(overLit, 1)))},
		{"no end-of-block code", dyn(257, 1, lensSeq(append(append([]uint8{1, 1}, make([]uint8, 255)...), 1)))},
		{"incomplete distance code", dyn(257, 3, lensSeq(append(twoLit, 2, 2, 0)))},
		{"over-subscribed distance code", dyn(257, 3, lensSeq(append(twoLit, 1, 1, 1)))},
		{"code length code over-subscribed", clenOnly(1, 1, 1, 1)},
		{"code length code incomplete", clenOnly(0, 0, 0, 2)},
		{"code length code single one-bit code", clenOnly(0, 0, 0, 1)},
	}
	for _, c := range cases {
		got, err := inflateAll(c.data, 100, false)
		var ce corruptError
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %q, %v; want a corrupt input error", c.name, got, err)
		}
		if _, err := stdInflate(c.data); err == nil {
			t.Errorf("%s: compress/flate accepts it, the test input is wrong", c.name)
		}
	}
	// Truncation anywhere in a valid stream.
	z := deflate(t, []byte(strings.Repeat("a0 UID FETCH 1:* FLAGS\r\n", 50)+"tail"), 6, true, rand.New(rand.NewPCG(5, 6)))
	for n := range len(z) {
		if _, err := inflateAll(z[:n], 64, false); err != io.ErrUnexpectedEOF {
			t.Fatalf("truncated at %d of %d: %v; want unexpected EOF", n, len(z), err)
		}
	}
}

// clenOnly is a dynamic header with the code length code lengths of
// symbols 16, 17, 18 and 0 (HCLEN 0), followed by zero bits.
func clenOnly(l16, l17, l18, l0 uint32) []byte {
	var w bitWriter
	w.bits(0b101, 3)
	w.bits(0, 5+5+4)
	for _, l := range []uint32{l16, l17, l18, l0} {
		w.bits(l, 3)
	}
	w.bits(0, 32)
	return w.flushAll()
}

// compareWithStd decodes data both ways: both succeed with the same
// bytes, or both fail with one output a prefix of the other.
func compareWithStd(t *testing.T, data []byte) {
	got, err := inflateAll(data, 1000, false)
	std, stdErr := stdInflate(data)
	switch {
	case err == nil && stdErr == nil:
		if !bytes.Equal(got, std) {
			t.Fatalf("outputs differ: ours %d bytes, compress/flate %d", len(got), len(std))
		}
	case (err == nil) != (stdErr == nil):
		t.Fatalf("ours: %v, compress/flate: %v", err, stdErr)
	default:
		n := min(len(got), len(std))
		if !bytes.Equal(got[:n], std[:n]) {
			t.Fatalf("outputs before the error differ (ours %v, compress/flate %v)", err, stdErr)
		}
	}
}

// TestInflateMutated: compressed streams with random bytes changed agree
// with compress/flate (same output or both an error).
func TestInflateMutated(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	inputs := testInputs(rng)
	var streams [][]byte
	for _, k := range []string{"text", "runs", "one"} {
		for _, level := range []int{flate.HuffmanOnly, 1, 6, 9} {
			d := inputs[k]
			streams = append(streams, deflate(t, d[:min(len(d), 3000)], level, true, rng))
		}
	}
	for range 3000 {
		z := bytes.Clone(streams[rng.IntN(len(streams))])
		for range 1 + rng.IntN(3) {
			z[rng.IntN(len(z))] ^= byte(1 + rng.IntN(255))
		}
		compareWithStd(t, z)
	}
}

// FuzzInflate: on any complete input ours and compress/flate agree; ours
// never panics or hangs.
func FuzzInflate(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, level := range []int{flate.HuffmanOnly, 0, 1, 6, 9} {
		f.Add(deflate(f, []byte(strings.Repeat("a1 UID FETCH 1:* (FLAGS)\r\n", 20)), level, true, rng))
	}
	for _, c := range mbsyncStream {
		f.Add(mustHex(f, c.hex))
	}
	f.Add(clenOnly(0, 0, 0, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		compareWithStd(t, data)
	})
}

// BenchmarkInflate compares decode speed with compress/flate on IMAP-like
// text and on a stream of small flushed commands.
func BenchmarkInflate(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	text := testInputs(rng)["text"]
	var cmds bytes.Buffer
	w, _ := flate.NewWriter(&cmds, 6)
	var plain int
	for i := range 2000 {
		p := fmt.Appendf(nil, "a%d UID FETCH %d:* (UID FLAGS)\r\n", i, rng.IntN(5000))
		plain += len(p)
		w.Write(p)
		w.Flush()
	}
	w.Close()
	for _, in := range []struct {
		name  string
		z     []byte
		plain int
	}{{"text", deflate(b, text, 6, false, rng), len(text)}, {"commands", cmds.Bytes(), plain}} {
		for _, dec := range []struct {
			name string
			new  func(io.Reader) io.Reader
		}{{"ours", newInflater}, {"stdlib", func(r io.Reader) io.Reader { return flate.NewReader(r) }}} {
			b.Run(in.name+"/"+dec.name, func(b *testing.B) {
				b.SetBytes(int64(in.plain))
				b.ReportAllocs()
				buf := make([]byte, 4096)
				for b.Loop() {
					r := dec.new(bytes.NewReader(in.z))
					for {
						if _, err := r.Read(buf); err != nil {
							if err != io.EOF {
								b.Fatal(err)
							}
							break
						}
					}
				}
			})
		}
	}
}
