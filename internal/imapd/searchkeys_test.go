package imapd

import (
	"context"
	"fmt"
	"testing"

	"postern/internal/store"
)

// searchEnv holds three messages, all with internal date 5 Mar 2024:
//
//	1 from Bob, "Hello there", body "Hi Alice, meeting at noon.", sent 5 Mar; \Seen \Flagged
//	2 from Jörg (encoded), subject "Café au lait" (encoded), base64 body
//	  "Grüße aus MÜNCHEN", X-Tag, Cc and Bcc, sent 1 Feb 23:30 -0800; $Work
//	3 multipart from Carol, no Date; \Deleted \Answered \Draft
func searchEnv(t *testing.T, mod func(*Config)) *rawConn {
	env := newTestEnv(t, mod)
	env.deliver("INBOX", simpleMsg)
	env.deliver("INBOX", "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@x.org>\r\nTo: dan@x.org\r\nCc: Erin <erin@x.org>\r\n"+
		"Bcc: fay@x.org\r\nSubject: =?UTF-8?Q?Caf=C3=A9_au_lait?=\r\nX-Tag: Blue-Green\r\n"+
		"Date: Thu, 01 Feb 2024 23:30:00 -0800\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
		"R3LDvMOfZSBhdXMgTcOcTkNIRU4=\r\n")
	env.deliver("INBOX", multipartMsg)
	rc := env.login()
	rc.send("s SELECT INBOX")
	rc.expectTagged("s", "OK")
	for i, cmd := range []string{`STORE 1 +FLAGS (\Seen \Flagged)`, `STORE 2 +FLAGS ($Work)`, `STORE 3 +FLAGS (\Deleted \Answered \Draft)`} {
		tag := fmt.Sprintf("f%d", i)
		rc.send(tag + " " + cmd)
		rc.expectTagged(tag, "OK")
	}
	return rc
}

// plainStore hides the cached envelopes, as for messages stored before
// they were kept: SEARCH SENT*, SORT and THREAD then parse the bodies. (A
// message whose text the store does not keep is the store's business;
// storetest covers it.)
type plainStore struct{ Store }

func (p plainStore) Messages(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error) {
	msgs, err := p.Store.Messages(ctx, mailboxID, from, to)
	for i := range msgs {
		msgs[i].Envelope = nil
	}
	return msgs, err
}

func TestSearchKeys(t *testing.T) {
	testSearchKeys(t, searchEnv(t, nil))
}

func TestSearchKeysParsing(t *testing.T) {
	testSearchKeys(t, searchEnv(t, func(c *Config) { c.Store = plainStore{c.Store} }))
}

func testSearchKeys(t *testing.T, rc *rawConn) {
	cases := []struct{ cmd, want string }{
		// BODY and TEXT are substring matches, not word prefixes.
		{"SEARCH BODY eting", "1"},
		{`SEARCH BODY "MEETING AT"`, "1"},
		{"SEARCH BODY noon.", "1"},
		{"SEARCH BODY {8+}\r\nmünchen", "2"},
		{"SEARCH CHARSET UTF-8 BODY {7+}\r\nGRÜßE", "2"},
		{"SEARCH BODY joerg", ""}, // only in the header
		{"SEARCH TEXT joerg", "2"},
		{"SEARCH TEXT ttach", "3"},
		{"SEARCH TEXT X-TAG", "2"},
		{`SEARCH BODY ""`, "1 2 3"},
		{"SEARCH HEADER X-Tag green", "2"},
		{`SEARCH HEADER x-tag ""`, "2"},
		{"SEARCH HEADER Subject {4+}\r\nfé ", "2"},
		{"SEARCH HEADER To green", ""},
		{`SEARCH HEADER Message-ID "1@example"`, "1"},
		{"SEARCH SUBJECT HELLO", "1"},
		{`SEARCH SUBJECT "café AU"`, "2"}, // UTF-8 in a quoted string (RFC 9051 QUOTED-CHAR)
		{"SEARCH FROM joerg@x.org TO dan", "2"},
		{"SEARCH SUBJECT {5+}\r\nCAFÉ", "2"},
		{"SEARCH FROM {4+}\r\nJÖR", "2"},
		{"SEARCH FROM bob@example.net", "1"},
		{"SEARCH TO alice", "1 3"},
		{"SEARCH CC erin", "2"},
		{"SEARCH BCC fay", "2"},
		{"SEARCH SENTON 1-Feb-2024", "2"}, // the date in the message's own zone
		{"SEARCH SENTBEFORE 2-Feb-2024", "2"},
		{`SEARCH SENTSINCE "5-Mar-2024"`, "1"},
		{"SEARCH ON 5-Mar-2024", "1 2 3"},
		{"SEARCH BEFORE 5-Mar-2024", ""},
		{"SEARCH SINCE 6-Mar-2024", ""},
		{"SEARCH SEEN", "1"},
		{"SEARCH UNSEEN", "2 3"},
		{"SEARCH FLAGGED", "1"},
		{"SEARCH UNFLAGGED", "2 3"},
		{"SEARCH ANSWERED DELETED DRAFT", "3"},
		{"SEARCH UNANSWERED UNDELETED UNDRAFT", "1 2"},
		{"SEARCH KEYWORD $work", "2"},
		{"SEARCH UNKEYWORD $Work", "1 3"},
		// This session selected the mailbox first: all three are recent.
		{"SEARCH NEW", "2 3"},
		{"SEARCH RECENT", "1 2 3"},
		{"SEARCH OLD", ""},
		{"SEARCH OR SEEN KEYWORD $Work", "1 2"},
		{"SEARCH NOT (OR SEEN DELETED)", "2"},
		{"SEARCH NOT (SEEN OR DELETED DRAFT)", "1 2 3"}, // SEEN AND (DELETED OR DRAFT) matches none
		{"SEARCH (SEEN FLAGGED) (ALL)", "1"},
		{"SEARCH 2:*", "2 3"},
		{"SEARCH *", "3"},
		{"SEARCH UID 1,3:*", "1 3"},
		{"SEARCH NOT 1:2", "3"},
		{"SEARCH LARGER 1 SMALLER 200", "1"},
		{"SEARCH CHARSET US-ASCII BODY eting", "1"},
	}
	for i, c := range cases {
		tag := fmt.Sprintf("t%d", i)
		rc.send(tag + " " + c.cmd)
		lines := rc.expectTagged(tag, "OK")
		want := "* SEARCH"
		if c.want != "" {
			want += " " + c.want
		}
		if len(lines) != 2 || lines[0] != want {
			t.Errorf("%s: got %q, want %q", c.cmd, lines, want)
		}
	}
}

func TestSearchReturnAndSaved(t *testing.T) {
	rc := searchEnv(t, nil)
	cases := []struct{ cmd, want string }{
		{"SEARCH RETURN (MIN MAX COUNT) ALL", `* ESEARCH (TAG "t0") MIN 1 MAX 3 COUNT 3`},
		{"SEARCH RETURN () 2:3", `* ESEARCH (TAG "t1") ALL 2:3`},
		{"UID SEARCH RETURN (COUNT) NOT ALL", `* ESEARCH (TAG "t2") UID COUNT 0`},
		{"SEARCH RETURN (SAVE) OR SEEN KEYWORD $Work", ""},
		{"SEARCH $", "* SEARCH 1 2"},
		{"UID SEARCH UID $ NOT SEEN", "* SEARCH 2"},
		{"SEARCH RETURN (SAVE MAX) ALL", `* ESEARCH (TAG "t6") MAX 3`},
		{"SEARCH $", "* SEARCH 3"},
		{"SEARCH RETURN (SAVE MIN COUNT) 2:3", `* ESEARCH (TAG "t8") MIN 2 COUNT 2`},
		{"SEARCH $", "* SEARCH 2 3"},
	}
	for i, c := range cases {
		tag := fmt.Sprintf("t%d", i)
		rc.send(tag + " " + c.cmd)
		lines := rc.expectTagged(tag, "OK")
		if c.want == "" && len(lines) != 1 || c.want != "" && (len(lines) != 2 || lines[0] != c.want) {
			t.Errorf("%s: got %q, want %q", c.cmd, lines, c.want)
		}
	}
	for i, c := range []struct{ cmd, status string }{
		{"SEARCH RETURN (FIRST) ALL", "BAD"},
		{"SEARCH CHARSET KOI8-R BODY x", "NO [BADCHARSET"},
		{"SEARCH SENTON 31-Feb-2024", "BAD"},
		{"SEARCH OR SEEN", "BAD"},
		{"SEARCH (SEEN", "BAD"},
		{"SEARCH LARGER x", "BAD"},
		{"SEARCH 0:3", "BAD"},
		{"SEARCH ALL", "OK"},
	} {
		tag := fmt.Sprintf("e%d", i)
		rc.send(tag + " " + c.cmd)
		rc.expectTagged(tag, c.status)
	}
}
