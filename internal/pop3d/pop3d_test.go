package pop3d

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"postern/internal/store"
)

const (
	msgA = "From: a@x\r\nSubject: one\r\n\r\nHello\r\nWorld\r\n"
	msgB = "From: b@x\r\nSubject: two\r\n\r\nSecond message body\r\n"
	msgC = "From: c@x\r\nSubject: three\r\n\r\nline 1\r\nline 2\r\nline 3\r\nline 4\r\n"
)

func seeded(t *testing.T) *testEnv {
	e := startServer(t, nil)
	for _, m := range []string{msgA, msgB, msgC} {
		e.store.add(1, m)
	}
	return e
}

func TestFullSession(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	c.login("alice@x", "secret")

	total := len(msgA) + len(msgB) + len(msgC)
	if got, want := c.cmd("STAT"), fmt.Sprintf("+OK 3 %d", total); got != want {
		t.Fatalf("STAT = %q, want %q", got, want)
	}
	c.expectOK(c.cmd("LIST"))
	want := []string{"1 " + strconv.Itoa(len(msgA)), "2 " + strconv.Itoa(len(msgB)), "3 " + strconv.Itoa(len(msgC))}
	if got := c.lines(); !slices.Equal(got, want) {
		t.Fatalf("LIST = %q, want %q", got, want)
	}
	if got, want := c.cmd("LIST 2"), "+OK 2 "+strconv.Itoa(len(msgB)); got != want {
		t.Fatalf("LIST 2 = %q, want %q", got, want)
	}
	for _, bad := range []string{"LIST 0", "LIST 4", "LIST x", "LIST -1"} {
		if got := c.cmd("%s", bad); !strings.HasPrefix(got, "-ERR") {
			t.Errorf("%s = %q, want -ERR", bad, got)
		}
	}
	box := e.store.box(1)
	c.expectOK(c.cmd("UIDL"))
	uidls := c.lines()
	if len(uidls) != 3 {
		t.Fatalf("UIDL = %q", uidls)
	}
	for i, l := range uidls {
		want := fmt.Sprintf("%d %d.%d", i+1, box.mb.UIDValidity, box.msgs[i].UID)
		if l != want {
			t.Errorf("UIDL line %q, want %q", l, want)
		}
	}
	if got := c.cmd("RETR 1"); got != fmt.Sprintf("+OK %d octets", len(msgA)) {
		t.Fatalf("RETR 1 = %q", got)
	}
	if got := c.rawBody(); got != msgA {
		t.Fatalf("RETR body %q, want %q", got, msgA)
	}
	c.expectOK(c.cmd("NOOP"))
	c.expectOK(c.cmd("QUIT"))
	c.expectClosed()

	// RETR marks \Seen at QUIT, for IMAP clients of the same account.
	box = e.store.box(1)
	if box.msgs[0].Flags&store.FlagSeen == 0 || box.msgs[1].Flags&store.FlagSeen != 0 {
		t.Errorf("flags after QUIT: %v %v", box.msgs[0].Flags, box.msgs[1].Flags)
	}
	logs := e.logs.String()
	for _, want := range []string{"msg=login", "user=alice@x mech=USER", "msg=quit", "retrieved=1 deleted=0 left=3"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "secret") {
		t.Error("password in the log")
	}
}

func TestDeletePersistsAcrossSessions(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	c.login("alice@x", "secret")
	c.expectOK(c.cmd("UIDL 3"))
	c.expectOK(c.cmd("DELE 2"))
	if got := c.cmd("DELE 2"); !strings.HasPrefix(got, "-ERR") {
		t.Fatalf("second DELE 2 = %q", got)
	}
	for _, cmd := range []string{"RETR 2", "TOP 2 0", "LIST 2", "UIDL 2"} {
		if got := c.cmd("%s", cmd); !strings.HasPrefix(got, "-ERR") {
			t.Errorf("%s on a deleted message = %q", cmd, got)
		}
	}
	if got, want := c.cmd("STAT"), fmt.Sprintf("+OK 2 %d", len(msgA)+len(msgC)); got != want {
		t.Fatalf("STAT = %q, want %q", got, want)
	}
	// Message numbers stay fixed: LIST skips 2.
	c.expectOK(c.cmd("LIST"))
	if got := c.lines(); len(got) != 2 || !strings.HasPrefix(got[0], "1 ") || !strings.HasPrefix(got[1], "3 ") {
		t.Fatalf("LIST after DELE = %q", got)
	}
	c.expectOK(c.cmd("UIDL 3"))
	c.expectOK(c.cmd("QUIT"))
	c.expectClosed()
	e.waitUnlocked(1)

	box := e.store.box(1)
	if len(box.msgs) != 2 || e.store.expunges != 1 {
		t.Fatalf("after QUIT: %d messages, %d expunge calls", len(box.msgs), e.store.expunges)
	}
	c = e.dial()
	c.login("alice@x", "secret")
	if got, want := c.cmd("STAT"), fmt.Sprintf("+OK 2 %d", len(msgA)+len(msgC)); got != want {
		t.Fatalf("STAT in new session = %q, want %q", got, want)
	}
	// The message that was 3 is now 2 and keeps its unique-id.
	if got, want := c.cmd("UIDL 2"), fmt.Sprintf("+OK 2 %d.3", box.mb.UIDValidity); got != want {
		t.Fatalf("UIDL 2 = %q, want %q", got, want)
	}
	c.expectOK(c.cmd("RETR 2"))
	if got := c.rawBody(); got != msgC {
		t.Fatalf("RETR 2 = %q", got)
	}
}

func TestDroppedConnectionExpungesNothing(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	c.login("alice@x", "secret")
	c.expectOK(c.cmd("DELE 1"))
	c.expectOK(c.cmd("DELE 3"))
	c.conn.Close()
	e.waitUnlocked(1)
	if n := len(e.store.box(1).msgs); n != 3 || e.store.expunges != 0 {
		t.Fatalf("dropped session changed the maildrop: %d messages, %d expunges", n, e.store.expunges)
	}
}

func TestRSET(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	c.login("alice@x", "secret")
	c.expectOK(c.cmd("DELE 1"))
	c.expectOK(c.cmd("DELE 2"))
	total := len(msgA) + len(msgB) + len(msgC)
	if got, want := c.cmd("RSET"), fmt.Sprintf("+OK 3 messages (%d octets)", total); got != want {
		t.Fatalf("RSET = %q, want %q", got, want)
	}
	if got, want := c.cmd("STAT"), fmt.Sprintf("+OK 3 %d", total); got != want {
		t.Fatalf("STAT after RSET = %q", got)
	}
	c.expectOK(c.cmd("QUIT"))
	c.expectClosed()
	e.waitUnlocked(1)
	if n := len(e.store.box(1).msgs); n != 3 {
		t.Fatalf("RSET then QUIT left %d messages", n)
	}
}

func TestDotStuffing(t *testing.T) {
	e := startServer(t, nil)
	// Lines that start with ".", a lone ".", and no final line ending.
	body := "Subject: dots\r\n\r\n.hidden\r\n.\r\n..two\r\nmid.dle\r\n.last"
	e.store.add(1, body)
	// A damaged blob with bare LF line endings is repaired to CRLF.
	e.store.add(1, "Subject: lf\n\n.x\nend\n")
	c := e.dial()
	c.login("alice@x", "secret")
	c.expectOK(c.cmd("RETR 1"))
	want := "Subject: dots\r\n\r\n..hidden\r\n..\r\n...two\r\nmid.dle\r\n..last\r\n"
	if got := c.rawBody(); got != want {
		t.Fatalf("wire body\n%q\nwant\n%q", got, want)
	}
	c.expectOK(c.cmd("RETR 2"))
	if got, want := c.rawBody(), "Subject: lf\r\n\r\n..x\r\nend\r\n"; got != want {
		t.Fatalf("LF body %q, want %q", got, want)
	}
	c.expectOK(c.cmd("TOP 1 1"))
	if got, want := c.rawBody(), "Subject: dots\r\n\r\n..hidden\r\n"; got != want {
		t.Fatalf("TOP body %q, want %q", got, want)
	}
}

func TestTOP(t *testing.T) {
	e := seeded(t)
	e.store.add(1, "Subject: no body\r\nX: y\r\n") // header only, no blank line
	c := e.dial()
	c.login("alice@x", "secret")
	header := "From: c@x\r\nSubject: three\r\n\r\n"
	for _, tc := range []struct {
		n    string
		want string
	}{
		{"0", header},
		{"2", header + "line 1\r\nline 2\r\n"},
		{"4", msgC},
		{"999999999999", msgC},
	} {
		c.expectOK(c.cmd("TOP 3 %s", tc.n))
		if got := c.rawBody(); got != tc.want {
			t.Errorf("TOP 3 %s = %q, want %q", tc.n, got, tc.want)
		}
	}
	c.expectOK(c.cmd("TOP 4 3"))
	if got, want := c.rawBody(), "Subject: no body\r\nX: y\r\n"; got != want {
		t.Errorf("TOP of header-only message = %q", got)
	}
	for _, bad := range []string{"TOP 3", "TOP 3 -1", "TOP 9 1", "TOP 3 x"} {
		if got := c.cmd("%s", bad); !strings.HasPrefix(got, "-ERR") {
			t.Errorf("%s = %q, want -ERR", bad, got)
		}
	}
	// TOP is not RETR: nothing gets \Seen.
	c.expectOK(c.cmd("QUIT"))
	c.expectClosed()
	for _, m := range e.store.box(1).msgs {
		if m.Flags != 0 {
			t.Errorf("TOP changed flags of uid %d", m.UID)
		}
	}
}

func TestPipelining(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	// RFC 2449 §6.6: several commands in one write, replies in order.
	c.send("USER alice@x\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL 1\r\nRETR 2\r\nDELE 1\r\nNOOP\r\nQUIT\r\n")
	c.expectOK(c.line())
	c.expectOK(c.line())
	if got := c.line(); !strings.HasPrefix(got, "+OK 3 ") {
		t.Fatalf("STAT = %q", got)
	}
	c.expectOK(c.line())
	if got := c.lines(); len(got) != 3 {
		t.Fatalf("LIST = %q", got)
	}
	if got := c.line(); !strings.HasPrefix(got, "+OK 1 ") {
		t.Fatalf("UIDL 1 = %q", got)
	}
	c.expectOK(c.line())
	if got := c.rawBody(); got != msgB {
		t.Fatalf("RETR 2 = %q", got)
	}
	c.expectOK(c.line())
	c.expectOK(c.line())
	c.expectOK(c.line())
	c.expectClosed()
	e.waitUnlocked(1)
	if n := len(e.store.box(1).msgs); n != 2 {
		t.Fatalf("%d messages after pipelined DELE+QUIT", n)
	}
}

func TestBadInput(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	long := "USER " + strings.Repeat("a", 600)
	if got := c.cmd("%s", long); !strings.HasPrefix(got, "-ERR") {
		t.Fatalf("long line = %q", got)
	}
	// The session is still in step after the long line.
	c.login("alice@x", "secret")
	for _, bad := range []string{"STLS", "USER x", "XYZZY", "RE", "STAT\x01", "LIST 1 2 3 4 5"} {
		if got := c.cmd("%s", bad); !strings.HasPrefix(got, "-ERR") {
			t.Errorf("%q = %q, want -ERR", bad, got)
		}
	}
	c.expectOK(c.cmd("stat"))      // keywords are case-insensitive
	for range maxBadCommands - 8 { // 7 bad so far
		c.cmd("BOGUS")
	}
	if got := c.cmd("BOGUS"); !strings.HasPrefix(got, "-ERR") {
		t.Fatalf("bad command = %q", got)
	}
	if got := c.line(); !strings.Contains(got, "Too many errors") {
		t.Fatalf("want a closing notice, got %q", got)
	}
	c.expectClosed()
}

func TestNotInTransaction(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	for _, cmd := range []string{"STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "PASS x"} {
		if got := c.cmd("%s", cmd); !strings.HasPrefix(got, "-ERR") {
			t.Errorf("%s before login = %q", cmd, got)
		}
	}
	c.expectOK(c.cmd("QUIT"))
	c.expectClosed()
}
