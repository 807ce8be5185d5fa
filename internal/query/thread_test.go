package query

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/message"
)

// tm builds a message for threading tests: UID n, the nth in mailbox
// order, sent n minutes after a fixed time.
func tm(n uint32, subject, id string, refs ...string) *threadMsg {
	base, reply := message.BaseSubject(subject)
	return &threadMsg{pos: int(n), uid: n, date: time.Date(2024, 1, 1, 0, int(n), 0, 0, time.UTC),
		subject: casemapKey(base), reply: reply, msgID: id, refs: refs}
}

// threadString renders threads as IMAP does (RFC 5256 §5), by UID.
func threadString(roots []*tnode) string {
	var b strings.Builder
	for _, r := range toNodes(roots) {
		writeNode(&b, r)
	}
	return b.String()
}

func writeNode(b *strings.Builder, n *ThreadNode) {
	b.WriteByte('(')
	first := true
	for {
		if n.UID != 0 {
			if !first {
				b.WriteByte(' ')
			}
			first = false
			b.WriteString(strconv.Itoa(int(n.UID)))
		}
		if len(n.Children) != 1 || n.UID == 0 {
			break
		}
		n = n.Children[0]
	}
	if len(n.Children) > 0 && !first {
		b.WriteByte(' ')
	}
	for _, k := range n.Children {
		writeNode(b, k)
	}
	b.WriteByte(')')
}

func TestThreadReferences(t *testing.T) {
	cases := []struct {
		name string
		msgs []*threadMsg
		want string
	}{
		{"chain and siblings", []*threadMsg{
			tm(1, "hello", "a@x"),
			tm(2, "Re: hello", "b@x", "a@x"),
			tm(3, "Re: hello", "c@x", "a@x", "b@x"),
			tm(4, "Re: hello", "d@x", "a@x"),
		}, "(1 (2 3)(4))"},
		{"lost parent: one child promoted, then joined by subject", []*threadMsg{
			tm(1, "other", "e@x"),
			tm(2, "Re: other", "f@x", "missing@x"),
		}, "(1 2)"},
		{"lost parent with two children stays a dummy", []*threadMsg{
			tm(1, "q", "g@x", "lost@x"),
			tm(2, "r", "h@x", "lost@x"),
		}, "((1)(2))"},
		{"loop refused", []*threadMsg{
			tm(1, "x", "i@x", "j@x"),
			tm(2, "y", "j@x", "i@x"),
		}, "(2 1)"},
		{"duplicate Message-ID gets its own", []*threadMsg{
			tm(1, "x", "k@x"),
			tm(2, "y", "k@x"),
			tm(3, "z", "l@x", "k@x"),
		}, "(1 3)(2)"},
		{"reply joins original by subject", []*threadMsg{
			tm(1, "Re: lunch", "m@x"),
			tm(2, "lunch", "n@x"),
		}, "(2 1)"},
		{"two originals with one subject get a dummy", []*threadMsg{
			tm(1, "lunch", "o@x"),
			tm(2, "lunch", "p@x"),
			tm(3, "unrelated", "q@x"),
		}, "((1)(2))(3)"},
		{"truncated References: last reference wins", []*threadMsg{
			tm(1, "s", "r@x"),
			tm(2, "Re: s", "s@x", "r@x"),
			tm(3, "Re: s", "t@x", "s@x"),
			tm(4, "Re: s", "u@x", "r@x", "t@x"),
		}, "(1 2 3 4)"},
		{"empty subjects are not grouped", []*threadMsg{
			tm(1, "", "v@x"),
			tm(2, "Re:", "w@x"),
		}, "(1)(2)"},
	}
	for _, c := range cases {
		if got := threadString(threadReferences(c.msgs)); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestThreadReferencesDateOrder(t *testing.T) {
	a := tm(1, "late", "a@x")
	a.date = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b := tm(2, "early", "b@x")
	c := tm(3, "Re: late", "c@x", "a@x")
	c.date = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) // children sort by their own date
	d := tm(4, "Re: late", "d@x", "a@x")
	d.date = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if got := threadString(threadReferences([]*threadMsg{a, b, c, d})); got != "(2)(1 (4)(3))" {
		t.Fatalf("got %s", got)
	}
}

func TestThreadOrderedSubject(t *testing.T) {
	msgs := []*threadMsg{
		tm(1, "b", ""), tm(2, "a", ""), tm(3, "Re: a", ""), tm(4, "B", ""), tm(5, "Fwd: b", ""), tm(6, "c", ""),
	}
	if got := threadString(threadOrderedSubject(msgs)); got != "(1 (4)(5))(2 3)(6)" {
		t.Fatalf("got %s", got)
	}
}

func TestParseMsgIDs(t *testing.T) {
	got := parseMsgIDs("<a@b> junk <bad> <c@d>\r\n <e@f")
	if strings.Join(got, ",") != "a@b,c@d" {
		t.Fatalf("got %q", got)
	}
	if id := firstMsgID(" <x@y> (comment) <z@w>"); id != "x@y" {
		t.Fatalf("first: %q", id)
	}
	if len(parseMsgIDs(strings.Repeat("<a@b>", 1000))) != maxRefs {
		t.Fatal("references not bounded")
	}
}

// FuzzThreadReferences builds threads from arbitrary Message-ID,
// References and Subject fields (one message per line, fields separated
// by "|"): every message must come out exactly once, in well-formed
// thread lists.
func FuzzThreadReferences(f *testing.F) {
	f.Add("<a@x>||hello\n<b@x>|<a@x>|Re: hello\n<c@x>|<b@x> <a@x>|Re: hello")
	f.Add("<a@x>|<b@x>|x\n<b@x>|<a@x>|y\n<a@x>|<a@x>|z")
	f.Add("|<m@x> <m@x>|[fwd: a]\n|<m@x>|a (fwd)\n<m@x>||Re: a")
	f.Fuzz(func(t *testing.T, data string) {
		lines := strings.Split(data, "\n")
		if len(lines) > 200 {
			lines = lines[:200]
		}
		var msgs []*threadMsg
		for i, l := range lines {
			fields := strings.SplitN(l, "|", 3)
			for len(fields) < 3 {
				fields = append(fields, "")
			}
			m := tm(uint32(i+1), fields[2], firstMsgID(fields[0]), parseMsgIDs(fields[1])...)
			m.date = time.Unix(int64(len(l)%7), 0) // many equal dates
			msgs = append(msgs, m)
		}
		out := threadString(threadReferences(msgs))
		seen := map[string]int{}
		depth := 0
		for _, tok := range strings.FieldsFunc(out, func(r rune) bool { return r == ' ' || r == '(' || r == ')' }) {
			seen[tok]++
		}
		for _, r := range out {
			switch r {
			case '(':
				depth++
			case ')':
				if depth--; depth < 0 {
					t.Fatalf("unbalanced: %s", out)
				}
			}
		}
		if depth != 0 || len(seen) != len(msgs) {
			t.Fatalf("%d messages, output %s", len(msgs), out)
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("message %s appears %d times: %s", k, n, out)
			}
		}
		if o2 := threadString(threadOrderedSubject(msgs)); len(o2) == 0 && len(msgs) > 0 {
			t.Fatal("ORDEREDSUBJECT lost the messages")
		}
	})
}
