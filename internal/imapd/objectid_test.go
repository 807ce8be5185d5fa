package imapd

import (
	"regexp"
	"strings"
	"testing"
)

// TestObjectIDPreviewWithin: OBJECTID (RFC 8474) gives the JMAP ids
// (MAILBOXID at CREATE, SELECT and STATUS; EMAILID and THREADID in FETCH
// and SEARCH, kept across MOVE), PREVIEW (RFC 8970) the preview kept at
// delivery, WITHIN (RFC 5032) OLDER and YOUNGER.
func TestObjectIDPreviewWithin(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	env.deliver("INBOX", simpleMsg)
	rc := env.login()
	if got := rc.expectTaggedAfter("a CAPABILITY", "a", "OK"); !strings.Contains(got[0], " OBJECTID") || !strings.Contains(got[0], " PREVIEW") || !strings.Contains(got[0], " WITHIN") {
		t.Fatalf("CAPABILITY: %q", got)
	}
	created := rc.expectTaggedAfter("b CREATE Archive2", "b", "OK")
	mboxID := regexp.MustCompile(`\[MAILBOXID \((m\d+)\)\]`).FindStringSubmatch(created[len(created)-1])
	if mboxID == nil {
		t.Fatalf("CREATE: %q", created)
	}
	if got := rc.expectTaggedAfter("c STATUS Archive2 (MAILBOXID MESSAGES)", "c", "OK"); got[0] != "* STATUS Archive2 (MAILBOXID ("+mboxID[1]+") MESSAGES 0)" {
		t.Errorf("STATUS MAILBOXID: %q", got)
	}
	sel := strings.Join(rc.expectTaggedAfter("d SELECT INBOX", "d", "OK"), "\n")
	if !regexp.MustCompile(`\* OK \[MAILBOXID \(m\d+\)\]`).MatchString(sel) {
		t.Errorf("SELECT lacks MAILBOXID: %s", sel)
	}
	got := rc.expectTaggedAfter("e FETCH 1:2 (EMAILID THREADID PREVIEW)", "e", "OK")
	re := regexp.MustCompile(`^\* (\d) FETCH \(EMAILID \((e\d+)\) THREADID \((t\d+)\) PREVIEW "Hi Alice`)
	m1, m2 := re.FindStringSubmatch(got[0]), re.FindStringSubmatch(got[1])
	if m1 == nil || m2 == nil || m1[2] == m2[2] {
		t.Fatalf("FETCH EMAILID THREADID PREVIEW: %q", got)
	}
	if got := rc.expectTaggedAfter("f FETCH 1 (PREVIEW (LAZY))", "f", "OK"); !strings.Contains(got[0], `PREVIEW "Hi Alice`) {
		t.Errorf("PREVIEW (LAZY): %q", got)
	}
	if got := rc.expectTaggedAfter("g SEARCH EMAILID "+m2[2], "g", "OK"); got[0] != "* SEARCH 2" {
		t.Errorf("SEARCH EMAILID: %q", got)
	}
	if got := rc.expectTaggedAfter("h SEARCH THREADID "+m1[3], "h", "OK"); !strings.HasPrefix(got[0], "* SEARCH 1") {
		t.Errorf("SEARCH THREADID: %q", got)
	}
	if got := rc.expectTaggedAfter("i SEARCH EMAILID e999999", "i", "OK"); got[0] != "* SEARCH" {
		t.Errorf("SEARCH EMAILID unknown: %q", got)
	}
	// Delivered in 2024: older than an hour, none younger.
	if got := rc.expectTaggedAfter("j SEARCH OLDER 3600", "j", "OK"); got[0] != "* SEARCH 1 2" {
		t.Errorf("SEARCH OLDER: %q", got)
	}
	if got := rc.expectTaggedAfter("k SEARCH YOUNGER 3600", "k", "OK"); got[0] != "* SEARCH" {
		t.Errorf("SEARCH YOUNGER: %q", got)
	}
	// MOVE keeps the EMAILID.
	rc.expectTaggedAfter("l MOVE 2 Archive2", "l", "OK")
	rc.expectTaggedAfter("m SELECT Archive2", "m", "OK")
	if got := rc.expectTaggedAfter("n FETCH 1 (EMAILID)", "n", "OK"); got[0] != "* 1 FETCH (EMAILID ("+m2[2]+"))" {
		t.Errorf("EMAILID after MOVE: %q (was %s)", got, m2[2])
	}
}
