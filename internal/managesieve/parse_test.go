package managesieve

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadCommand(t *testing.T) {
	type want struct {
		name string
		args []string // atoms bare, strings in <>
		err  string   // parse error text, "" for none
	}
	in := "noop\r\n" +
		"PUTSCRIPT \"a\\\"b\\\\\" {5+}\r\nkeep;\r\n" +
		"PUTSCRIPT {1}\r\nx {0+}\r\n\r\n" +
		"HAVESPACE  \"n\"   42\n" +
		"NOOP \"unterminated\r\n" +
		"NOOP \"x\"y\r\n" +
		"NOOP {2+}\r\nab\"c\"\r\n" +
		"NOOP \"\\n\"\r\n" +
		"NOOP \"\x00\"\r\n" +
		"NOOP \"\xff\"\r\n" +
		"\r\n" +
		"{1+}\r\nX\r\n" +
		"A B C D E F\r\n" +
		"NOOP {3\r\n" +
		"NOOP {3+}x\r\n" +
		"NOOP ok\r\n"
	wants := []want{
		{name: "NOOP"},
		{name: "PUTSCRIPT", args: []string{`<a"b\>`, "<keep;>"}},
		{name: "PUTSCRIPT", args: []string{"<x>", "<>"}},
		{name: "HAVESPACE", args: []string{"<n>", "42"}},
		{err: "Unterminated quoted string"},
		{err: "Expected a space between arguments"},
		{err: "Expected a space between arguments"},
		{err: "Invalid escape in quoted string"},
		{err: "NUL in quoted string"},
		{err: "Invalid UTF-8 in quoted string"},
		{err: "Empty command"},
		{err: "Expected a command name"},
		{err: "Too many arguments"},
		{err: "Invalid literal size"},
		{err: "Expected CRLF after literal size"},
		{name: "NOOP", args: []string{"ok"}},
	}
	p := newReader(bufio.NewReaderSize(strings.NewReader(in), 16), 100)
	for i, w := range wants {
		c, err := p.readCommand()
		var pe *parseError
		if w.err != "" {
			if !errors.As(err, &pe) || pe.msg != w.err || pe.fatal {
				t.Fatalf("%d: err %v, want %q", i, err, w.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		var args []string
		for _, a := range c.Args {
			if a.isString() {
				args = append(args, "<"+string(a.val)+">")
			} else {
				args = append(args, string(a.val))
			}
		}
		if c.Name != w.name || strings.Join(args, "|") != strings.Join(w.args, "|") {
			t.Fatalf("%d: got %s %q, want %s %q", i, c.Name, args, w.name, w.args)
		}
	}
	if _, err := p.readCommand(); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
}

func TestReadCommandLimits(t *testing.T) {
	long := "NOOP \"" + strings.Repeat("x", maxLine) + "\"\r\nNOOP\r\n"
	p := newReader(bufio.NewReader(strings.NewReader(long)), 100)
	if _, err := p.readCommand(); err != errLineTooLong {
		t.Fatalf("long line: %v", err)
	}
	if c, err := p.readCommand(); err != nil || c.Name != "NOOP" {
		t.Fatalf("after long line: %v %v", c, err)
	}

	// A literal over the limit is discarded, with the rest of its line.
	big := "PUTSCRIPT \"a\" {200+}\r\n" + strings.Repeat("y", 200) + " \"more\"\r\nNOOP\r\n"
	p = newReader(bufio.NewReader(strings.NewReader(big)), 100)
	var pe *parseError
	if _, err := p.readCommand(); !errors.As(err, &pe) || pe.code != "QUOTA/MAXSIZE" || pe.fatal {
		t.Fatalf("big literal: %v", err)
	}
	if c, err := p.readCommand(); err != nil || c.Name != "NOOP" {
		t.Fatalf("after big literal: %v %v", c, err)
	}

	// Past the discard limit it is fatal, before reading anything.
	p = newReader(bufio.NewReader(strings.NewReader("PUTSCRIPT {99999999999+}\r\n")), 100)
	if _, err := p.readCommand(); !errors.As(err, &pe) || !pe.fatal {
		t.Fatalf("huge literal: %v", err)
	}

	// A literal cut short is the connection's error, not a parse error.
	p = newReader(bufio.NewReader(strings.NewReader("PUTSCRIPT {10+}\r\nabc")), 100)
	if _, err := p.readCommand(); err != io.ErrUnexpectedEOF {
		t.Fatalf("short literal: %v", err)
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"":                            `""`,
		"plain":                       `"plain"`,
		`q"b\`:                        `"q\"b\\"`,
		"a\r\nb":                      "{4}\r\na\r\nb",
		"\xff":                        "{1}\r\n\xff",
		strings.Repeat("z", 1025)[:3]: `"zzz"`,
	} {
		if got := string(appendString(nil, in)); got != want {
			t.Errorf("appendString(%q) = %q, want %q", in, got, want)
		}
	}
	if got := string(appendString(nil, strings.Repeat("z", maxQuoted+1))); !strings.HasPrefix(got, "{1025}\r\n") {
		t.Errorf("long string not a literal: %q", got[:10])
	}
	if got := string(appendResponse(nil, "NO", "TAG \"x\"", "")); got != "NO (TAG \"x\")\r\n" {
		t.Errorf("appendResponse = %q", got)
	}
}

// FuzzCommand feeds arbitrary input to the command reader: it must not
// panic, must keep its limits, must make progress, and whatever it reads
// as strings must survive a round trip through the response encoder.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"NOOP\r\n",
		"PUTSCRIPT \"a\" {5+}\r\nkeep;\r\n",
		"PUTSCRIPT {1}\r\nx \"y\"\r\n",
		"AUTHENTICATE \"PLAIN\" \"AGFAYg==\"\r\n",
		"HAVESPACE \"n\" 4294967295\r\n",
		"NOOP \"\\\"\\\\\"\r\n",
		"NOOP \"unterminated\r\nNOOP\r\n",
		"PUTSCRIPT {999+}\r\nabc",
		"PUTSCRIPT {99999999999999999999}\r\n",
		"\r\n\n\r",
		"{3+}\r\nabc\r\n",
		"NOOP {2+}\r\n\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 64
		p := newReader(bufio.NewReaderSize(bytes.NewReader(in), 16), limit)
		for range len(in) + 1 {
			c, err := p.readCommand()
			var pe *parseError
			if errors.As(err, &pe) {
				if pe.fatal {
					return
				}
				continue
			}
			if err != nil {
				return
			}
			if c.Name == "" || strings.ToUpper(c.Name) != c.Name || len(c.Args) > maxArgs {
				t.Fatalf("bad command %+v", c)
			}
			total := 0
			for _, a := range c.Args {
				total += len(a.val)
				if a.kind == argAtom && len(a.val) == 0 {
					t.Fatal("empty atom")
				}
				if !a.isString() {
					continue
				}
				// Round trip: what we send back parses to the same value.
				enc := append([]byte("X "), appendString(nil, string(a.val))...)
				q := newReader(bufio.NewReader(bytes.NewReader(append(enc, "\r\n"...))), int64(len(a.val)))
				back, err := q.readCommand()
				if err != nil || len(back.Args) != 1 || !bytes.Equal(back.Args[0].val, a.val) {
					t.Fatalf("round trip of %q: %v, %v", a.val, back.Args, err)
				}
			}
			if total > limit+maxLine {
				t.Fatalf("command holds %d octets", total)
			}
		}
		t.Fatal("reader made no progress")
	})
}
