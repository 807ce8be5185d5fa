package smtpd

import (
	"bytes"
	"testing"
)

// refCheck is the byte-at-a-time definition of checkedReader's rules, the
// reference the line-at-a-time check is fuzzed against.
type refCheck struct {
	prevCR, inHeader   bool
	headerSeen         int64
	lineLen            int
	lastTwo            [2]byte
	maxHeader, maxLine int
}

func (c *refCheck) check(b []byte) error {
	for _, ch := range b {
		switch {
		case c.prevCR && ch != '\n':
			return errBareLineEnding
		case !c.prevCR && ch == '\n':
			return errBareLineEnding
		}
		c.prevCR = ch == '\r'
		if ch == '\n' {
			c.lineLen = 0
		} else if ch != '\r' {
			c.lineLen++
			if c.lineLen > c.maxLine {
				return errLineTooLong
			}
		}
		if c.inHeader {
			c.headerSeen++
			if c.headerSeen > int64(c.maxHeader) {
				return errHeaderTooLarge
			}
			if ch == '\n' && (c.headerSeen == 2 || c.lastTwo == [2]byte{'\n', '\r'}) {
				c.inHeader = false
			}
			c.lastTwo = [2]byte{c.lastTwo[1], ch}
		}
	}
	return nil
}

// chunks cuts b at the positions cuts selects.
func chunksOf(b []byte, cuts []byte) [][]byte {
	var out [][]byte
	for _, c := range cuts {
		if len(b) == 0 {
			break
		}
		n := 1 + int(c)%len(b)
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

func FuzzLineChecks(f *testing.F) {
	for _, s := range []string{
		"Subject: x\r\n\r\nbody\r\n", "a\nb", "a\rb", "x\r", "\r\n\r\n\r\r\n", "Subject: y\r\n\r\nline\r\nbare\nend\r\n",
		"h: v\r\n\r\n" + string(bytes.Repeat([]byte("z"), 90)) + "\r\n", "\n", "\r", "STARTTLS\r\nmore\n",
	} {
		f.Add([]byte(s), []byte{3, 7, 1}, uint8(40), uint8(60))
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte, maxHeader, maxLine uint8) {
		ref := &refCheck{inHeader: true, maxHeader: int(maxHeader) + 1, maxLine: int(maxLine) + 1}
		got := &checkedReader{inHeader: true, maxHeaderBytes: int64(maxHeader) + 1, maxLine: int(maxLine) + 1}
		var refErr, gotErr error
		for _, ch := range chunksOf(data, cuts) {
			if refErr == nil {
				refErr = ref.check(ch)
			}
			if gotErr == nil {
				gotErr = got.check(ch)
			}
		}
		if refErr != gotErr || (refErr == nil && ref.prevCR != got.prevCR) {
			t.Fatalf("%q cut %v: reference %v (prevCR %v), line check %v (prevCR %v)", data, cuts, refErr, ref.prevCR, gotErr, got.prevCR)
		}
	})
}
