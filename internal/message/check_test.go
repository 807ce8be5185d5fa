package message

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkInvariants verifies what must hold for any input: offsets ordered
// and inside the message, children inside their parent and in order,
// sizes and line counts agreeing with the raw bytes, limits respected.
func checkInvariants(raw []byte, p *Parsed, lim Limits) error {
	if p.Size != int64(len(raw)) {
		return fmt.Errorf("Size %d, raw %d", p.Size, len(raw))
	}
	if got := countLines(raw); p.Lines != got {
		return fmt.Errorf("Lines %d, want %d", p.Lines, got)
	}
	if p.Body == nil || p.Envelope == nil {
		return fmt.Errorf("nil Body or Envelope")
	}
	if p.Body.HeaderStart != 0 || p.Body.End != int64(len(raw)) {
		return fmt.Errorf("root spans [%d,%d), want [0,%d)", p.Body.HeaderStart, p.Body.End, len(raw))
	}
	if len(p.SearchText) > lim.MaxSearchText {
		return fmt.Errorf("search text %d bytes > %d", len(p.SearchText), lim.MaxSearchText)
	}
	if n := utf8.RuneCountInString(p.Preview); n > lim.MaxPreview {
		return fmt.Errorf("preview %d chars", n)
	}
	for _, s := range []string{p.SearchText, p.Preview, p.Headers} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("invalid UTF-8 in %q", s)
		}
	}
	count := 0
	if err := checkPart(raw, p.Body, 0, int64(len(raw)), 0, lim, &count); err != nil {
		return err
	}
	if count > lim.MaxParts {
		return fmt.Errorf("%d parts > %d", count, lim.MaxParts)
	}
	return nil
}

func checkPart(raw []byte, pt *Part, lo, hi int64, depth int, lim Limits, count *int) error {
	*count++
	if depth > lim.MaxDepth {
		return fmt.Errorf("depth %d > %d", depth, lim.MaxDepth)
	}
	if !(lo <= pt.HeaderStart && pt.HeaderStart <= pt.BodyStart && pt.BodyStart <= pt.End && pt.End <= hi) {
		return fmt.Errorf("%s/%s offsets %d %d %d outside [%d,%d]", pt.Type, pt.Subtype, pt.HeaderStart, pt.BodyStart, pt.End, lo, hi)
	}
	if pt.Size != pt.End-pt.BodyStart {
		return fmt.Errorf("size %d != %d", pt.Size, pt.End-pt.BodyStart)
	}
	if got := countLines(raw[pt.BodyStart:pt.End]); pt.Lines != got {
		return fmt.Errorf("%s/%s at %d: lines %d, want %d", pt.Type, pt.Subtype, pt.BodyStart, pt.Lines, got)
	}
	if pt.IsMultipart() && len(pt.Children) == 0 {
		return fmt.Errorf("multipart without children")
	}
	if isMessageType(pt) && pt.Message == nil && pt.Encoding != "base64" && pt.Encoding != "quoted-printable" {
		return fmt.Errorf("message/rfc822 without message")
	}
	prev := pt.BodyStart
	for _, c := range pt.Children {
		if c.HeaderStart < prev {
			return fmt.Errorf("children overlap at %d", c.HeaderStart)
		}
		if err := checkPart(raw, c, pt.BodyStart, pt.End, depth+1, lim, count); err != nil {
			return err
		}
		prev = c.End
	}
	if m := pt.Message; m != nil {
		if m.HeaderStart != pt.BodyStart || m.End != pt.End {
			return fmt.Errorf("encapsulated message [%d,%d) != body [%d,%d)", m.HeaderStart, m.End, pt.BodyStart, pt.End)
		}
		if pt.Envelope == nil {
			return fmt.Errorf("message without envelope")
		}
		return checkPart(raw, m, pt.BodyStart, pt.End, depth+1, lim, count)
	}
	return nil
}

// countLines is the oracle for line counts: LF bytes, plus an
// unterminated last line.
func countLines(b []byte) int64 {
	n := int64(bytes.Count(b, []byte("\n")))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// parse parses a message with default limits and checks the invariants.
func parse(t *testing.T, raw string) *Parsed {
	t.Helper()
	return parseLim(t, raw, DefaultLimits())
}

func parseLim(t *testing.T, raw string, lim Limits) *Parsed {
	t.Helper()
	p, err := Parse(strings.NewReader(raw), lim)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if err := checkInvariants([]byte(raw), p, lim); err != nil {
		t.Fatalf("invariant: %v", err)
	}
	return p
}

// crlf turns a readable "\n" message into the stored CRLF form.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// sliceOf returns the raw text of a part's header and body.
func sliceOf(raw string, pt *Part) (hdr, body string) {
	return raw[pt.HeaderStart:pt.BodyStart], raw[pt.BodyStart:pt.End]
}
