package imapd

import (
	"io"
)

// A streaming raw-deflate (RFC 1951) decoder for the client->server side of
// COMPRESS=DEFLATE (RFC 4978).
//
// Why not compress/flate: its reader hands decoded bytes out only when its
// window fills, at a stored block or at the final block, and otherwise
// keeps reading. Clients that flush with zlib's Z_PARTIAL_FLUSH (mbsync)
// end a command with the end-of-block code followed by an empty fixed
// block whose last bits stay in the client's zlib until its next write;
// compress/flate then blocks on those bits and never returns the command.
// This decoder returns output as soon as it has some and the input it
// holds is used up: it blocks on its source only when it has nothing to
// hand out.
//
// Memory: the 32 KiB window (RFC 1951 §3.2: distances reach 32768 back),
// which doubles as the output buffer, a 4 KiB input buffer and the two
// code tables (at most a few KiB). There is no recursion.

const (
	inflateWindow = 1 << 15 // RFC 1951 §3.2: maximum distance
	inflateInBuf  = 4096
	maxCodeLen    = 15 // RFC 1951 §3.2.2
	primaryBits   = 9  // first-level table index width
	numLitLen     = 286
	numDist       = 30
)

// corruptError reports an invalid deflate stream.
type corruptError string

func (e corruptError) Error() string { return "inflate: " + string(e) }

// Block decoding states.
const (
	stHeader = iota // before a block header
	stStored        // inside a stored block (storedLeft bytes to go)
	stCoded         // inside a fixed or dynamic Huffman block
	stDone          // after the final block
)

// lengthCode returns the base length and extra bit count of length code
// 257+i (RFC 1951 §3.2.5): codes come in groups of four whose extra bits
// grow by one per group from the third group on; 285 is exactly 258.
func lengthCode(i uint32) (base, extra uint32) {
	switch {
	case i < 8:
		return 3 + i, 0
	case i == 28:
		return 258, 0
	}
	e := i>>2 - 1
	return (4+i&3)<<e + 3, e
}

// distCode returns the base distance and extra bit count of distance code
// i < 30 (RFC 1951 §3.2.5): pairs of codes, extra bits growing by one per
// pair from the third pair on.
func distCode(i uint32) (base, extra uint32) {
	if i < 4 {
		return 1 + i, 0
	}
	e := i>>1 - 1
	return (2+i&1)<<e + 1, e
}

// inflater decodes a raw deflate stream read from src.
type inflater struct {
	src    io.Reader
	srcErr error // error the source returned with its last bytes
	in     [inflateInBuf]byte
	ip, ie int // unread input is in[ip:ie]

	bits  uint64 // bit buffer, next bit in the lowest position
	nbits uint

	// win holds the history and the output not yet read: win[rp:wp] is
	// unread. When wp reaches the end the decoder stops until the reader
	// has caught up, then both wrap to 0 and full records that the whole
	// window is history.
	win    [inflateWindow]byte
	rp, wp int
	full   bool

	state      int
	final      bool // the current block is the last one
	storedLeft int
	copyLen    int // match bytes still to copy
	copyDist   int
	lit, dist  huffTable
	clen       huffTable // code length code of the current dynamic header
	fixed      bool      // lit and dist hold the fixed codes
	lens       [numLitLen + numDist]uint8
	err        error
}

// newInflater returns a reader of the data deflated in r. It reads r in
// chunks of up to 4 KiB, one Read call at a time, and only when it has no
// decoded bytes to return.
func newInflater(r io.Reader) io.Reader {
	return &inflater{src: r}
}

// Read returns decoded bytes as soon as there are any. After the final
// block it returns io.EOF; a truncated stream gives io.ErrUnexpectedEOF
// and an invalid one a corruptError, each after the bytes decoded before.
func (f *inflater) Read(p []byte) (int, error) {
	for {
		if f.rp < f.wp {
			n := copy(p, f.win[f.rp:f.wp])
			f.rp += n
			return n, nil
		}
		if f.err != nil {
			return 0, f.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if f.wp == len(f.win) {
			f.rp, f.wp, f.full = 0, 0, true
		}
		f.err = f.decode()
	}
}

// pending reports whether decoded bytes wait to be read.
func (f *inflater) pending() bool { return f.rp < f.wp }

// decode makes progress until it has output and needs more input, the
// window is full of unread output, or the stream ends. A nil error means
// "return what you have"; io.EOF means the final block is done.
func (f *inflater) decode() error {
	for {
		var err error
		switch f.state {
		case stDone:
			return io.EOF
		case stHeader:
			// Hand out what we have before blocking on a header: with
			// Z_PARTIAL_FLUSH the next header is still in the client.
			if f.pending() {
				return nil
			}
			err = f.header()
		case stStored:
			err = f.storedData()
		case stCoded:
			err = f.codedData()
		}
		if err != nil || (f.pending() && f.state != stHeader && f.state != stDone) {
			// Stopped mid-block: either an error or it needs input
			// (or window space) while output waits.
			return err
		}
	}
}

// fill moves buffered input into the bit buffer without blocking.
func (f *inflater) fill() {
	for f.nbits <= 56 && f.ip < f.ie {
		f.bits |= uint64(f.in[f.ip]) << f.nbits
		f.ip++
		f.nbits += 8
	}
}

// more adds at least one byte to the bit buffer, reading the source only
// when no decoded output is waiting. It reports false when the caller
// should stop so that Read can return the waiting output first.
func (f *inflater) more() (bool, error) {
	if f.ip == f.ie {
		if f.pending() {
			return false, nil
		}
		if err := f.readSrc(); err != nil {
			return false, err
		}
	}
	f.fill()
	return true, nil
}

// readSrc refills the input buffer with one Read of the source (which a
// network connection satisfies with whatever has arrived).
func (f *inflater) readSrc() error {
	if f.srcErr != nil {
		return f.srcErr
	}
	for range 100 {
		n, err := f.src.Read(f.in[:])
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the final block has not been seen
		}
		if n > 0 {
			f.ip, f.ie = 0, n
			f.srcErr = err
			return nil
		}
		if err != nil {
			f.srcErr = err
			return err
		}
	}
	return io.ErrNoProgress
}

// need blocks until the bit buffer holds n bits (n <= 32). Only headers
// use it, and headers are read only when no output waits.
func (f *inflater) need(n uint) error {
	for f.nbits < n {
		if f.ip == f.ie {
			if err := f.readSrc(); err != nil {
				return err
			}
		}
		f.fill()
	}
	return nil
}

// take removes and returns the next n bits (n <= 32, present).
func (f *inflater) take(n uint) uint32 {
	v := uint32(f.bits & (1<<n - 1))
	f.bits >>= n
	f.nbits -= n
	return v
}

// header reads a block header (RFC 1951 §3.2.3) and, for stored and
// dynamic blocks, what follows it up to the data.
func (f *inflater) header() error {
	if err := f.need(3); err != nil {
		return err
	}
	hdr := f.take(3)
	f.final = hdr&1 == 1
	switch hdr >> 1 {
	case 0:
		return f.storedHeader()
	case 1:
		if !f.fixed {
			f.fixedTables()
			f.fixed = true
		}
	case 2:
		f.fixed = false
		if err := f.dynamicTables(); err != nil {
			return err
		}
	default:
		return corruptError("reserved block type")
	}
	f.state = stCoded
	return nil
}

// storedHeader skips to the byte boundary and checks LEN against its one's
// complement NLEN (RFC 1951 §3.2.4).
func (f *inflater) storedHeader() error {
	f.take(f.nbits % 8)
	if err := f.need(32); err != nil {
		return err
	}
	v := f.take(32)
	if uint16(v) != ^uint16(v>>16) {
		return corruptError("stored block length does not match its complement")
	}
	f.storedLeft = int(uint16(v))
	f.state = stStored
	f.endBlockIfEmpty()
	return nil
}

// endBlockIfEmpty moves on once a stored block has been copied.
func (f *inflater) endBlockIfEmpty() {
	if f.storedLeft == 0 {
		f.endBlock()
	}
}

func (f *inflater) endBlock() {
	if f.final {
		f.state = stDone
	} else {
		f.state = stHeader
	}
}

// storedData copies a stored block's bytes into the window: first whole
// bytes left in the bit buffer (the header is byte aligned, so they are
// all whole), then straight from the input buffer.
func (f *inflater) storedData() error {
	for f.storedLeft > 0 && f.wp < len(f.win) {
		if f.nbits >= 8 {
			f.win[f.wp] = byte(f.take(8))
			f.wp++
			f.storedLeft--
			continue
		}
		if f.ip == f.ie {
			ok, err := f.more()
			if !ok {
				return err
			}
			continue
		}
		n := copy(f.win[f.wp:min(len(f.win), f.wp+f.storedLeft)], f.in[f.ip:f.ie])
		f.ip += n
		f.wp += n
		f.storedLeft -= n
	}
	f.endBlockIfEmpty()
	return nil
}

// codedData decodes the symbols of a Huffman-coded block (RFC 1951
// §3.2.5). A symbol and, for a match, its extra bits, distance code and
// distance extra bits (at most 48 bits) are taken from the bit buffer
// together or not at all, so that stopping for input never leaves a
// half-decoded match behind; only the copy of a match may be split.
func (f *inflater) codedData() error {
	for {
		if f.copyLen > 0 {
			f.copyMatch()
		}
		if f.wp == len(f.win) {
			return nil // window full of unread output
		}
		if f.nbits < 48 {
			f.fill()
		}
		used, err := f.symbol()
		if err != nil {
			return err
		}
		if used == 0 { // not enough bits for the whole symbol
			if ok, err := f.more(); !ok {
				return err
			}
			continue
		}
		if f.state != stCoded {
			return nil // end of block
		}
	}
}

// symbol decodes one literal, match or end-of-block from the bit buffer
// and returns the number of bits it used, 0 if the buffer holds too few.
func (f *inflater) symbol() (uint, error) {
	b, nb := f.bits, f.nbits
	sym, n, err := f.lit.lookup(b)
	if err != nil || n > nb {
		return 0, err
	}
	switch {
	case sym < 256:
		f.win[f.wp] = byte(sym)
		f.wp++
		f.take(n)
		return n, nil
	case sym == 256:
		f.take(n)
		f.endBlock()
		return n, nil
	case sym >= 257+29:
		return 0, corruptError("invalid literal/length code") // 286, 287
	}
	base, extra := lengthCode(sym - 257)
	used := n + uint(extra)
	if used > nb {
		return 0, nil
	}
	length := base + uint32(b>>n)&(1<<extra-1)
	dsym, dn, err := f.dist.lookup(b >> used)
	if err != nil || used+dn > nb {
		return 0, err
	}
	if dsym >= numDist {
		return 0, corruptError("invalid distance code") // 30, 31
	}
	dbase, dextra := distCode(dsym)
	dist := dbase + uint32(b>>(used+dn))&(1<<dextra-1)
	used += dn + uint(dextra)
	if used > nb {
		return 0, nil
	}
	if int(dist) > f.history() {
		return 0, corruptError("distance too far back")
	}
	f.take(used)
	f.copyLen, f.copyDist = int(length), int(dist)
	return used, nil
}

// history is how far back a distance may reach: everything output so far,
// up to the window size.
func (f *inflater) history() int {
	if f.full {
		return len(f.win)
	}
	return f.wp
}

// copyMatch copies as much of the current match as fits before the end of
// the window. The source may overlap the destination (distance shorter
// than length, RFC 1951 §3.2.3), which repeats the last copyDist bytes.
func (f *inflater) copyMatch() {
	for f.copyLen > 0 && f.wp < len(f.win) {
		src := f.wp - f.copyDist
		if src >= 0 {
			// win[src:wp] grows as it is copied, so each copy doubles
			// the run of bytes available to the next.
			end := min(f.wp+f.copyLen, len(f.win))
			f.copyLen -= end - f.wp
			for f.wp < end {
				f.wp += copy(f.win[f.wp:end], f.win[src:f.wp])
			}
			continue
		}
		// The source is in the older part, past wp: win[src:] has not been
		// overwritten yet, and a forward copy reads each byte before
		// any write reaches it.
		src += len(f.win)
		n := min(f.copyLen, len(f.win)-f.wp, len(f.win)-src)
		copy(f.win[f.wp:f.wp+n], f.win[src:src+n])
		f.wp += n
		f.copyLen -= n
	}
}

// fixedTables sets the codes of a fixed-Huffman block (RFC 1951 §3.2.6).
// Distance codes 30 and 31 are part of the code but invalid in data.
func (f *inflater) fixedTables() {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	_ = f.lit.build(l[:], false)
	var d [32]uint8
	for i := range d {
		d[i] = 5
	}
	_ = f.dist.build(d[:], false)
}

// dynamicTables reads the code definitions of a dynamic block (RFC 1951
// §3.2.7).
func (f *inflater) dynamicTables() error {
	if err := f.need(14); err != nil {
		return err
	}
	nlit := int(f.take(5)) + 257
	ndist := int(f.take(5)) + 1
	nclen := int(f.take(4)) + 4
	if nlit > numLitLen || ndist > numDist {
		return corruptError("too many length or distance codes")
	}
	order := [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
	var cl [19]uint8
	for _, sym := range order[:nclen] {
		if err := f.need(3); err != nil {
			return err
		}
		cl[sym] = uint8(f.take(3))
	}
	if err := f.clen.build(cl[:], true); err != nil {
		return err
	}
	lens := f.lens[:nlit+ndist]
	if err := f.readLengths(&f.clen, lens); err != nil {
		return err
	}
	if lens[256] == 0 {
		return corruptError("no end-of-block code")
	}
	if err := f.lit.build(lens[:nlit], false); err != nil {
		return err
	}
	return f.dist.build(lens[nlit:], false)
}

// readLengths decodes the run-length coded code lengths of the literal/
// length and distance codes, one sequence across both (RFC 1951 §3.2.7).
func (f *inflater) readLengths(codes *huffTable, lens []uint8) error {
	for i := 0; i < len(lens); {
		sym, err := f.headerSymbol(codes)
		if err != nil {
			return err
		}
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep, val uint32
		switch sym {
		case 16:
			if i == 0 {
				return corruptError("repeat with no previous length")
			}
			rep, val = 3, uint32(lens[i-1])
			err = f.need(2)
			if err == nil {
				rep += f.take(2)
			}
		case 17:
			rep = 3
			if err = f.need(3); err == nil {
				rep += f.take(3)
			}
		default: // 18
			rep = 11
			if err = f.need(7); err == nil {
				rep += f.take(7)
			}
		}
		if err != nil {
			return err
		}
		if i+int(rep) > len(lens) {
			return corruptError("code lengths repeat past the end")
		}
		for range rep {
			lens[i] = uint8(val)
			i++
		}
	}
	return nil
}

// headerSymbol decodes one code length code, blocking for input.
func (f *inflater) headerSymbol(h *huffTable) (uint32, error) {
	for {
		sym, n, err := h.lookup(f.bits)
		if err != nil {
			return 0, err
		}
		if n <= f.nbits {
			f.take(n)
			return sym, nil
		}
		if err := f.need(f.nbits + 1); err != nil {
			return 0, err
		}
	}
}

// huffTable decodes a canonical Huffman code (RFC 1951 §3.2.2). Codes
// arrive most significant bit first, so the table is indexed by the next
// bits in reverse. A code of up to primaryBits bits fills every entry of
// the first level whose low bits are the code; longer codes go through a
// link to a second-level table sized for the longest code under that
// prefix. Entries: value<<16 | subBits<<8 | link | length; length 0
// without link marks bits that start no code.
type huffTable struct {
	t     []uint32
	pbits uint
}

const huffLink = 1 << 5

// build makes the table for the code lengths lens (0 = unused symbol).
// Like zlib, it rejects over-subscribed sets and incomplete ones, except
// for an empty set and a single code of one bit (RFC 1951 allows one
// distance code; the error then comes if a missing code is met in data).
// strict (the code length code) allows no incomplete set but the empty one.
func (h *huffTable) build(lens []uint8, strict bool) error {
	var count [maxCodeLen + 1]int
	maxLen := uint(0)
	for _, l := range lens {
		count[l]++
		if l > 0 {
			maxLen = max(maxLen, uint(l))
		}
	}
	count[0] = 0
	left := 1
	var next [maxCodeLen + 1]uint32
	code := uint32(0)
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return corruptError("over-subscribed code lengths")
		}
		code = (code + uint32(count[l-1])) << 1
		next[l] = code
	}
	if left > 0 && maxLen > 0 && (strict || maxLen != 1) {
		return corruptError("incomplete code lengths")
	}
	h.pbits = max(1, min(primaryBits, maxLen))
	size := 1 << h.pbits
	h.t = append(h.t[:0], make([]uint32, size)...) // zeroed, reuses capacity
	var subMax [1 << primaryBits]uint8
	var codes [288]uint16 // reversed codes by symbol
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		c := reverseBits(next[l], uint(l))
		next[l]++
		codes[sym] = uint16(c)
		if uint(l) <= h.pbits {
			for i := int(c); i < size; i += 1 << l {
				h.t[i] = uint32(sym)<<16 | uint32(l)
			}
			continue
		}
		p := int(c) & (size - 1)
		subMax[p] = max(subMax[p], l)
	}
	h.buildSub(lens, codes[:], &subMax)
	return nil
}

// buildSub adds the second-level tables for codes longer than pbits.
func (h *huffTable) buildSub(lens []uint8, codes []uint16, subMax *[1 << primaryBits]uint8) {
	size := 1 << h.pbits
	for p := range size {
		if subMax[p] == 0 {
			continue
		}
		sb := uint(subMax[p]) - h.pbits
		h.t[p] = uint32(len(h.t))<<16 | uint32(sb)<<8 | huffLink
		h.t = append(h.t, make([]uint32, 1<<sb)...)
	}
	for sym, l := range lens {
		if uint(l) <= h.pbits {
			continue
		}
		c := int(codes[sym])
		link := h.t[c&(size-1)]
		off, sb := int(link>>16), uint(link>>8&0xf)
		for i := c >> h.pbits; i < 1<<sb; i += 1 << (uint(l) - h.pbits) {
			h.t[off+i] = uint32(sym)<<16 | uint32(l)
		}
	}
}

// lookup decodes the code at the low end of b, which may hold fewer valid
// bits than the code needs (the rest zero): it returns the code's length,
// which the caller compares with the bits it really has. Bits that start
// no code are an error; in the only incomplete codes allowed (see build)
// zero padding never leads to such an entry, so the error is real.
func (h *huffTable) lookup(b uint64) (sym uint32, n uint, err error) {
	e := h.t[b&(1<<h.pbits-1)]
	if e&huffLink != 0 {
		e = h.t[e>>16+uint32(b>>h.pbits)&(1<<(e>>8&0xf)-1)]
	}
	if e&0x1f == 0 {
		return 0, 0, corruptError("invalid code")
	}
	return e >> 16, uint(e & 0x1f), nil
}

// reverseBits reverses the low n bits of c.
func reverseBits(c uint32, n uint) uint32 {
	r := uint32(0)
	for range n {
		r = r<<1 | c&1
		c >>= 1
	}
	return r
}
