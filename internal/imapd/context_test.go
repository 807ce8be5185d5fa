package imapd

import (
	"strings"
	"testing"
)

// TestSortUpdate: SORT RETURN (UPDATE) keeps a sorted result alive
// (CONTEXT=SORT, RFC 5267 §4): ADDTO with each new message's position in
// sort order, REMOVEFROM with the position it had, before the EXPUNGE.
func TestSortUpdate(t *testing.T) {
	env := newTestEnv(t, nil)
	msg := func(subject string) string {
		return "From: x@example.net\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
	}
	for _, s := range []string{"b", "d", "f"} {
		env.deliver("INBOX", msg(s))
	}
	rc := env.login()
	if got := rc.expectTaggedAfter("c CAPABILITY", "c", "OK"); !contains(got, " CONTEXT=SORT") {
		t.Fatalf("CONTEXT=SORT not advertised: %q", got)
	}
	rc.expectTaggedAfter("a SELECT INBOX", "a", "OK")
	got := rc.expectTaggedAfter("s UID SORT RETURN (ALL UPDATE) (REVERSE SUBJECT) UTF-8 UNSEEN", "s", "OK")
	if got[0] != `* ESEARCH (TAG "s") UID ALL 3,2,1` {
		t.Fatalf("SORT RETURN (ALL UPDATE): %q", got)
	}
	env.deliver("INBOX", msg("c")) // UID 4
	env.deliver("INBOX", msg("g")) // UID 5
	got = rc.expectTaggedAfter("n NOOP", "n", "OK")
	if !contains(got, `* ESEARCH (TAG "s") UID ADDTO (1 5 4 4)`) {
		t.Errorf("ADDTO in sort order (g f d c b): %q", got)
	}
	got = rc.expectTaggedAfter(`b UID STORE 2 +FLAGS.SILENT (\Seen)`, "b", "OK")
	if !contains(got, `* ESEARCH (TAG "s") UID REMOVEFROM (3 2)`) {
		t.Errorf("REMOVEFROM of d at 3: %q", got)
	}
	rc.expectTaggedAfter(`d UID STORE 1 +FLAGS.SILENT (\Deleted)`, "d", "OK")
	got = rc.expectTaggedAfter("e EXPUNGE", "e", "OK")
	if len(got) < 3 || got[0] != `* ESEARCH (TAG "s") UID REMOVEFROM (4 1)` || got[1] != "* 1 EXPUNGE" {
		t.Errorf("REMOVEFROM of b at 4 before the EXPUNGE: %q", got)
	}
	// The same by message numbers: g f c are messages 4 2 3 now.
	got = rc.expectTaggedAfter("t SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 UNSEEN", "t", "OK")
	if got[0] != `* ESEARCH (TAG "t")` {
		t.Errorf("SORT RETURN (UPDATE): %q", got)
	}
	env.deliver("INBOX", msg("e")) // message 5
	got = rc.expectTaggedAfter("n NOOP", "n", "OK")
	if !contains(got, `* ESEARCH (TAG "t") ADDTO (3 5)`) {
		t.Errorf("ADDTO by message number: %q", got)
	}
	rc.expectTaggedAfter(`f CANCELUPDATE "s" "t"`, "f", "OK")
	env.deliver("INBOX", msg("a"))
	if got := rc.expectTaggedAfter("n NOOP", "n", "OK"); contains(got, "ESEARCH") {
		t.Errorf("an update after CANCELUPDATE: %q", got)
	}
}

// TestContextLimit: past the live searches a session may keep, a search
// with UPDATE is still answered, without updates: an untagged NO
// [NOUPDATE "tag"] and the tagged OK (RFC 5267 §4.3.1).
func TestContextLimit(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	rc := env.login()
	rc.expectTaggedAfter("a SELECT INBOX", "a", "OK")
	for i := range maxSearchContexts {
		tag := "s" + string(rune('0'+i))
		rc.expectTaggedAfter(tag+" SORT RETURN (UPDATE) (DATE) UTF-8 ALL", tag, "OK")
	}
	got := rc.expectTaggedAfter("x SEARCH RETURN (COUNT UPDATE) ALL", "x", "OK")
	if len(got) != 3 || got[0] != `* NO [NOUPDATE "x"] too many searches with UPDATE in this session` ||
		!strings.HasPrefix(got[1], `* ESEARCH (TAG "x") COUNT 1`) {
		t.Errorf("over the limit: %q", got)
	}
	rc.expectTaggedAfter(`y CANCELUPDATE "x"`, "y", "BAD")
	rc.expectTaggedAfter(`s0 SORT RETURN (UPDATE) (DATE) UTF-8 ALL`, "s0", "BAD")
}
