package imapd

import (
	"fmt"
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

// TestESortAndPartial: SORT RETURN answers ESEARCH (RFC 5267 ESORT) with
// ALL and PARTIAL in the sort's order; SEARCH and SORT take PARTIAL
// ranges, negative ones from the end (RFC 9394).
func TestESortAndPartial(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	// Distinct internal dates, so that ARRIVAL orders them.
	for i := 1; i <= 5; i++ {
		msg := "Subject: m\r\n\r\nbody\r\n"
		rc.expectTaggedAfter(fmt.Sprintf("p%d APPEND INBOX \"0%d-Mar-2024 10:00:00 +0000\" {%d+}\r\n%s", i, i, len(msg), msg), fmt.Sprintf("p%d", i), "OK")
	}
	rc.expectTaggedAfter("a SELECT INBOX", "a", "OK")
	for _, c := range []struct{ cmd, want string }{
		{"SORT RETURN (MIN MAX COUNT) (ARRIVAL) US-ASCII 1:5", `* ESEARCH (TAG "t") MIN 1 MAX 5 COUNT 5`},
		{"SORT RETURN (ALL) (REVERSE ARRIVAL) US-ASCII ALL", `* ESEARCH (TAG "t") ALL 5,4,3,2,1`},
		{"SORT RETURN (PARTIAL 2:4) (REVERSE ARRIVAL) US-ASCII ALL", `* ESEARCH (TAG "t") PARTIAL (2:4 4,3,2)`},
		{"SORT RETURN (PARTIAL 4:2) (ARRIVAL) US-ASCII ALL", `* ESEARCH (TAG "t") PARTIAL (2:4 2:4)`},
		{"SEARCH RETURN (PARTIAL 1:6) ALL", `* ESEARCH (TAG "t") PARTIAL (1:6 1:5)`},
		{"SEARCH RETURN (PARTIAL 6:6) ALL", `* ESEARCH (TAG "t") PARTIAL (6:6 NIL)`},
		{"SEARCH RETURN (PARTIAL -1:-2) ALL", `* ESEARCH (TAG "t") PARTIAL (-2:-1 4:5)`},
		{"SEARCH RETURN (PARTIAL 2:3) 1:2,4:5", `* ESEARCH (TAG "t") PARTIAL (2:3 2,4)`},
		{"UID SEARCH RETURN (COUNT PARTIAL 1:1) ALL", `* ESEARCH (TAG "t") UID COUNT 5 PARTIAL (1:1 1)`},
	} {
		if got := rc.expectTaggedAfter("t "+c.cmd, "t", "OK"); got[0] != c.want {
			t.Errorf("%s: %q, want %q", c.cmd, got, c.want)
		}
	}
	for _, bad := range []string{"SORT RETURN (PARTIAL 1) (ARRIVAL) US-ASCII ALL", "SEARCH RETURN (PARTIAL 1:*) ALL",
		"SEARCH RETURN (PARTIAL -1:2) ALL", "SEARCH RETURN (PARTIAL 0:2) ALL"} {
		rc.expectTaggedAfter("b "+bad, "b", "BAD")
	}
}

// TestReplace: REPLACE stores the new message, then expunges the old one
// (RFC 8508); a failed append keeps the original.
func TestReplace(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("Drafts", simpleMsg)
	rc := env.login()
	rc.expectTaggedAfter("a SELECT Drafts", "a", "OK")
	msg := "Subject: draft v2\r\n\r\nsecond version\r\n"
	got := rc.expectTaggedAfter(fmt.Sprintf("b REPLACE 1 Drafts (\\Draft) {%d+}\r\n%s", len(msg), msg), "b", "OK")
	if len(got) < 3 || !strings.HasPrefix(got[0], "* OK [APPENDUID ") || !contains(got, "* 1 EXPUNGE") {
		t.Fatalf("REPLACE: %q", got)
	}
	got = rc.expectTaggedAfter("c FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])", "c", "OK")
	if joined := strings.Join(got, "\n"); strings.Count(joined, "* ") != 1 || !strings.Contains(joined, "draft v2") || !strings.Contains(joined, `\Draft`) {
		t.Errorf("after REPLACE: %q", got)
	}
	rc.expectTaggedAfter(fmt.Sprintf("d UID REPLACE 999 Drafts {%d+}\r\n%s", len(msg), msg), "d", "NO")
	rc.expectTaggedAfter(fmt.Sprintf("e REPLACE 1 NoSuchBox {%d+}\r\n%s", len(msg), msg), "e", "NO [TRYCREATE]")
	if got := rc.expectTaggedAfter("f STATUS Drafts (MESSAGES)", "f", "OK"); got[0] != "* STATUS Drafts (MESSAGES 1)" {
		t.Errorf("failed REPLACEs changed the mailbox: %q", got)
	}
}

// TestMultiSearch: ESEARCH IN (...) searches several mailboxes and answers
// per mailbox with MAILBOX and UIDVALIDITY, in UIDs (RFC 7377).
func TestMultiSearch(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	env.deliver("INBOX", strings.Replace(simpleMsg, "Hello there", "Quarterly figures", 1))
	rc := env.login()
	rc.expectTaggedAfter("a CREATE Work/Reports", "a", "OK")
	env.deliver("Work/Reports", strings.Replace(simpleMsg, "Hello there", "Quarterly figures", 1))
	got := rc.expectTaggedAfter(`b ESEARCH IN (personal) RETURN (ALL COUNT) SUBJECT quarterly`, "b", "OK")
	if len(got) != 3 || !regexp.MustCompile(`^\* ESEARCH \(TAG "b" MAILBOX INBOX UIDVALIDITY \d+\) UID ALL 2 COUNT 1$`).MatchString(got[0]) ||
		!regexp.MustCompile(`^\* ESEARCH \(TAG "b" MAILBOX Work/Reports UIDVALIDITY \d+\) UID ALL 1 COUNT 1$`).MatchString(got[1]) {
		t.Errorf("ESEARCH IN (personal): %q", got)
	}
	got = rc.expectTaggedAfter(`c ESEARCH IN (subtree Work) SUBJECT quarterly`, "c", "OK")
	if len(got) != 2 || !strings.Contains(got[0], "MAILBOX Work/Reports") {
		t.Errorf("ESEARCH IN (subtree Work): %q", got)
	}
	if got := rc.expectTaggedAfter(`d ESEARCH IN (mailboxes Trash) ALL`, "d", "OK"); len(got) != 1 {
		t.Errorf("an empty mailbox answers nothing: %q", got)
	}
	rc.expectTaggedAfter(`e ESEARCH IN (personal) 1:2`, "e", "BAD")
	rc.expectTaggedAfter(`f ESEARCH IN (selected) ALL`, "f", "BAD")
	rc.expectTaggedAfter("g SELECT INBOX", "g", "OK")
	if got := rc.expectTaggedAfter(`h ESEARCH 1:2 SUBJECT quarterly`, "h", "OK"); !regexp.MustCompile(`MAILBOX INBOX UIDVALIDITY \d+\) UID ALL 2$`).MatchString(got[0]) {
		t.Errorf("ESEARCH of the selected mailbox: %q", got)
	}
}

// TestMetadata: SETMETADATA and GETMETADATA on a mailbox and on the
// server, with DEPTH, MAXSIZE (LONGENTRIES), removal by NIL, the limits,
// and entries going with their mailbox (RFC 5464).
func TestMetadata(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	rc.expectTaggedAfter(`a SETMETADATA INBOX (/private/comment "my inbox" /shared/comment "shared note" /private/vendor/x/a "1" /private/vendor/x/a/b "2")`, "a", "OK")
	if got := rc.expectTaggedAfter(`b GETMETADATA INBOX /private/comment`, "b", "OK"); len(got) != 3 || got[0] != `* METADATA INBOX (/private/comment {8}` || got[1] != `my inbox)` {
		t.Errorf("GETMETADATA one entry: %q", got)
	}
	got := strings.Join(rc.expectTaggedAfter(`c GETMETADATA (DEPTH 1) INBOX (/private/vendor/x)`, "c", "OK"), "\n")
	if !strings.Contains(got, "/private/vendor/x/a {1}") || strings.Contains(got, "/private/vendor/x/a/b") {
		t.Errorf("DEPTH 1: %q", got)
	}
	got = strings.Join(rc.expectTaggedAfter(`d GETMETADATA (DEPTH infinity) INBOX (/private/vendor)`, "d", "OK"), "\n")
	if !strings.Contains(got, "/private/vendor/x/a/b {1}") {
		t.Errorf("DEPTH infinity: %q", got)
	}
	if got := rc.expectTaggedAfter(`e GETMETADATA (MAXSIZE 5) INBOX (/private/comment /shared/comment)`, "e", "OK"); len(got) != 1 || !strings.Contains(got[0], "[METADATA LONGENTRIES 11]") {
		t.Errorf("MAXSIZE: %q", got)
	}
	rc.expectTaggedAfter(`f SETMETADATA INBOX (/private/comment NIL)`, "f", "OK")
	if got := rc.expectTaggedAfter(`g GETMETADATA INBOX /private/comment`, "g", "OK"); len(got) != 1 {
		t.Errorf("after NIL: %q", got)
	}
	rc.expectTaggedAfter(`h SETMETADATA "" (/private/motd "hello")`, "h", "OK")
	if got := rc.expectTaggedAfter(`i GETMETADATA "" /private/motd`, "i", "OK"); !strings.HasPrefix(got[0], `* METADATA "" (/private/motd {5}`) {
		t.Errorf("server metadata: %q", got)
	}
	rc.expectTaggedAfter(`j SETMETADATA INBOX (/other/x "v")`, "j", "BAD")
	rc.expectTaggedAfter(`k GETMETADATA INBOX /private/*`, "k", "BAD")
	rc.expectTaggedAfter(`l SETMETADATA Nope (/private/x "v")`, "l", "NO")
	big := strings.Repeat("x", maxMetadataValue+1)
	if got := rc.expectTaggedAfter(fmt.Sprintf("m SETMETADATA INBOX (/private/big {%d+}\r\n%s)", len(big), big), "m", "NO"); !strings.Contains(got[len(got)-1], "[METADATA MAXSIZE") {
		t.Errorf("too large: %q", got)
	}
	batch := func(prefix string, n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, " /private/%s%d \"v\"", prefix, i)
		}
		return "(" + b.String()[1:] + ")"
	}
	// 3 entries are there: 100 + 97 more fill the mailbox to 200.
	rc.expectTaggedAfter("n SETMETADATA INBOX "+batch("n", maxMetadataPerCmd), "n", "OK")
	rc.expectTaggedAfter("o SETMETADATA INBOX "+batch("m", maxMetadataEntries-maxMetadataPerCmd-3), "o", "OK")
	if got := rc.expectTaggedAfter("p SETMETADATA INBOX "+batch("q", 1), "p", "NO"); !strings.Contains(got[len(got)-1], "[METADATA TOOMANY]") {
		t.Errorf("too many: %q", got)
	}
	// A mailbox's entries go with it.
	rc.expectTaggedAfter(`q CREATE Tmp`, "q", "OK")
	rc.expectTaggedAfter(`r SETMETADATA Tmp (/private/comment "x")`, "r", "OK")
	rc.expectTaggedAfter(`s DELETE Tmp`, "s", "OK")
	rc.expectTaggedAfter(`t CREATE Tmp`, "t", "OK")
	if got := rc.expectTaggedAfter(`u GETMETADATA Tmp /private/comment`, "u", "OK"); len(got) != 1 {
		t.Errorf("metadata of a deleted mailbox came back: %q", got)
	}
}
