package imapd

import (
	"sort"
	"strconv"
	"strings"
)

// seqRange is lo:hi of a sequence set; 0 stands for "*", the largest number
// in use (RFC 9051 §9 seq-number).
type seqRange struct{ lo, hi uint32 }

// seqSet is a parsed sequence-set, or "$" (RFC 5182 search result).
type seqSet struct {
	ranges []seqRange
	saved  bool // "$"
}

// seqSet parses sequence-set / "$".
func (p *parser) seqSet() seqSet {
	if p.peek() == '$' {
		p.next()
		return seqSet{saved: true}
	}
	var s seqSet
	for {
		if len(s.ranges) >= maxSeqRanges {
			p.fail("sequence set too long")
		}
		r := seqRange{lo: p.seqNumber()}
		r.hi = r.lo
		if p.peek() == ':' {
			p.next()
			r.hi = p.seqNumber()
		}
		s.ranges = append(s.ranges, r)
		if p.peek() != ',' {
			return s
		}
		p.next()
	}
}

func (p *parser) seqNumber() uint32 {
	if p.peek() == '*' {
		p.next()
		return 0
	}
	n := p.number()
	if n == 0 {
		p.fail("sequence number 0")
	}
	return n
}

// contains reports whether n is in the set, "*" standing for max
// (RFC 9051 §9: "*" is the largest number in use, and 3:* equals *:3).
func (s seqSet) contains(n, max uint32) bool {
	for _, r := range s.ranges {
		lo, hi := r.bounds(max)
		if n >= lo && n <= hi {
			return true
		}
	}
	return false
}

func (r seqRange) bounds(max uint32) (lo, hi uint32) {
	lo, hi = r.lo, r.hi
	if lo == 0 {
		lo = max
	}
	if hi == 0 {
		hi = max
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

// uidBounds returns the smallest and largest UID the set can name, for one
// range query to the store.
func (s seqSet) uidBounds(max uint32) (lo, hi uint32) {
	lo = ^uint32(0)
	for _, r := range s.ranges {
		a, b := r.bounds(max)
		lo = min(lo, a)
		hi = max32(hi, b)
	}
	return lo, hi
}

func max32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

// formatSet writes ascending numbers in compact form: 1:3,7,9:10.
func formatSet(nums []uint32) string {
	if !sort.SliceIsSorted(nums, func(i, j int) bool { return nums[i] < nums[j] }) {
		nums = append([]uint32(nil), nums...)
		sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	}
	return formatSetOrdered(nums)
}

// formatSetOrdered keeps the given order (COPYUID pairs source and
// destination UIDs by position, RFC 4315 §3), compressing runs.
func formatSetOrdered(nums []uint32) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(nums[i]), 10))
		if j > i {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(nums[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}
