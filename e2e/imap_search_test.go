package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// sortMail is one message of the SORT/THREAD mailbox, sent over SMTP.
type sortMail struct {
	from, subject, date, id, extra, body string
}

// TestIMAPSortThreadSearchPython delivers a small discussion over SMTP and
// checks SEARCH, SORT and THREAD as Python's imaplib sees them.
func TestIMAPSortThreadSearchPython(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	mails := []sortMail{
		{`"Zed" <zed@remote.test>`, "Re: Project plan", "Sun, 03 Mar 2024 10:00:00 +0000", "p2@remote.test",
			"References: <p1@remote.test>\r\n", "I agree with the timeline.\r\n"},
		{`Amy <amy@remote.test>`, "Project plan", "Fri, 01 Mar 2024 10:00:00 +0000", "p1@remote.test",
			"", "Here is the plan: kickoff on Monday.\r\n"},
		{`Bob <bob2@remote.test>`, "=?UTF-8?Q?=C3=84pfel?=", "Tue, 05 Mar 2024 10:00:00 +0000", "a1@remote.test",
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
			"Gr=C3=BC=C3=9Fe aus M=C3=BCnchen\r\n"},
		{`Carl <carl@remote.test>`, "Fwd: Project plan", "Sat, 02 Mar 2024 10:00:00 +0000", "p3@remote.test",
			"In-Reply-To: <p1@remote.test>\r\n", "Forwarding the plan.\r\n"},
		{`amy <amy@remote.test>`, "bananas", "Mon, 04 Mar 2024 10:00:00 +0000", "b1@remote.test", "", "Yellow.\r\n"},
	}
	for _, m := range mails {
		msg := "From: " + m.from + "\r\nTo: " + alice + "\r\nSubject: " + m.subject + "\r\nDate: " + m.date +
			"\r\nMessage-ID: <" + m.id + ">\r\n" + m.extra + "\r\n" + m.body
		var res struct {
			OK    bool
			Error any
		}
		runPy(t, "smtp_send.py", map[string]any{
			"host": "127.0.0.1", "port": port(t, s.Addr["smtp"]),
			"from": "sender@remote.test", "to": []string{alice}, "msg": msg,
		}, &res)
		if !res.OK {
			t.Fatalf("smtplib send: %v", res.Error)
		}
	}
	ops := []struct {
		op   []any
		want string // the untagged data imaplib returns
	}{
		{[]any{"sort", "(SUBJECT)", "UTF-8", "ALL"}, "3 5 1 2 4"},
		{[]any{"sort", "(REVERSE DATE)", "UTF-8", "ALL"}, "3 5 1 4 2"},
		{[]any{"sort", "(FROM SUBJECT)", "US-ASCII", "ALL"}, "5 2 3 4 1"}, // amy: bananas before project
		{[]any{"sort", "(DISPLAYFROM)", "UTF-8", "NOT", "FROM", "zed"}, "2 5 3 4"},
		{[]any{"uid", "SORT", "(SIZE)", "UTF-8", "1:2"}, "2 1"}, // 1 has References: larger
		{[]any{"thread", "REFERENCES", "UTF-8", "ALL"}, "(2 (4)(1))(5)(3)"},
		{[]any{"thread", "ORDEREDSUBJECT", "UTF-8", "ALL"}, "(2 (4)(1))(5)(3)"},
		{[]any{"thread", "REFERENCES", "UTF-8", "SINCE", "1-Jan-2000", "NOT", "4"}, "(2 1)(5)(3)"},
		{[]any{"search", nil, "BODY", `"gree with"`}, "1"},
		{[]any{"search", nil, "BODY", "ICKOF"}, "2"},
		{[]any{"search", nil, "TEXT", "p3@remote"}, "4"},
		{[]any{"search", nil, "HEADER", "Message-ID", "p3"}, "4"},
		{[]any{"search", nil, "SENTBEFORE", "3-Mar-2024"}, "2 4"},
		{[]any{"search", nil, "OR", "FROM", "amy", "SUBJECT", "fwd"}, "2 4 5"},
		{[]any{"literal_search", "UTF-8", "BODY", "münchen"}, "3"},
		{[]any{"literal_search", "UTF-8", "SUBJECT", "äpf"}, "3"},
	}
	req := map[string]any{"host": "127.0.0.1", "port": port(t, s.Addr["imap"]), "user": alice, "pass": pass}
	var list [][]any
	for _, o := range ops {
		list = append(list, o.op)
	}
	req["ops"] = list
	var res struct {
		Capabilities []string
		Results      [][]any
		Error        any
	}
	runPy(t, "imap_sort.py", req, &res)
	if res.Error != nil {
		t.Fatalf("imaplib: %v", res.Error)
	}
	caps := strings.Join(res.Capabilities, " ")
	for _, c := range []string{"SORT", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "ESEARCH", "SEARCHRES"} {
		if !strings.Contains(" "+caps+" ", " "+c+" ") {
			t.Errorf("capability %s missing: %s", c, caps)
		}
	}
	if len(res.Results) != len(ops) {
		t.Fatalf("%d results for %d ops: %v", len(res.Results), len(ops), res.Results)
	}
	for i, o := range ops {
		got := fmt.Sprint(res.Results[i])
		if want := fmt.Sprint([]any{"OK", []any{o.want}}); got != want {
			t.Errorf("%v: got %s, want %s", o.op, got, want)
		}
	}
}
