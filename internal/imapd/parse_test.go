package imapd

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func parseOne(t *testing.T, line string) (*command, error) {
	t.Helper()
	p := newParser(bufio.NewReader(strings.NewReader(line)), nil)
	return parseCommand(p)
}

func TestParseCommands(t *testing.T) {
	c, err := parseOne(t, "A1 UID FETCH 1:*,7 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<10.20> RFC822.SIZE)\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if !c.uid || c.name != "FETCH" || len(c.fetch) != 3 {
		t.Fatalf("%+v", c)
	}
	it := c.fetch[1]
	if !it.peek || it.section.String() != "1.2.HEADER.FIELDS (FROM TO)" || !it.partial || it.start != 10 || it.count != 20 {
		t.Fatalf("item: %+v", it)
	}
	if !c.seq.contains(5, 5) || !c.seq.contains(7, 9) || c.seq.contains(6, 5) {
		t.Fatalf("seq: %+v", c.seq)
	}

	c, err = parseOne(t, `t SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (FROM "bob" SEEN) NOT UID 3:5 HEADER X-A b 1:2`+"\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if !c.retGiven || len(c.searchRet) != 2 || len(c.search.kids) != 3 || c.search.kids[0].op != "OR" ||
		c.search.kids[0].kids[1].op != "NOT" || c.search.kids[1].str2 != "b" || c.search.kids[2].op != "SEQ" {
		t.Fatalf("search: %+v", c.search)
	}

	c, err = parseOne(t, `x STORE 1 -FLAGS.SILENT (\Seen $Junk)`+"\r\n")
	if err != nil || !c.store.silent || len(c.store.flags) != 2 {
		t.Fatalf("store: %+v %v", c, err)
	}
	c, err = parseOne(t, `x LIST (SUBSCRIBED) "" ("INBOX" "*") RETURN (CHILDREN STATUS (MESSAGES))`+"\r\n")
	if err != nil || len(c.list.patterns) != 2 || c.list.retStatus[0] != "MESSAGES" {
		t.Fatalf("list: %+v %v", c, err)
	}
	c, err = parseOne(t, "x select inbox\r\n")
	if err != nil || c.mailbox != "INBOX" || c.name != "SELECT" {
		t.Fatalf("select: %+v %v", c, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, line := range []string{
		"\r\n", "+tag NOOP\r\n", "a FETCH 0 FLAGS\r\n", "a FETCH 1 BODY[1.HEADER.FIELDS ()]\r\n",
		"a LOGIN \"a\\x\" b\r\n", "a SEARCH " + strings.Repeat("(", maxListDepth+2) + "ALL" + strings.Repeat(")", maxListDepth+2) + "\r\n",
		"a SEARCH " + strings.Repeat("NOT ", maxSearchKeys+1) + "ALL\r\n",
		"a FETCH 99999999999 FLAGS\r\n", "a STORE 1 FLAGZ (x)\r\n", "a NOOP extra\r\n",
	} {
		if _, err := parseOne(t, line); err == nil {
			t.Errorf("%q parsed", line)
		}
	}
}

func TestFormatSetAndPattern(t *testing.T) {
	if got := formatSet([]uint32{9, 1, 2, 3, 7, 10}); got != "1:3,7,9:10" {
		t.Fatalf("formatSet: %s", got)
	}
	cases := []struct {
		pat, name string
		want      bool
	}{
		{"*", "a/b", true}, {"%", "a/b", false}, {"a/%", "a/b", true}, {"a%", "abc", true},
		{"INBOX", "INBOX", true}, {"*b", "a/b", true}, {"a*c", "ab/xc", true}, {"a%c", "ab/xc", false},
	}
	for _, c := range cases {
		if matchPattern(c.pat, c.name) != c.want {
			t.Errorf("matchPattern(%q, %q) != %v", c.pat, c.name, c.want)
		}
	}
}

// FuzzParseCommand feeds arbitrary bytes to the parser: it must never
// panic, never read past a limit, and always either parse or fail.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"a1 LOGIN alice secret\r\n",
		"a2 FETCH 1:* (UID FLAGS ENVELOPE BODY.PEEK[1.MIME] BODY[]<0.100>)\r\n",
		"a3 SEARCH OR (SUBJECT x FROM y) NOT SEEN UID 1:5,$\r\n",
		"a4 APPEND INBOX (\\Seen) \" 5-Mar-2024 10:00:00 +0100\" {5+}\r\nhello\r\n",
		"a5 LIST (SUBSCRIBED) \"\" (\"*\" %) RETURN (STATUS (MESSAGES))\r\n",
		"a6 STORE 1,3:4 +FLAGS.SILENT (\\Deleted kw)\r\n",
		"a7 ID (\"name\" \"x\" \"version\" NIL)\r\n",
		"a8 AUTHENTICATE PLAIN AGEAYg==\r\n",
		"a9 CREATE {3+}\r\nabc\r\n",
		"b1 UID EXPUNGE 1:*\r\n",
		"b2 FETCH 1 (BINARY.PEEK[1.2]<0.10> BINARY.SIZE[1])\r\n",
		"b3 APPEND INBOX {3+}\r\nabc (\\Seen) ~{2+}\r\n\x00b UTF8 (~{1+}\r\nc)\r\n",
		"b4 GETQUOTAROOT INBOX\r\nb5 SETQUOTA \"\" (STORAGE 512)\r\nb6 COMPRESS DEFLATE\r\n",
		"b7 CREATE Foo (USE (\\Drafts))\r\nb8 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN)\r\n",
		"b9 UID SORT (REVERSE DATE DISPLAYFROM) UTF-8 ALL\r\nc1 THREAD REFERENCES US-ASCII OR 1 $\r\n",
		"c2 SEARCH RETURN (MIN SAVE) CHARSET UTF-8 HEADER X-A {2+}\r\nxy\r\n",
		"c3 GENURLAUTH \"imap://a@h/INBOX/;UID=1;URLAUTH=authuser\" INTERNAL\r\nc4 RESETKEY INBOX INTERNAL\r\n",
		"c5 URLFETCH u (\"imap://a@h/b/;UID=2\" BINARY BODYPARTSTRUCTURE)\r\nc6 SORT RETURN (UPDATE CONTEXT) (SIZE) UTF-8 ALL\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(strings.NewReader(string(data)))
		p := newParser(br, func() error { return nil })
		// Half the inputs run under LITERAL- (before login).
		p.literalMinus = len(data)%2 == 1
		for i := 0; i < 8; i++ {
			c, err := parseCommand(p)
			if err != nil {
				if _, ok := err.(ioError); ok {
					return
				}
				pe := err.(*parseError)
				if pe.fatal || pe.lineDone {
					return
				}
				if p.skipLine() != nil {
					return
				}
				continue
			}
			if c.tag == "" || c.name == "" {
				t.Fatalf("empty tag or name: %+v", c)
			}
			// APPEND and MULTIAPPEND: each literal, then what follows it.
			for a := c.app; c.name == "APPEND"; {
				if _, err := io.CopyN(io.Discard, br, min(a.size, 1<<20)); err != nil {
					return
				}
				next, more, err := p.nextAppend(&a)
				if err != nil {
					if p.skipLine() != nil {
						return
					}
					break
				}
				if !more {
					break
				}
				a = next
			}
		}
	})
}
