package imapd

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGreetingAndCapability(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.dial()
	rc.send("a1 CAPABILITY")
	lines := rc.expectTagged("a1", "OK")
	if !contains(lines, "IMAP4rev2") || !contains(lines, "AUTH=PLAIN") || contains(lines, "LOGINDISABLED") {
		t.Fatalf("capabilities: %q", lines)
	}
	if contains(lines, "STARTTLS") {
		t.Fatal("STARTTLS advertised without a TLS config")
	}
}

func TestLoginDisabledWithoutTLS(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.AllowPlaintext = nil })
	rc := env.dial()
	rc.send("a1 CAPABILITY")
	if lines := rc.expectTagged("a1", "OK"); !contains(lines, "LOGINDISABLED") || contains(lines, "AUTH=PLAIN") {
		t.Fatalf("capabilities: %q", lines)
	}
	rc.send("a2 LOGIN " + testUser + " " + testPass)
	rc.expectTagged("a2", "NO [PRIVACYREQUIRED]")
}

func TestLoginFailureAndAuthenticate(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.dial()
	rc.send("a1 LOGIN " + testUser + " wrong")
	rc.expectTagged("a1", "NO [AUTHENTICATIONFAILED]")
	rc.send("a2 SELECT INBOX")
	rc.expectTagged("a2", "BAD")
	// AUTHENTICATE PLAIN without an initial response, then cancelled.
	rc.send("a3 AUTHENTICATE PLAIN")
	rc.expectPrefix("+")
	rc.send("*")
	rc.expectTagged("a3", "BAD")
	// With SASL-IR: "\x00alice@example.org\x00secret"
	rc.send("a4 AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==")
	rc.expectTagged("a4", "OK [CAPABILITY")
}

func TestTooManyLoginFailures(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.dial()
	for i := 1; i < maxAuthFailures; i++ {
		rc.send("f LOGIN " + testUser + " wrong")
		rc.expectTagged("f", "NO")
	}
	rc.send("f LOGIN " + testUser + " wrong")
	if lines := rc.expectTagged("f", "NO"); !contains(lines, "* BYE") {
		t.Fatalf("no BYE: %q", lines)
	}
	rc.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := rc.br.ReadByte(); err == nil {
		t.Fatal("connection still open")
	}
}

func TestCommandLiteralBudget(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	// Each literal is within the per-literal limit, the sum is not.
	big := strings.Repeat("x", maxLiteralLen)
	rc.send("k1 SEARCH TEXT {" + itoa(int64(len(big))) + "+}")
	rc.send(big + " TEXT {" + itoa(int64(len(big))) + "+}")
	rc.send(big + " TEXT {" + itoa(int64(len(big))) + "+}")
	rc.send(big + " TEXT {" + itoa(int64(len(big))) + "+}")
	rc.send(big + " TEXT {" + itoa(int64(len(big))) + "+}")
	if lines := rc.expectTagged("k1", "BAD [TOOBIG]"); !contains(lines, "* BYE") {
		rc.expectPrefix("* BYE")
	}
}

func TestBadSyntaxKeepsConnection(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	for _, cmd := range []string{
		"b1 FROB",
		"b2 SELECT",
		`b3 LOGIN "unterminated`,
		"b4 FETCH 1:x FLAGS",
		"b5 SEARCH (((((((((((((((((((((ALL)))))))))))))))))))))",
		"b6 STATUS INBOX (BOGUS)",
		"b7 UID FROB 1",
	} {
		rc.send(cmd)
		rc.expectTagged(strings.Fields(cmd)[0], "BAD")
	}
	rc.send("b8 NOOP")
	rc.expectTagged("b8", "OK")
	// A bad command ending in a non-synchronising literal: its bytes are
	// skipped, and the next command is read correctly.
	rc.send("b9 FROB {5+}")
	rc.send("hello")
	rc.expectTagged("b9", "BAD")
	rc.send("b10 NOOP")
	rc.expectTagged("b10", "OK")
}

func TestLiterals(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.dial()
	// Synchronising literal: the server asks for it.
	rc.send("l1 LOGIN {17}")
	rc.expectPrefix("+ ")
	rc.send(testUser + " {6+}")
	rc.send(testPass)
	rc.expectTagged("l1", "OK")
	// An oversized synchronising literal is refused before it is sent.
	rc.send("l2 CREATE {999999}")
	rc.expectTagged("l2", "BAD [TOOBIG]")
	rc.send("l3 NOOP")
	rc.expectTagged("l3", "OK")
	// An oversized non-synchronising literal ends the connection.
	rc.send("l4 CREATE {999999+}")
	rc.expectTagged("l4", "BAD [TOOBIG]")
	rc.expectPrefix("* BYE")
}

func TestLineTooLong(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	rc.send("x1 NOOP " + strings.Repeat("a", maxLineLen+10))
	rc.expectTagged("x1", "BAD")
	rc.send("x2 NOOP")
	rc.expectTagged("x2", "OK")
}

func TestSelectAndFetchTranscript(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	env.deliver("INBOX", multipartMsg)
	rc := env.login()
	rc.send("s1 SELECT INBOX")
	lines := rc.expectTagged("s1", "OK [READ-WRITE]")
	for _, want := range []string{"* 2 EXISTS", "UIDVALIDITY", "UIDNEXT 3", "PERMANENTFLAGS"} {
		if !contains(lines, want) {
			t.Fatalf("SELECT lacks %q: %q", want, lines)
		}
	}
	rc.send("s2 FETCH 1 (UID FLAGS ENVELOPE)")
	lines = rc.expectTagged("s2", "OK")
	if !contains(lines, `ENVELOPE ("Tue, 05 Mar 2024 09:00:00 +0000" "Hello there" (("Bob" NIL "bob" "example.net"))`) {
		t.Fatalf("envelope: %q", lines)
	}
	rc.send("s3 FETCH 2 BODYSTRUCTURE")
	lines = rc.expectTagged("s3", "OK")
	if !contains(lines, `("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 13 1`) || !contains(lines, `"mixed"`) ||
		!contains(lines, `("attachment" ("filename" "a.bin"))`) {
		t.Fatalf("bodystructure: %q", lines)
	}
	rc.send("s4 FETCH 2 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (Subject)])")
	lines = rc.expectTagged("s4", "OK")
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"BODY[1] {13}\nSee attached.", "BODY[2.MIME] {", "Content-Disposition: attachment",
		"BODY[HEADER.FIELDS (SUBJECT)] {19}\nSubject: Report"} {
		if !strings.Contains(joined, want) {
			t.Fatalf("sections lack %q:\n%s", want, joined)
		}
	}
	// A partial fetch without PEEK sets \Seen and reports FLAGS.
	rc.send("s5 FETCH 1 BODY[]<0.4>")
	lines = rc.expectTagged("s5", "OK")
	if !contains(lines, "BODY[]<0> {4}") || !contains(lines, `\Seen`) {
		t.Fatalf("partial: %q", lines)
	}
	rc.send("s6 FETCH 3 FLAGS")
	rc.expectTagged("s6", "BAD")
	// BINARY undoes the transfer encoding (RFC 3516): base64 "AAEC".
	rc.send("s7 FETCH 2 (BINARY.SIZE[2] BINARY.PEEK[2] BINARY.PEEK[1]<4.3>)")
	lines = rc.expectTagged("s7", "OK")
	joined = strings.Join(lines, "\n")
	if !strings.Contains(joined, "BINARY.SIZE[2] 3 BINARY[2] ~{3}\n\x00\x01\x02 BINARY[1]<4> {3}\natt") {
		t.Fatalf("binary: %q", joined)
	}
}

func TestExpungeNotDuringFetch(t *testing.T) {
	env := newTestEnv(t, nil)
	for i := 0; i < 3; i++ {
		env.deliver("INBOX", simpleMsg)
	}
	a := env.login()
	b := env.login()
	a.send("a1 SELECT INBOX")
	a.expectTagged("a1", "OK")
	b.send("b1 SELECT INBOX")
	b.expectTagged("b1", "OK")
	b.send(`b2 STORE 2 +FLAGS.SILENT (\Deleted)`)
	b.expectTagged("b2", "OK")
	b.send("b3 EXPUNGE")
	if lines := b.expectTagged("b3", "OK"); !contains(lines, "* 2 EXPUNGE") {
		t.Fatalf("own expunge: %q", lines)
	}
	// Session a: FETCH by sequence number must not see the EXPUNGE; the
	// gone message is left out with a NO (RFC 2180 §4.1.3)...
	a.send("a2 FETCH 1:* FLAGS")
	lines := a.expectTagged("a2", "NO [EXPUNGEISSUED]")
	if slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, " EXPUNGE") }) || contains(lines, "* 2 FETCH") {
		t.Fatalf("EXPUNGE during FETCH: %q", lines)
	}
	if !contains(lines, "* 3 FETCH") {
		t.Fatalf("numbering changed before EXPUNGE was announced: %q", lines)
	}
	// ...but NOOP delivers it.
	a.send("a3 NOOP")
	if lines := a.expectTagged("a3", "OK"); !contains(lines, "* 2 EXPUNGE") {
		t.Fatalf("NOOP: %q", lines)
	}
	a.send("a4 FETCH 2 UID")
	if lines := a.expectTagged("a4", "OK"); !contains(lines, "UID 3") {
		t.Fatalf("renumbering: %q", lines)
	}
}

func TestIdleGetsDelivery(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	rc.send("i1 SELECT INBOX")
	rc.expectTagged("i1", "OK")
	rc.send("i2 IDLE")
	rc.expectPrefix("+ ")
	start := time.Now()
	env.deliver("INBOX", simpleMsg)
	rc.expectPrefix("* 1 EXISTS")
	t.Logf("delivery reached the IDLE client in %v", time.Since(start)) // timing belongs in bench/
	rc.send("DONE")
	rc.expectTagged("i2", "OK")
}

func TestAppendTranscript(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	msg := "Subject: x\r\n\r\nbody\r\n"
	rc.send(`p1 APPEND Drafts (\Draft \Seen) " 5-Mar-2024 10:00:00 +0100" {` + itoa(int64(len(msg))) + "}")
	rc.expectPrefix("+ ")
	rc.send(msg)
	if lines := rc.expectTagged("p1", "OK [APPENDUID "); len(lines) != 1 {
		t.Fatalf("append: %q", lines)
	}
	rc.send("p2 APPEND Nowhere {3+}")
	rc.send("abc")
	rc.expectTagged("p2", "NO [TRYCREATE]")
	rc.send("p3 APPEND Drafts {99999999}")
	rc.expectTagged("p3", "NO [TOOBIG]")
	rc.send("p4 STATUS Drafts (MESSAGES UNSEEN SIZE)")
	lines := rc.expectTagged("p4", "OK")
	if !contains(lines, "* STATUS Drafts (MESSAGES 1 UNSEEN 0 SIZE "+itoa(int64(len(msg)))+")") {
		t.Fatalf("status: %q", lines)
	}
}

func TestSelectedStateTranscript(t *testing.T) {
	env := newTestEnv(t, nil)
	for i := 0; i < 4; i++ {
		env.deliver("INBOX", simpleMsg)
	}
	rc := env.login()
	rc.send("e1 EXAMINE INBOX")
	rc.expectTagged("e1", "OK [READ-ONLY]")
	rc.send(`e2 STORE 1 +FLAGS (\Seen)`)
	rc.expectTagged("e2", "NO")
	rc.send("e3 FETCH 1 BODY[TEXT]")
	if lines := rc.expectTagged("e3", "OK"); contains(lines, `\Seen`) {
		t.Fatalf("EXAMINE set \\Seen: %q", lines)
	}
	rc.send("e4 SELECT INBOX")
	if lines := rc.expectTagged("e4", "OK [READ-WRITE]"); !contains(lines, "* OK [CLOSED]") {
		t.Fatalf("no CLOSED: %q", lines)
	}
	// APPEND into the selected mailbox announces the new message.
	rc.send("e5 APPEND INBOX {15+}")
	rc.send("Subject: new\r\n\r\n")
	if lines := rc.expectTagged("e5", "OK [APPENDUID"); !contains(lines, "* 5 EXISTS") {
		t.Fatalf("no EXISTS after APPEND: %q", lines)
	}
	rc.send("e6 COPY 1 Nowhere")
	rc.expectTagged("e6", "NO [TRYCREATE]")
	// ESEARCH with RETURN, and SEARCHRES "$".
	rc.send("e7 UID SEARCH RETURN (MIN MAX COUNT SAVE) UID 2:4")
	if lines := rc.expectTagged("e7", "OK"); !contains(lines, `* ESEARCH (TAG "e7") UID MIN 2 MAX 4 COUNT 3`) {
		t.Fatalf("ESEARCH: %q", lines)
	}
	rc.send(`e8 STORE $ +FLAGS.SILENT (\Deleted)`)
	rc.expectTagged("e8", "OK")
	rc.send("e9 UID EXPUNGE 3:4")
	if lines := rc.expectTagged("e9", "OK"); !contains(lines, "* 4 EXPUNGE") || !contains(lines, "* 3 EXPUNGE") || contains(lines, "* 2 EXPUNGE") {
		t.Fatalf("UID EXPUNGE: %q", lines)
	}
	rc.send("e10 ENABLE IMAP4rev2")
	if lines := rc.expectTagged("e10", "OK"); !contains(lines, "* ENABLED IMAP4rev2") {
		t.Fatalf("ENABLE: %q", lines)
	}
	rc.send("e11 SEARCH DELETED")
	if lines := rc.expectTagged("e11", "OK"); !contains(lines, `* ESEARCH (TAG "e11") ALL 2`) {
		t.Fatalf("rev2 SEARCH: %q", lines)
	}
	rc.send(`e12 LIST "" "*" RETURN (SPECIAL-USE STATUS (MESSAGES))`)
	lines := rc.expectTagged("e12", "OK")
	if !contains(lines, `* STATUS INBOX (MESSAGES 3)`) || !contains(lines, `\Junk) "/" Junk`) {
		t.Fatalf("LIST RETURN STATUS: %q", lines)
	}
	rc.send("e13 CLOSE")
	rc.expectTagged("e13", "OK")
	rc.send("e14 STATUS INBOX (MESSAGES)")
	if lines := rc.expectTagged("e14", "OK"); !contains(lines, "(MESSAGES 2)") {
		t.Fatalf("CLOSE did not expunge: %q", lines)
	}
	rc.send("e15 FETCH 1 FLAGS")
	rc.expectTagged("e15", "BAD")
	rc.send("e16 LOGOUT")
	if lines := rc.expectTagged("e16", "OK"); !contains(lines, "* BYE") {
		t.Fatalf("LOGOUT: %q", lines)
	}
}

func TestOwnChangesNotRepeated(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	env.deliver("INBOX", simpleMsg)
	a := env.login()
	b := env.login()
	for _, rc := range []*rawConn{a, b} {
		rc.send("s SELECT INBOX")
		rc.expectTagged("s", "OK")
	}
	a.send(`a1 STORE 1:2 +FLAGS (\Flagged)`)
	if lines := a.expectTagged("a1", "OK"); len(lines) != 3 {
		t.Fatalf("STORE: %q", lines)
	}
	a.send("a2 NOOP")
	if lines := a.expectTagged("a2", "OK"); len(lines) != 1 {
		t.Fatalf("own change reported again: %q", lines)
	}
	a.send("a3 FETCH 1 BODY[TEXT]") // sets \Seen, reported once
	if lines := a.expectTagged("a3", "OK"); !contains(lines, `\Seen`) {
		t.Fatalf("FETCH: %q", lines)
	}
	a.send("a4 NOOP")
	if lines := a.expectTagged("a4", "OK"); len(lines) != 1 {
		t.Fatalf("own \\Seen reported again: %q", lines)
	}
	// The other session hears both changes.
	b.send("b1 NOOP")
	lines := b.expectTagged("b1", "OK")
	if !contains(lines, `* 1 FETCH (UID 1 FLAGS (\Seen \Flagged))`) || !contains(lines, `* 2 FETCH (UID 2 FLAGS (\Flagged))`) {
		t.Fatalf("other session: %q", lines)
	}
}

// Mailbox names that clients or exports would map to paths, and names
// that are not valid modified UTF-7 from an IMAP4rev1 client, are refused
// when created or renamed to.
func TestCreateRefusesBadNames(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.dial()
	rc.send("a LOGIN " + testUser + " " + testPass)
	rc.expectTagged("a", "OK")
	for i, name := range []string{"../alice", "INBOX/..", "x/./y", ".", "&Jjo", "&AGE-"} {
		tag := "c" + string(rune('0'+i))
		rc.send(tag + ` CREATE "` + name + `"`)
		rc.expectTagged(tag, "NO [CANNOT]")
	}
	rc.send(`r1 CREATE "Good&AOk-"`) // "Goodé"
	rc.expectTagged("r1", "OK")
	rc.send(`r2 RENAME "Good&AOk-" "a/../b"`)
	rc.expectTagged("r2", "NO [CANNOT]")
	rc.send(`r3 RENAME "Good&AOk-" "&Jjo"`)
	rc.expectTagged("r3", "NO [CANNOT]")
	rc.send(`r4 CREATE "x..y/.hidden"`) // dots inside a level are fine
	rc.expectTagged("r4", "OK")
}
