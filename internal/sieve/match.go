package sieve

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Comparators (RFC 4790 via RFC 5228 §2.7.3) and match types
// (RFC 5228 §2.7.1, RFC 5231, draft-ietf-sieve-regex).

type comparator int

const (
	cmpCasemap comparator = iota // i;ascii-casemap, the default
	cmpOctet                     // i;octet
	cmpNumeric                   // i;ascii-numeric
)

func parseComparator(name string) (comparator, bool) {
	switch strings.ToLower(name) {
	case "i;ascii-casemap":
		return cmpCasemap, true
	case "i;octet":
		return cmpOctet, true
	case "i;ascii-numeric":
		return cmpNumeric, true
	}
	return 0, false
}

type matchType int

const (
	mtIs matchType = iota
	mtContains
	mtMatches
	mtCount
	mtValue
	mtRegex
)

type relOp int

const (
	relGT relOp = iota
	relGE
	relLT
	relLE
	relEQ
	relNE
)

func parseRel(s string) (relOp, bool) {
	switch strings.ToLower(s) {
	case "gt":
		return relGT, true
	case "ge":
		return relGE, true
	case "lt":
		return relLT, true
	case "le":
		return relLE, true
	case "eq":
		return relEQ, true
	case "ne":
		return relNE, true
	}
	return 0, false
}

func (r relOp) holds(c int) bool {
	switch r {
	case relGT:
		return c > 0
	case relGE:
		return c >= 0
	case relLT:
		return c < 0
	case relLE:
		return c <= 0
	case relEQ:
		return c == 0
	}
	return c != 0
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// foldASCII lower-cases ASCII letters only (i;ascii-casemap).
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

func (c comparator) equal(a, b string) bool {
	switch c {
	case cmpOctet:
		return a == b
	case cmpNumeric:
		return c.compare(a, b) == 0
	}
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func (c comparator) contains(s, sub string) bool {
	if c == cmpOctet {
		return strings.Contains(s, sub)
	}
	return indexFold(s, sub) >= 0
}

// indexFold is strings.Index under ASCII case folding.
func indexFold(s, sub string) int {
	n := len(sub)
	if n == 0 {
		return 0
	}
	first := lowerASCII(sub[0])
	for i := 0; i+n <= len(s); i++ {
		if lowerASCII(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lowerASCII(s[i+j]) == lowerASCII(sub[j]) {
			j++
		}
		if j == n {
			return i
		}
	}
	return -1
}

// compare orders a and b: bytes for i;octet, folded bytes for
// i;ascii-casemap, and for i;ascii-numeric the leading digits as a
// number, a string without them counting as positive infinity
// (RFC 4790 §9.1).
func (c comparator) compare(a, b string) int {
	switch c {
	case cmpOctet:
		return strings.Compare(a, b)
	case cmpCasemap:
		return strings.Compare(foldASCII(a), foldASCII(b))
	}
	na, oka := leadingDigits(a)
	nb, okb := leadingDigits(b)
	switch {
	case !oka && !okb:
		return 0
	case !oka:
		return 1
	case !okb:
		return -1
	}
	if len(na) != len(nb) {
		if len(na) < len(nb) {
			return -1
		}
		return 1
	}
	return strings.Compare(na, nb)
}

// leadingDigits returns the leading digits of s without leading zeros.
func leadingDigits(s string) (string, bool) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 {
		return "", false
	}
	d := strings.TrimLeft(s[:i], "0")
	return d, true
}

// globMatch matches s against a :matches pattern (RFC 5228 §2.7.1):
// "*" is any run of characters, "?" one character, "\" quotes the
// next. When caps is not nil it receives the whole string and what each
// wildcard matched, each "*" as short as possible, left first
// (RFC 5229 §3.2). Segments between stars are placed at their earliest
// position, which finds a match whenever there is one, in O(len(s) *
// len(pattern)).
func (c comparator) globMatch(s, pattern string, caps *[]string) bool {
	fold := c != cmpOctet
	segs := splitGlob(pattern)
	var wild []string
	if caps != nil {
		wild = make([]string, 0, 8)
	}
	pos := 0
	// The first segment is anchored at the start.
	n, ok := matchSeg(s, pos, segs[0], fold, &wild, caps != nil)
	if !ok {
		return false
	}
	pos = n
	if len(segs) == 1 {
		if pos != len(s) {
			return false
		}
		if caps != nil {
			*caps = append([]string{s}, wild...)
		}
		return true
	}
	for k := 1; k < len(segs)-1; k++ {
		found := false
		for start := pos; start <= len(s); start++ {
			if start < len(s) && !utf8.RuneStart(s[start]) {
				continue
			}
			mark := len(wild)
			if caps != nil {
				wild = append(wild, s[pos:start])
			}
			if end, ok := matchSeg(s, start, segs[k], fold, &wild, caps != nil); ok {
				pos = end
				found = true
				break
			}
			wild = wild[:mark]
		}
		if !found {
			return false
		}
	}
	// The last segment is anchored at the end.
	last := segs[len(segs)-1]
	start := len(s)
	for i := 0; i < last.runes; i++ {
		if start <= pos {
			return false
		}
		_, size := utf8.DecodeLastRuneInString(s[:start])
		start -= size
	}
	if start < pos {
		return false
	}
	if caps != nil {
		wild = append(wild, s[pos:start])
	}
	if _, ok := matchSeg(s, start, last, fold, &wild, caps != nil); !ok {
		return false
	}
	if caps != nil {
		*caps = append([]string{s}, wild...)
	}
	return true
}

// globSeg is a run of literal characters and "?" between stars.
type globSeg struct {
	items []globItem
	runes int // characters it matches
}

type globItem struct {
	lit string // a literal run, "" for "?"
	any bool
}

func splitGlob(p string) []globSeg {
	segs := []globSeg{{}}
	cur := &segs[0]
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			cur.items = append(cur.items, globItem{lit: lit.String()})
			cur.runes += utf8.RuneCountInString(lit.String())
			lit.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 < len(p) {
				i++
				lit.WriteByte(p[i])
			}
		case '*':
			flush()
			segs = append(segs, globSeg{})
			cur = &segs[len(segs)-1]
		case '?':
			flush()
			cur.items = append(cur.items, globItem{any: true})
			cur.runes++
		default:
			lit.WriteByte(p[i])
		}
	}
	flush()
	return segs
}

// matchSeg matches seg at s[pos:], returning the end.
func matchSeg(s string, pos int, seg globSeg, fold bool, wild *[]string, capture bool) (int, bool) {
	mark := len(*wild)
	for _, it := range seg.items {
		if it.any {
			if pos >= len(s) {
				*wild = (*wild)[:mark]
				return 0, false
			}
			_, size := utf8.DecodeRuneInString(s[pos:])
			if capture {
				*wild = append(*wild, s[pos:pos+size])
			}
			pos += size
			continue
		}
		if len(s)-pos < len(it.lit) {
			*wild = (*wild)[:mark]
			return 0, false
		}
		part := s[pos : pos+len(it.lit)]
		if fold && !cmpCasemap.equal(part, it.lit) || !fold && part != it.lit {
			*wild = (*wild)[:mark]
			return 0, false
		}
		pos += len(it.lit)
	}
	return pos, true
}

// countOf formats a count for :count comparison.
func countOf(n int) string { return strconv.Itoa(n) }

// quoteWildcard escapes *, ? and \ (RFC 5229 §4.1 :quotewildcard).
func quoteWildcard(s string) string {
	if !strings.ContainsAny(s, "*?\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || s[i] == '?' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
