package imapd

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestListExtended(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	for _, l := range []string{
		"a CREATE Work/Projects/Alpha", "b SUBSCRIBE Work/Projects/Alpha", "c SUBSCRIBE Sent",
		`d CREATE Lists (USE (\Flagged))`, `e CREATE Drafts2 (USE (\Drafts \Sent))`,
		`f CREATE Mine (USE (\Drafts))`, "g CREATE Foo (BOGUS (x))",
	} {
		tag := strings.Fields(l)[0]
		switch tag {
		case "d", "e":
			got := rc.expectTaggedAfter(l, tag, "NO")
			if !strings.Contains(got[len(got)-1], "[USEATTR]") {
				t.Fatalf("%s: %q", l, got)
			}
		case "g":
			rc.expectTaggedAfter(l, tag, "BAD")
		default:
			rc.expectTaggedAfter(l, tag, "OK")
		}
	}
	// RFC 5258 §3.5: Work and Work/Projects are not subscribed but have a
	// subscribed child: listed with CHILDINFO under RECURSIVEMATCH when
	// the pattern does not list that child itself ("%" stops at "/").
	got := rc.expectTaggedAfter(`h LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)`, "h", "OK")
	// The default mailboxes are subscribed.
	want := []string{
		`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
		`* LIST (\HasNoChildren \Subscribed \Trash) "/" Trash`,
		`* LIST (\HasChildren) "/" Work ("CHILDINFO" ("SUBSCRIBED"))`,
		`* LIST (\HasNoChildren \Subscribed \Sent) "/" Sent`,
	}
	for _, w := range want {
		if !contains(got, w) {
			t.Errorf("RECURSIVEMATCH %%: missing %q in %q", w, got)
		}
	}
	if len(got) != 8 {
		t.Errorf("RECURSIVEMATCH %%: %q", got)
	}
	// With "*" the subscribed child is listed itself, so its parents
	// need no CHILDINFO (as Dovecot answers; imaptest listext).
	got = rc.expectTaggedAfter(`h2 LIST (SUBSCRIBED RECURSIVEMATCH) "" "*" RETURN (CHILDREN)`, "h2", "OK")
	if !contains(got, `* LIST (\HasNoChildren \Subscribed) "/" Work/Projects/Alpha`) || contains(got, `* LIST (\HasChildren) "/" Work ("CHILDINFO" ("SUBSCRIBED"))`) || len(got) != 8 {
		t.Errorf("RECURSIVEMATCH *: %q", got)
	}
	got = rc.expectTaggedAfter(`i LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE STATUS (MESSAGES APPENDLIMIT SIZE))`, "i", "OK")
	if len(got) != 13 || !contains(got, `* LIST (\HasNoChildren \Drafts) "/" Mine`) ||
		!contains(got, "* STATUS Mine (MESSAGES 0 APPENDLIMIT 1048576 SIZE 0)") || contains(got, "Work") {
		t.Errorf("SPECIAL-USE: %q", got)
	}
	got = rc.expectTaggedAfter(`j LIST "" "%" RETURN (SUBSCRIBED)`, "j", "OK")
	if !contains(got, `* LIST (\HasNoChildren \Subscribed \Sent) "/" Sent`) || !contains(got, `* LIST (\HasChildren) "/" Work`) {
		t.Errorf("RETURN (SUBSCRIBED): %q", got)
	}
	rc.expectTaggedAfter(`k LIST (RECURSIVEMATCH) "" "*"`, "k", "BAD")
	rc.expectTaggedAfter(`l LIST (BOGUS) "" "*"`, "l", "BAD")
	rc.expectTaggedAfter(`m LIST "" "*" RETURN (BOGUS)`, "m", "BAD")
	rc.expectTaggedAfter(`n LIST (REMOTE) "" "Sent"`, "n", "OK")
	got = rc.expectTaggedAfter("o STATUS INBOX (APPENDLIMIT SIZE)", "o", "OK")
	if !contains(got, "* STATUS INBOX (APPENDLIMIT 1048576 SIZE 0)") {
		t.Errorf("STATUS: %q", got)
	}
	// A parent without a mailbox of its own is \NonExistent in an
	// extended LIST (RFC 5258 §3.4), \Noselect in a basic one.
	rc.expectTaggedAfter("p DELETE Work/Projects", "p", "OK")
	got = rc.expectTaggedAfter(`q LIST () "" "Work/%"`, "q", "OK")
	if !contains(got, `* LIST (\NonExistent \HasChildren) "/" Work/Projects`) {
		t.Errorf("extended: %q", got)
	}
	got = rc.expectTaggedAfter(`r LIST "" "Work/%"`, "r", "OK")
	if !contains(got, `* LIST (\Noselect \HasChildren) "/" Work/Projects`) {
		t.Errorf("basic: %q", got)
	}
}

func (r *rawConn) expectTaggedAfter(line, tag, status string) []string {
	r.t.Helper()
	r.send(line)
	return r.expectTagged(tag, status)
}

// TestUTF8Accept: after ENABLE UTF8=ACCEPT mailbox names are UTF-8 both
// ways, quoted; before it they are modified UTF-7 (RFC 6855 §3).
func TestUTF8Accept(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	rc.expectTaggedAfter("a CREATE Entw&APw-rfe", "a", "OK")
	got := rc.expectTaggedAfter(`b LIST "" "Entw*"`, "b", "OK")
	if !contains(got, `"/" Entw&APw-rfe`) {
		t.Fatalf("rev1 LIST: %q", got)
	}
	got = rc.expectTaggedAfter("c ENABLE UTF8=ACCEPT", "c", "OK")
	if !contains(got, "* ENABLED UTF8=ACCEPT") {
		t.Fatalf("ENABLE: %q", got)
	}
	got = rc.expectTaggedAfter(`d LIST "" "Entw*"`, "d", "OK")
	if !contains(got, `"/" "Entwürfe"`) {
		t.Fatalf("UTF-8 LIST: %q", got)
	}
	rc.expectTaggedAfter(`e CREATE "Café/Ü"`, "e", "OK")
	got = rc.expectTaggedAfter(`f STATUS "Café/Ü" (MESSAGES)`, "f", "OK")
	if !contains(got, `* STATUS "Café/Ü" (MESSAGES 0)`) {
		t.Fatalf("STATUS: %q", got)
	}
	// Not UTF-8 (Latin-1 é): refused, so UTF-8 clients never see it.
	rc.expectTaggedAfter("f2 CREATE \"Caf\xe9\"", "f2", "NO")
	rc.expectTaggedAfter("g APPEND \"Café/Ü\" UTF8 (~{13+}\r\nSubject: é\r\n)", "g", "OK")
	// Strings are UTF-8 now: SEARCH may not name a charset, SORT and
	// THREAD only UTF-8 (RFC 6855 §3, erratum 4029).
	rc.expectTaggedAfter(`g1 SELECT "Café/Ü"`, "g1", "OK")
	rc.expectTaggedAfter(`g2 SEARCH CHARSET UTF-8 SUBJECT "é"`, "g2", "BAD")
	rc.expectTaggedAfter(`g3 SORT (ARRIVAL) US-ASCII ALL`, "g3", "BAD")
	rc.expectTaggedAfter(`g4 THREAD REFERENCES ISO-8859-1 ALL`, "g4", "BAD")
	if got := rc.expectTaggedAfter(`g5 SEARCH SUBJECT "é"`, "g5", "OK"); got[0] != "* SEARCH 1" {
		t.Errorf("SEARCH in UTF-8 without CHARSET: %q", got)
	}
	rc.expectTaggedAfter(`g6 SORT (ARRIVAL) UTF-8 ALL`, "g6", "OK")
	rc.expectTaggedAfter(`g7 UNSELECT`, "g7", "OK")
	// go-imap's client enables UTF8=ACCEPT and reads the names.
	c := env.client(nil)
	if _, err := c.Enable(imap.CapUTF8Accept).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "Caf*", nil).Collect()
	if err != nil || len(list) != 2 || list[1].Mailbox != "Café/Ü" {
		t.Fatalf("client LIST: %+v %v", list, err)
	}
	if err := c.Create("Ordner/Überblick", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrArchive}}).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err = c.List("", "*", &imap.ListOptions{SelectSpecialUse: true, ReturnStatus: &imap.StatusOptions{NumMessages: true}}).Collect()
	found := false
	for _, l := range list {
		found = found || l.Mailbox == "Ordner/Überblick" && l.Status != nil && hasAttr(l.Attrs, imap.MailboxAttrArchive)
	}
	if err != nil || len(list) != 6 || !found {
		t.Fatalf("client LIST SPECIAL-USE: %+v %v", list, err)
	}
}

// TestIMAP4rev2Behaviour: what changes once a client enables IMAP4rev2
// (RFC 9051): the LIST response in SELECT, no RECENT, ESEARCH by default,
// UTF-8 names, \NonExistent.
func TestIMAP4rev2Behaviour(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	rc := env.login()
	rc.expectTaggedAfter(`a CREATE "Ablage/Eingänge"`, "a", "OK")
	rc.expectTaggedAfter("a2 DELETE Ablage", "a2", "OK")
	got := rc.expectTaggedAfter("b SELECT INBOX", "b", "OK")
	if !contains(got, "* 1 RECENT") || contains(got, "* LIST") {
		t.Fatalf("rev1 SELECT: %q", got)
	}
	got = rc.expectTaggedAfter("c ENABLE IMAP4rev2", "c", "OK")
	if !contains(got, "* ENABLED IMAP4rev2") {
		t.Fatalf("ENABLE: %q", got)
	}
	got = rc.expectTaggedAfter("d SELECT INBOX", "d", "OK")
	if contains(got, "RECENT") || !contains(got, `* LIST (\HasNoChildren) "/" INBOX`) || !contains(got, "[CLOSED]") {
		t.Fatalf("rev2 SELECT: %q", got)
	}
	got = rc.expectTaggedAfter("e SEARCH ALL", "e", "OK")
	if !contains(got, `* ESEARCH (TAG "e") ALL 1`) {
		t.Fatalf("rev2 SEARCH: %q", got)
	}
	got = rc.expectTaggedAfter(`f LIST "" "Ablage*"`, "f", "OK")
	if !contains(got, `* LIST (\NonExistent \HasChildren) "/" Ablage`) || !contains(got, `"/" "Ablage/Eingänge"`) {
		t.Fatalf("rev2 LIST: %q", got)
	}
	got = rc.expectTaggedAfter(`g EXAMINE "Ablage/Eingänge"`, "g", "OK")
	if !contains(got, `* LIST (\HasNoChildren) "/" "Ablage/Eingänge"`) {
		t.Fatalf("rev2 EXAMINE: %q", got)
	}
}

// TestLSUBNoselect: RFC 3501 §6.3.9: LSUB "" % shows the unsubscribed
// parent of a subscribed mailbox as \Noselect; "*" shows only the child.
func TestLSUBNoselect(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	rc.expectTaggedAfter("a CREATE Projects/Alpha", "a", "OK")
	rc.expectTaggedAfter("b SUBSCRIBE Projects/Alpha", "b", "OK")
	rc.expectTaggedAfter("c UNSUBSCRIBE Projects", "c", "OK")
	got := rc.expectTaggedAfter(`d LSUB "" %`, "d", "OK")
	if !contains(got, `* LSUB (\Noselect \HasChildren) "/" Projects`) || contains(got, "Alpha") {
		t.Fatalf(`LSUB "" %%: %q`, got)
	}
	got = rc.expectTaggedAfter(`e LSUB "" *`, "e", "OK")
	if !contains(got, `* LSUB (\HasNoChildren \Subscribed) "/" Projects/Alpha`) {
		t.Fatalf(`LSUB "" *: %q`, got)
	}
	for _, l := range got {
		if strings.HasSuffix(l, `"/" Projects`) {
			t.Fatalf(`LSUB "" * lists the parent: %q`, got)
		}
	}
}

// TestListSubscribedDeleted: a subscribed mailbox deleted since stays on
// the subscription list as \NonExistent (RFC 3501 §6.3.6, RFC 5258 §3.4),
// LSUB shows it \Noselect, UNSUBSCRIBE takes it off, and creating it again
// brings it back subscribed.
func TestListSubscribedDeleted(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	for _, l := range []string{"a CREATE Gone", "b SUBSCRIBE Gone", "c DELETE Gone"} {
		rc.expectTaggedAfter(l, strings.Fields(l)[0], "OK")
	}
	got := rc.expectTaggedAfter(`d LIST (SUBSCRIBED) "" "G*"`, "d", "OK")
	if len(got) != 2 || got[0] != `* LIST (\NonExistent \HasNoChildren \Subscribed) "/" Gone` {
		t.Errorf("LIST (SUBSCRIBED) after DELETE: %q", got)
	}
	got = rc.expectTaggedAfter(`e LSUB "" "G*"`, "e", "OK")
	if len(got) != 2 || !strings.Contains(got[0], `\Noselect`) || !strings.HasSuffix(got[0], " Gone") {
		t.Errorf("LSUB after DELETE: %q", got)
	}
	if got := rc.expectTaggedAfter(`f LIST "" "G*"`, "f", "OK"); len(got) != 1 {
		t.Errorf("plain LIST lists a deleted mailbox: %q", got)
	}
	rc.expectTaggedAfter("g CREATE Gone", "g", "OK")
	got = rc.expectTaggedAfter(`h LIST (SUBSCRIBED) "" "G*"`, "h", "OK")
	if len(got) != 2 || got[0] != `* LIST (\HasNoChildren \Subscribed) "/" Gone` {
		t.Errorf("LIST (SUBSCRIBED) after CREATE again: %q", got)
	}
	rc.expectTaggedAfter("i DELETE Gone", "i", "OK")
	rc.expectTaggedAfter("j UNSUBSCRIBE Gone", "j", "OK")
	if got := rc.expectTaggedAfter(`k LIST (SUBSCRIBED) "" "G*"`, "k", "OK"); len(got) != 1 {
		t.Errorf("LIST (SUBSCRIBED) after UNSUBSCRIBE: %q", got)
	}
}
