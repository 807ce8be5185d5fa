package message

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func nestedMultipart(depth int) string {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\ndeep text\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.String()
}

func TestDepthLimit(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxDepth = 5
	raw := nestedMultipart(30)
	p := parseLim(t, raw, lim)
	if len(p.Degraded) == 0 {
		t.Error("not reported as degraded")
	}
	// Within the limit the same message parses completely.
	p = parse(t, nestedMultipart(15))
	if len(p.Degraded) != 0 || !strings.Contains(p.SearchText, "deep text") {
		t.Errorf("depth 15: %v %q", p.Degraded, p.SearchText)
	}
	deepest := p.Body
	for deepest.IsMultipart() {
		deepest = deepest.Children[0]
	}
	if _, b := sliceOf(nestedMultipart(15), deepest); b != "deep text" {
		t.Errorf("deepest body %q", b)
	}
}

func TestNestedMessageDepthLimit(t *testing.T) {
	raw := strings.Repeat("Content-Type: message/rfc822\r\n\r\n", 50) + "Subject: bottom\r\n\r\nx\r\n"
	lim := DefaultLimits()
	lim.MaxDepth = 10
	p := parseLim(t, raw, lim)
	if len(p.Degraded) == 0 {
		t.Error("not degraded")
	}
}

func TestPartsLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=p\r\n\r\n")
	for i := range 50 {
		fmt.Fprintf(&b, "--p\r\n\r\npart %d\r\n", i)
	}
	b.WriteString("--p--\r\n")
	lim := DefaultLimits()
	lim.MaxParts = 10
	p := parseLim(t, b.String(), lim)
	if n := len(p.Body.Children); n != 9 { // the root counts as one part
		t.Errorf("%d children", n)
	}
	if len(p.Degraded) == 0 {
		t.Error("not degraded")
	}
}

func TestHeaderLimits(t *testing.T) {
	raw := "Subject: first\r\n" + strings.Repeat("X-Filler: 0123456789\r\n", 100) + "Subject: late\r\nFrom: late@x.test\r\n\r\nbody\r\n"
	lim := DefaultLimits()
	lim.MaxHeaderFields = 50
	p := parseLim(t, raw, lim)
	if p.Envelope.Subject != "first" || len(p.Envelope.From) != 0 || len(p.Degraded) == 0 {
		t.Errorf("fields limit: %+v %v", p.Envelope, p.Degraded)
	}
	if _, b := sliceOf(raw, p.Body); b != "body\r\n" {
		t.Errorf("body after a long header %q", b)
	}
	lim = DefaultLimits()
	lim.MaxHeaderBytes = 1000
	p = parseLim(t, raw, lim)
	if len(p.Envelope.From) != 0 || strings.Count(p.Headers, "\n") > 50 || len(p.Degraded) == 0 {
		t.Errorf("bytes limit: %d header lines", strings.Count(p.Headers, "\n"))
	}
}

func TestSearchTextLimit(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=s\r\n\r\n"
	for range 3 {
		raw += "--s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("ünïcode ", 300) + "\r\n"
	}
	raw += "--s--\r\n"
	lim := DefaultLimits()
	lim.MaxSearchText = 1001
	p := parseLim(t, raw, lim)
	if len(p.SearchText) < 990 {
		t.Errorf("search text %d bytes, want close to 1001", len(p.SearchText))
	}
}

// genReader produces a large message without holding it in memory: a
// multipart with a text part and a long base64 attachment.
type genReader struct {
	head, tail string
	line       []byte
	n          int // lines of body left
	buf        []byte
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		switch {
		case g.head != "":
			g.buf, g.head = []byte(g.head), ""
		case g.n > 0:
			g.buf = g.line
			g.n--
		case g.tail != "":
			g.buf, g.tail = []byte(g.tail), ""
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

func bigMessage(mib int) (*genReader, int) {
	line := strings.Repeat("QUJD", 18) + "\r\n" // 74 bytes, "ABC" repeated
	lines := mib << 20 / len(line)
	return &genReader{
		head: "Subject: big\r\nContent-Type: multipart/mixed; boundary=big\r\n\r\n--big\r\nContent-Type: text/plain\r\n\r\nsmall text\r\n" +
			"--big\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		line: []byte(line), n: lines,
		tail: "--big--\r\n",
	}, lines
}

// parseAlloc parses a generated message of mib MiB and returns the bytes
// allocated meanwhile.
func parseAlloc(t *testing.T, mib int) (*Parsed, int, uint64) {
	g, lines := bigMessage(mib)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := Parse(g, DefaultLimits())
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	return p, lines, after.TotalAlloc - before.TotalAlloc
}

func TestLargeMessageBoundedMemory(t *testing.T) {
	p, lines, small := parseAlloc(t, 5)
	att := p.Body.Children[1]
	if att.Size != int64(lines*74-2) || att.Lines != int64(lines) {
		t.Errorf("attachment size %d lines %d", att.Size, att.Lines)
	}
	if len(p.SearchText) > DefaultLimits().MaxSearchText || !strings.HasPrefix(p.SearchText, "small text\nABCABCABC") {
		t.Errorf("search text %d bytes: %.40q", len(p.SearchText), p.SearchText)
	}
	// Ten times the input must not cost more memory: the parser streams.
	_, _, large := parseAlloc(t, 50)
	if large > small+1<<20 || large > 16<<20 {
		t.Errorf("allocated %d KiB for 5 MiB, %d KiB for 50 MiB", small>>10, large>>10)
	}
}

func TestLongLinesAndSplitCRLF(t *testing.T) {
	// A line that fills the scanner buffer exactly up to its CR, so the
	// CRLF is split across two reads, right before a boundary.
	long := strings.Repeat("x", scanBufSize-1)
	raw := "Content-Type: multipart/mixed; boundary=L\r\n\r\n--L\r\n\r\n" + long + "\r\n--L\r\n\r\n" +
		strings.Repeat("y", 3*scanBufSize+17) + "\r\n--L--\r\n"
	p := parse(t, raw)
	c := p.Body.Children
	if len(c) != 2 {
		t.Fatalf("children %d", len(c))
	}
	if _, b := sliceOf(raw, c[0]); b != long {
		t.Errorf("split CRLF: body of %d bytes, want %d", len(b), len(long))
	}
	if c[1].Size != 3*scanBufSize+17 || c[1].Lines != 1 {
		t.Errorf("long line: size %d lines %d", c[1].Size, c[1].Lines)
	}
}

type failReader struct{ n int }

func (f *failReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := copy(p, strings.Repeat("a", min(len(p), f.n)))
	f.n -= n
	return n, nil
}

func TestReadError(t *testing.T) {
	if _, err := Parse(&failReader{n: 100000}, DefaultLimits()); err == nil || err.Error() != "disk on fire" {
		t.Errorf("err = %v", err)
	}
}

func TestZeroLimitsUseDefaults(t *testing.T) {
	p, err := Parse(strings.NewReader(nestedMultipart(25)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkInvariants([]byte(nestedMultipart(25)), p, DefaultLimits()); err != nil {
		t.Error(err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, raw := range []string{crlf(plainMsg), crlf(alternativeMsg), crlf(mixedMsg), crlf(nestedMsg), ""} {
		p := parse(t, raw)
		env, err := UnmarshalEnvelope(p.Envelope.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(env, p.Envelope) {
			t.Errorf("envelope round trip:\n got %#v\nwant %#v", env, p.Envelope)
		}
		enc := p.Body.Marshal()
		body, err := UnmarshalBody(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(body, p.Body) {
			t.Errorf("body round trip:\n got %#v\nwant %#v", body, p.Body)
		}
		if raw == crlf(plainMsg) && len(enc) > 120 {
			t.Errorf("plain body structure is %d bytes: %s", len(enc), enc)
		}
	}
	if _, err := UnmarshalBody([]byte(`{"v":99,"t":"text"}`)); !errors.Is(err, ErrVersion) {
		t.Errorf("version check: %v", err)
	}
	if _, err := UnmarshalEnvelope([]byte(`{"s":"no version"}`)); !errors.Is(err, ErrVersion) {
		t.Errorf("version check: %v", err)
	}
	if _, err := UnmarshalEnvelope([]byte(`not json`)); err == nil {
		t.Error("garbage accepted")
	}
}

// A typical 4 KiB message: multipart/alternative with headers from a
// real mail path.
func bench4K() string {
	hdr := "Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n\tby mail.example.com with ESMTPS id 4Xyz; Tue, 1 Jul 2025 10:00:00 +0000\r\n" +
		"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; h=from:to:subject:date;\r\n\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=" + strings.Repeat("A", 300) + "\r\n" +
		"From: \"Alice Example\" <alice@example.org>\r\nTo: Bob <bob@example.com>, carol@example.com\r\nCc: team@example.com\r\n" +
		"Subject: =?UTF-8?Q?Quarterly_r=C3=A9sults?=\r\nDate: Tue, 1 Jul 2025 09:59:58 +0200\r\nMessage-ID: <20250701.abc@example.org>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"000000000000abcdef\"\r\n\r\n"
	text := strings.Repeat("Hello Bob, here are the quarterly results we discussed on Monday.\r\n", 23)
	html := "<html><body>" + strings.Repeat("<p>Hello Bob, here are the <b>quarterly</b> results we discussed.</p>\r\n", 20) + "</body></html>\r\n"
	return hdr + "--000000000000abcdef\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n" + text +
		"--000000000000abcdef\r\nContent-Type: text/html; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + html +
		"--000000000000abcdef--\r\n"
}

func TestBench4KIsRealistic(t *testing.T) {
	raw := bench4K()
	if len(raw) < 3800 || len(raw) > 4600 {
		t.Errorf("benchmark message is %d bytes", len(raw))
	}
	p := parse(t, raw)
	if len(p.Body.Children) != 2 || p.Envelope.DecodedSubject() != "Quarterly résults" {
		t.Errorf("%+v", p.Body)
	}
}

func BenchmarkParse4K(b *testing.B) {
	raw := bench4K()
	lim := DefaultLimits()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(strings.NewReader(raw), lim); err != nil {
			b.Fatal(err)
		}
	}
}
