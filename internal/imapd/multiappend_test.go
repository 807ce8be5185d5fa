package imapd

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func TestMultiappend(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	rc.send(`a APPEND Drafts (\Draft) {5}`)
	rc.expectPrefix("+")
	rc.send("one\r\n" + ` (\Seen) " 5-Mar-2024 10:00:00 +0100" {5+}`)
	rc.send("two\r\n ~{5}")
	rc.expectPrefix("+")
	// literal8 may hold NUL (RFC 3516 §4.4).
	rc.send("th\x00ee")
	got := rc.expectTagged("a", "OK")
	if !strings.Contains(got[len(got)-1], "[APPENDUID ") || !strings.HasSuffix(strings.Fields(got[len(got)-1])[4], "1:3]") {
		t.Fatalf("MULTIAPPEND: %q", got)
	}
	rc.send("b EXAMINE Drafts")
	rc.expectTagged("b", "OK")
	rc.send("c FETCH 1:* (FLAGS RFC822.SIZE INTERNALDATE)")
	got = rc.expectTagged("c", "OK")
	if len(got) != 4 || !strings.Contains(got[0], `\Draft`) || !strings.Contains(got[1], `\Seen`) ||
		!strings.Contains(got[1], "05-Mar-2024 09:00:00 +0000") || !strings.Contains(got[2], "RFC822.SIZE ") {
		t.Fatalf("FETCH: %q", got)
	}
	// The NUL was stored base64-encoded; BINARY gives it back.
	rc.send("d FETCH 3 (BINARY.PEEK[1])")
	if got = rc.expectTagged("d", "OK"); !strings.Contains(strings.Join(got, "\n"), "BINARY[1] ~{5}\nth\x00ee") {
		t.Fatalf("BINARY of the literal8 with NUL: %q", got)
	}
}

// TestMultiappendAtomic: when one message cannot be stored, none is
// (RFC 3502 §6.3.11), and the connection stays in step.
func TestMultiappendAtomic(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.AppendLimit = 100 })
	if err := env.st.SetQuota(context.Background(), testUser, 0, 2); err != nil {
		t.Fatal(err)
	}
	rc := env.login()
	// Over quota: the third of three messages does not fit.
	rc.send("a APPEND INBOX {2+}\r\nm1 {2+}\r\nm2 {2+}\r\nm3")
	got := rc.expectTagged("a", "NO")
	if !strings.Contains(got[len(got)-1], "[OVERQUOTA]") {
		t.Fatalf("over quota: %q", got)
	}
	// Over the APPENDLIMIT in the second message: never asked for.
	rc.send("b APPEND INBOX {2+}\r\nm1 {200}")
	got = rc.expectTagged("b", "NO")
	if !strings.Contains(got[len(got)-1], "[TOOBIG]") {
		t.Fatalf("too big: %q", got)
	}
	// A synchronising literal after a refused message is never asked for.
	rc.send("c APPEND INBOX {2+}\r\nm1 (\\Bogus) {2}")
	rc.expectTagged("c", "BAD")
	rc.send("d STATUS INBOX (MESSAGES UIDNEXT)")
	got = rc.expectTagged("d", "OK")
	if !contains(got, "* STATUS INBOX (MESSAGES 0 UIDNEXT 1)") {
		t.Fatalf("after failed appends: %q", got)
	}
	// A syntax error after a literal.
	rc.send("e APPEND INBOX {2+}\r\nm1 junk")
	rc.expectTagged("e", "BAD")
	rc.send("f APPEND INBOX UTF8 (~{2+}\r\nm1)")
	rc.expectTagged("f", "OK")
	// A refused message whose non-synchronising literal is on its way is
	// skipped with what follows it.
	rc.send("g APPEND INBOX {2+}\r\nm1 (\\Bogus) {3+}\r\nabc {2+}\r\nm3")
	rc.expectTagged("g", "BAD")
	rc.send("h NOOP")
	rc.expectTagged("h", "OK")
	// Over the APPENDLIMIT and already sent: BAD [TOOBIG] and the end
	// (RFC 7888 §4).
	rc.send("i APPEND INBOX {2+}\r\nm1 {200+}")
	rc.expectTagged("i", "BAD")
	rc.expectPrefix("* BYE")
}

// TestLiteralMinus: before login, non-synchronising literals are LITERAL-
// (RFC 7888 §5): over 4096 bytes they get BAD [TOOBIG].
func TestLiteralMinus(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.dial()
	rc.send("a CAPABILITY")
	got := rc.expectTagged("a", "OK")
	if !contains(got, " LITERAL-") || contains(got, "LITERAL+") {
		t.Fatalf("pre-auth caps: %q", got)
	}
	rc.send("b LOGIN {5000+}\r\n" + strings.Repeat("x", 5000) + " pass")
	got = rc.expectTagged("b", "BAD")
	if !strings.Contains(got[len(got)-1], "[TOOBIG]") {
		t.Fatalf("big literal: %q", got)
	}
	rc.send("c LOGIN {" + itoa(int64(len(testUser))) + "+}\r\n" + testUser + " " + testPass)
	got = rc.expectTagged("c", "OK")
	if !strings.Contains(got[len(got)-1], "LITERAL+") {
		t.Fatalf("post-auth caps: %q", got)
	}
	rc.send("d APPEND INBOX {5000+}\r\n" + strings.Repeat("x", 5000))
	rc.expectTagged("d", "OK")
	// A huge one before login cannot be skipped: the connection ends.
	rc2 := env.dial()
	rc2.send("a LOGIN {100000+}")
	rc2.expectTagged("a", "BAD")
	rc2.expectPrefix("* BYE")
}

// TestSkipLineBounded: a bad command chaining non-synchronising literals
// is skipped in a loop, and a client that never stops is cut off rather
// than growing the server's stack.
func TestSkipLineBounded(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	rc.send("a BOGUS" + strings.Repeat(" {1+}\r\nx", 100))
	rc.expectTagged("a", "BAD")
	rc.expectTaggedAfter("b NOOP", "b", "OK")
	go func() {
		io.WriteString(rc.c, "c BOGUS"+strings.Repeat(" {0+}\r\n", 5000)+"\r\n")
	}()
	rc.expectTagged("c", "BAD")
	rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.br.ReadString('\n'); err == nil {
		t.Fatal("connection still open after 5000 skipped literals")
	}
}

// TestAppendBinaryLiteral: a message APPENDed as a literal8 with a binary
// part is stored with that part in base64, so BODY[1] sends no NUL (RFC
// 9051 §4.3.1) while BINARY[1] gives back the octets (imaptest
// append-binary).
func TestAppendBinaryLiteral(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	content := "\x00-\xe4\n\r\n\n"
	msg := "From: user@domain.org\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + content
	rc.send(fmt.Sprintf("a APPEND INBOX ~{%d+}\r\n%s", len(msg), msg))
	rc.expectTagged("a", "OK")
	rc.expectTaggedAfter("b SELECT INBOX", "b", "OK")
	got := strings.Join(rc.expectTaggedAfter("c FETCH 1 (BODY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[1] BODYSTRUCTURE)", "c", "OK"), "\n")
	want := base64.StdEncoding.EncodeToString([]byte(content))
	if !strings.Contains(got, "BODY[1] {"+fmt.Sprint(len(want)+2)+"}\n"+want) ||
		!strings.Contains(got, "BINARY.SIZE[1] 7 BINARY[1] ~{7}\n"+strings.ReplaceAll(content, "\r", "")) || // the reader drops CR
		!strings.Contains(got, `"base64"`) {
		t.Errorf("FETCH of a binary APPEND: %q", got)
	}
	// A plain literal with no binary part is stored as it came.
	plain := "Subject: plain\r\n\r\nplain\r\n"
	rc.send(fmt.Sprintf("d APPEND INBOX ~{%d+}\r\n%s", len(plain), plain))
	rc.expectTagged("d", "OK")
	if got := strings.Join(rc.expectTaggedAfter("e FETCH 2 BODY.PEEK[]", "e", "OK"), "\n"); !strings.Contains(got, "BODY[] {"+fmt.Sprint(len(plain))+"}\nSubject: plain") {
		t.Errorf("plain literal8: %q", got)
	}
}

// TestBinaryOfMultipart: BINARY of a multipart part is its body as it is
// (a multipart has only identity encodings, RFC 2045 §6.4), with the UID
// kept and no UNKNOWN-CTE (issue 13).
func TestBinaryOfMultipart(t *testing.T) {
	env := newTestEnv(t, nil)
	inner := "--Y\r\nContent-Type: text/plain\r\n\r\nhi\r\n--Y--\r\n"
	env.deliver("INBOX", "From: a@b.test\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n"+
		"--X\r\nContent-Type: multipart/alternative; boundary=Y\r\n\r\n"+inner+"--X\r\nContent-Type: text/plain\r\n\r\nthere\r\n--X--\r\n")
	rc := env.login()
	rc.expectTaggedAfter("a SELECT INBOX", "a", "OK")
	got := rc.expectTaggedAfter("b UID FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2])", "b", "OK")
	// The CRLF before the next boundary belongs to the boundary (RFC 2046 §5.1.1).
	if got[0] != fmt.Sprintf("* 1 FETCH (UID 1 BINARY.SIZE[1] %d BINARY.SIZE[2] 5)", len(inner)-2) {
		t.Errorf("BINARY.SIZE of a multipart part: %q", got)
	}
}
