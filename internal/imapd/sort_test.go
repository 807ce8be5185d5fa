package imapd

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// sortMsg builds a message for the SORT and THREAD transcripts.
func sortMsg(from, to, cc, subject, date, id, refs string, bodyLen int) string {
	h := "From: " + from + "\r\nTo: " + to + "\r\n"
	if cc != "" {
		h += "Cc: " + cc + "\r\n"
	}
	h += "Subject: " + subject + "\r\nDate: " + date + "\r\nMessage-ID: <" + id + ">\r\n"
	if refs != "" {
		h += "References: " + refs + "\r\n"
	}
	body := ""
	for len(body) < bodyLen {
		body += "line of body text\r\n"
	}
	return h + "\r\n" + body
}

// sortEnv holds five messages:
//
//	1 zed@, "Zed Z", to bob, Subject "Re: apples", 3 Mar, refs 2
//	2 amy@, "Amy", to carl, Subject "apples", 1 Mar (earliest)
//	3 bob@, no name, to amy, cc zoe, Subject "=?UTF-8?Q?=C3=84pfel?=", 5 Mar, large
//	4 carl@, "Carl", to zed, Subject "[list] Bananas (fwd)", 2 Mar, refs <nope@x> 2 1
//	5 amy@, "amy", to bob, Subject "bananas", Date missing
func sortEnv(t *testing.T, mod func(*Config)) *rawConn {
	env := newTestEnv(t, mod)
	env.deliver("INBOX", sortMsg(`"Zed Z" <zed@x.org>`, "bob@x.org", "", "Re: apples", "Sun, 03 Mar 2024 10:00:00 +0000", "1@x", "<Two@X>", 10))
	env.deliver("INBOX", sortMsg(`Amy <amy@x.org>`, "carl@x.org", "", "apples", "Fri, 01 Mar 2024 10:00:00 +0000", "Two@X", "", 10))
	env.deliver("INBOX", sortMsg(`bob@x.org`, "amy@x.org", "zoe@x.org", "=?UTF-8?Q?=C3=84pfel?=", "Tue, 05 Mar 2024 10:00:00 +0000", "3@x", "", 2000))
	env.deliver("INBOX", sortMsg(`Carl <carl@x.org>`, "zed@x.org", "", "[list] Bananas (fwd)", "Sat, 02 Mar 2024 10:00:00 +0100", "4@x", "<nope@x> <Two@X> <1@x>", 10))
	raw := sortMsg(`amy <amy@x.org>`, "bob@x.org", "", "bananas", "X", "5@x", "", 10)
	env.deliver("INBOX", raw[:len("From: amy <amy@x.org>\r\nTo: bob@x.org\r\nSubject: bananas\r\n")]+raw[len("From: amy <amy@x.org>\r\nTo: bob@x.org\r\nSubject: bananas\r\nDate: X\r\n"):])
	rc := env.login()
	rc.send("s SELECT INBOX")
	rc.expectTagged("s", "OK")
	return rc
}

func TestSortTranscript(t *testing.T) {
	rc := sortEnv(t, nil)
	cases := []struct{ cmd, want string }{
		// Ties (1 and 2 share the base subject "apples") go by sequence number.
		{"SORT (SUBJECT) UTF-8 ALL", "* SORT 1 2 3 4 5"},
		{"SORT (SUBJECT REVERSE DATE) UTF-8 ALL", "* SORT 1 2 3 5 4"},
		{"SORT (FROM) UTF-8 ALL", "* SORT 2 5 3 4 1"},
		{"SORT (REVERSE FROM) US-ASCII ALL", "* SORT 1 4 3 2 5"},
		{"SORT (TO) UTF-8 ALL", "* SORT 3 1 5 2 4"},
		{"SORT (CC) UTF-8 ALL", "* SORT 1 2 4 5 3"},
		// 5 has no Date: its internal date (5 Mar 10:00 UTC) stands in.
		{"SORT (DATE) UTF-8 ALL", "* SORT 2 4 1 3 5"},
		{"SORT (SIZE) UTF-8 ALL", "* SORT 5 2 1 4 3"},
		{"SORT (ARRIVAL) UTF-8 ALL", "* SORT 1 2 3 4 5"}, // one internal date: mailbox order
		{"SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 2 5 3 4 1"},
		{"SORT (DISPLAYTO) UTF-8 ALL", "* SORT 3 1 5 2 4"},
		{"SORT (ARRIVAL) UTF-8 SUBJECT apples", "* SORT 1 2"},
		{"UID SORT (REVERSE DATE) UTF-8 2:4", "* SORT 3 4 2"},
		{"SORT (SUBJECT) UTF-8 NOT ALL", "* SORT"},
	}
	for i, c := range cases {
		tag := fmt.Sprintf("t%d", i)
		rc.send(tag + " " + c.cmd)
		lines := rc.expectTagged(tag, "OK")
		if len(lines) != 2 || lines[0] != c.want {
			t.Errorf("%s: got %q, want %q", c.cmd, lines, c.want)
		}
	}
}

func TestThreadTranscript(t *testing.T) {
	testThreadTranscript(t, sortEnv(t, nil))
}

// TestThreadTranscriptParsing threads messages whose envelopes are not
// cached, parsing their bodies.
func TestThreadTranscriptParsing(t *testing.T) {
	testThreadTranscript(t, sortEnv(t, func(c *Config) { c.Store = plainStore{c.Store} }))
}

func testThreadTranscript(t *testing.T, rc *rawConn) {
	cases := []struct{ cmd, want string }{
		// 2 is the root; 1 replies to it; 4 references 2 and 1 (through a
		// missing message, which is pruned); 3 and 5 stand alone, but 5
		// ("bananas") and 4 ("Bananas (fwd)") share a base subject.
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (2 1 4)(3)(5)"},
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (2 1)(4 5)(3)"},
		{"UID THREAD REFERENCES UTF-8 NOT 1", "* THREAD (2 4)(3)(5)"},
		{"THREAD REFERENCES UTF-8 3", "* THREAD (3)"},
		{"THREAD REFERENCES UTF-8 NOT ALL", "* THREAD"},
	}
	for i, c := range cases {
		tag := fmt.Sprintf("t%d", i)
		rc.send(tag + " " + c.cmd)
		lines := rc.expectTagged(tag, "OK")
		if len(lines) != 2 || lines[0] != c.want {
			t.Errorf("%s: got %q, want %q", c.cmd, lines, c.want)
		}
	}
}

func TestSortThreadErrors(t *testing.T) {
	rc := sortEnv(t, nil)
	rc.send("c1 CAPABILITY")
	if lines := rc.expectTagged("c1", "OK"); !contains(lines, " SORT ") || !contains(lines, "THREAD=REFERENCES") || !contains(lines, "THREAD=ORDEREDSUBJECT") {
		t.Fatalf("capabilities: %q", lines)
	}
	for i, c := range []struct{ cmd, status string }{
		{"SORT (SUBJECT) KOI8-R ALL", "NO [BADCHARSET (UTF-8 US-ASCII)]"},
		{"THREAD REFERENCES ISO-8859-1 ALL", "NO [BADCHARSET (UTF-8 US-ASCII)]"},
		{"SEARCH CHARSET X-UNKNOWN ALL", "NO [BADCHARSET (UTF-8 US-ASCII)]"},
		{"SORT () UTF-8 ALL", "BAD"},
		{"SORT (REVERSE) UTF-8 ALL", "BAD"},
		{"SORT (SUBJECT) UTF-8", "BAD"},
		{"SORT (COLOUR) UTF-8 ALL", "BAD"},
		{"THREAD JWZ UTF-8 ALL", "BAD"},
		{"SORT SUBJECT UTF-8 ALL", "BAD"},
		{"SORT (SUBJECT) UTF-8 ALL", "OK"}, // still usable
	} {
		tag := fmt.Sprintf("e%d", i)
		rc.send(tag + " " + c.cmd)
		rc.expectTagged(tag, c.status)
	}
}

// TestClientSortThread checks SORT and THREAD with go-imap's client, on
// messages added with APPEND.
func TestClientSortThread(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client(nil)
	appendMsg(t, c, "INBOX", sortMsg("Amy <amy@x.org>", "bob@x.org", "", "plan", "Fri, 01 Mar 2024 10:00:00 +0000", "p1@x", "", 10))
	appendMsg(t, c, "INBOX", sortMsg("Zed <zed@x.org>", "bob@x.org", "", "Re: plan", "Sun, 03 Mar 2024 10:00:00 +0000", "p2@x", "<p1@x>", 10))
	appendMsg(t, c, "INBOX", sortMsg("Bob <bob@x.org>", "amy@x.org", "", "Re: plan", "Sat, 02 Mar 2024 10:00:00 +0000", "p3@x", "<p1@x>", 300))
	appendMsg(t, c, "INBOX", sortMsg("Cy <cy@x.org>", "amy@x.org", "", "lunch", "Thu, 29 Feb 2024 10:00:00 +0000", "l1@x", "", 10))
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	nums, err := c.Sort(&imapclient.SortOptions{SearchCriteria: &imap.SearchCriteria{},
		SortCriteria: []imapclient.SortCriterion{{Key: imapclient.SortKeySubject}, {Key: imapclient.SortKeyDate, Reverse: true}}}).Wait()
	if err != nil || fmt.Sprint(nums) != "[4 2 3 1]" {
		t.Fatalf("SORT: %v %v", nums, err)
	}
	nums, err = c.UIDSort(&imapclient.SortOptions{SearchCriteria: &imap.SearchCriteria{Body: []string{"line of"}},
		SortCriteria: []imapclient.SortCriterion{{Key: imapclient.SortKeySize, Reverse: true}, {Key: imapclient.SortKeyFrom}}}).Wait()
	if err != nil || fmt.Sprint(nums) != "[3 2 1 4]" {
		t.Fatalf("UID SORT: %v %v", nums, err)
	}
	threads, err := c.Thread(&imapclient.ThreadOptions{Algorithm: imap.ThreadReferences, SearchCriteria: &imap.SearchCriteria{}}).Wait()
	if err != nil || fmt.Sprint(threads) != "[{[4] []} {[1] [{[3] []} {[2] []}]}]" {
		t.Fatalf("THREAD: %v %v", threads, err)
	}
	threads, err = c.UIDThread(&imapclient.ThreadOptions{Algorithm: imap.ThreadOrderedSubject,
		SearchCriteria: &imap.SearchCriteria{Not: []imap.SearchCriteria{{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "zed"}}}}}}).Wait()
	if err != nil || fmt.Sprint(threads) != "[{[4] []} {[1 3] []}]" {
		t.Fatalf("UID THREAD: %v %v", threads, err)
	}
}
