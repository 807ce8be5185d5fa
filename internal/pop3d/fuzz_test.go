package pop3d

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		line string
		name string
		args []string
		rest string
		ok   bool
	}{
		{"STAT", "STAT", nil, "", true},
		{"list 1", "LIST", []string{"1"}, "1", true},
		{"TOP  1   10", "TOP", []string{"1", "10"}, " 1   10", true},
		{"PASS a b  c", "PASS", nil, "a b  c", true},
		{"PASS one two three four five  six", "PASS", nil, "one two three four five  six", true},
		{"", "", nil, "", false},
		{"ST", "", nil, "", false},
		{"STATS", "", nil, "", false},
		{"ST4T", "", nil, "", false},
		{"USER a\x00b", "", nil, "", false},
		{"USER a\tb", "", nil, "", false},
		{"LIST 1 2 3 4 5", "", nil, "", false},
		{"USER " + strings.Repeat("x", 256), "", nil, "", false},
		{strings.Repeat("A", maxLine+1), "", nil, "", false},
	} {
		c, err := parseCommand(tc.line)
		if (err == nil) != tc.ok {
			t.Errorf("parseCommand(%q) error %v, want ok=%v", tc.line, err, tc.ok)
			continue
		}
		if tc.ok && (c.Name != tc.name || c.Rest != tc.rest || strings.Join(c.Args, "|") != strings.Join(tc.args, "|")) {
			t.Errorf("parseCommand(%q) = %+v", tc.line, c)
		}
	}
}

func TestReadLine(t *testing.T) {
	in := "STAT\r\nLIST\n" + strings.Repeat("x", 5000) + "\r\nNOOP\r\npartial"
	r := bufio.NewReaderSize(strings.NewReader(in), 16)
	for _, want := range []string{"STAT", "LIST", "", "NOOP"} {
		got, err := readLine(r, maxLine)
		if want == "" {
			if err != errLineTooLong {
				t.Fatalf("long line: %q, %v", got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Fatalf("readLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readLine(r, maxLine); err == nil {
		t.Fatal("a line without LF at EOF was accepted")
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"STAT", "LIST 1", "TOP 1 10", "PASS a b c", "AUTH PLAIN AGFAYg==",
		"USER alice@example.org", "uidl", "RETR 4294967296", "X", "\xff\xfe", "TOP  1  2 3 4 5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseCommand(line)
		if err != nil {
			return
		}
		if len(c.Name) < 3 || len(c.Name) > 4 || strings.ToUpper(c.Name) != c.Name {
			t.Fatalf("bad name %q", c.Name)
		}
		if len(c.Args) > maxArgs || len(line) > maxLine {
			t.Fatalf("limits not applied: %q", line)
		}
		for _, a := range c.Args {
			if a == "" || len(a) > maxArgLen || strings.ContainsAny(a, " \r\n\x00") {
				t.Fatalf("bad arg %q", a)
			}
		}
		if !strings.HasSuffix(line, c.Rest) {
			t.Fatalf("rest %q not a suffix of %q", c.Rest, line)
		}
		for _, a := range c.Args {
			if n, ok := parseMsgNum(a, 1<<20); ok && (n < 1 || n > 1<<20) {
				t.Fatalf("msg num %d out of range", n)
			}
		}
	})
}

// unstuff decodes a multi-line response body as a client would.
func unstuff(t *testing.T, wire []byte) []byte {
	if !bytes.HasSuffix(wire, []byte(".\r\n")) {
		t.Fatalf("no terminator: %q", wire)
	}
	body := wire[:len(wire)-3]
	var out []byte
	for len(body) > 0 {
		i := bytes.Index(body, []byte("\r\n"))
		if i < 0 {
			t.Fatalf("unterminated line in %q", wire)
		}
		line := body[:i]
		if bytes.Equal(line, []byte(".")) {
			t.Fatalf("terminator inside body: %q", wire)
		}
		out = append(out, bytes.TrimPrefix(line, []byte("."))...)
		out = append(out, "\r\n"...)
		body = body[i+2:]
	}
	return out
}

// FuzzDotWriter checks that whatever a blob holds, the wire form is
// well-formed and decodes to the blob with line endings normalised.
func FuzzDotWriter(f *testing.F) {
	for _, s := range []string{"", ".", "a\r\n.\r\nb", "..\n.\r\r\n", "x\r", "H: v\r\n\r\nbody\r\n.end"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, blob []byte, chunk uint8) {
		var wire bytes.Buffer
		w := bufio.NewWriter(&wire)
		d := newDotWriter(w)
		buf := make([]byte, int(chunk)+1)
		if err := copyMessage(d, bytes.NewReader(blob), buf); err != nil {
			t.Fatal(err)
		}
		if err := d.finish(); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		got := unstuff(t, wire.Bytes())
		// The expected form: every LF preceded by CR, a final CRLF.
		want := bytes.ReplaceAll(blob, []byte("\r\n"), []byte("\n"))
		want = bytes.ReplaceAll(want, []byte("\n"), []byte("\r\n"))
		if len(want) > 0 && !bytes.HasSuffix(want, []byte("\r\n")) {
			if bytes.HasSuffix(want, []byte("\r")) {
				want = append(want, '\n')
			} else {
				want = append(want, "\r\n"...)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("blob %q\nwire %q\ngot  %q\nwant %q", blob, wire.Bytes(), got, want)
		}

		// TOP sends whole lines, a prefix of the full message, never more
		// body lines than asked for.
		lines := int(chunk % 5)
		wire.Reset()
		d = newDotWriter(w)
		d.limitTop(lines)
		if err := copyMessage(d, bytes.NewReader(blob), buf); err != nil {
			t.Fatal(err)
		}
		d.finish()
		w.Flush()
		top := unstuff(t, wire.Bytes())
		if !bytes.HasPrefix(want, top) {
			t.Fatalf("TOP %d of %q = %q, not a prefix of %q", lines, blob, top, want)
		}
		if i := bytes.Index(top, []byte("\r\n\r\n")); i >= 0 || bytes.HasPrefix(top, []byte("\r\n")) {
			bodyStart := i + 4
			if i < 0 {
				bodyStart = 2
			}
			if n := bytes.Count(top[bodyStart:], []byte("\r\n")); n > lines {
				t.Fatalf("TOP %d of %q sent %d body lines", lines, blob, n)
			}
		}
	})
}
