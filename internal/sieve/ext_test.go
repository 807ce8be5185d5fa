package sieve

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestApplyHeaderEdits(t *testing.T) {
	raw := "Received: a\r\nSubject: hi\r\nX-A: 1\r\nX-A: 2\r\n  folded\r\nX-A: 3\r\nAuto-Submitted: no\r\n\r\nbody\r\nX-A: not a header\r\n"
	env := testEnv()
	env.Message = rawMsg(raw)
	res := mustRun(t, `require ["editheader","index"];
addheader "X-Top" "top";
addheader :last "X-Bottom" "Grüße";
deleteheader :index 2 "x-a";
deleteheader :contains "x-a" "3";
deleteheader "received";
deleteheader "auto-submitted";
`, env)
	out, err := ApplyHeaderEdits([]byte(raw), res.HeaderEdits)
	if err != nil {
		t.Fatal(err)
	}
	want := "X-Top: top\r\nReceived: a\r\nSubject: hi\r\nX-A: 1\r\nAuto-Submitted: no\r\nX-Bottom: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nbody\r\nX-A: not a header\r\n"
	if string(out) != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
	// :index :last counts from the bottom.
	res = mustRun(t, `require ["editheader","index"]; deleteheader :index 1 :last "x-a";`, env)
	out, _ = ApplyHeaderEdits([]byte(raw), res.HeaderEdits)
	if strings.Contains(string(out), "X-A: 3") || !strings.Contains(string(out), "X-A: 2") {
		t.Errorf(":last: %q", out)
	}
	// A long added value is folded.
	long := strings.Repeat("word ", 40)
	res = mustRun(t, `require "editheader"; addheader "X-Long" "`+long+`";`, env)
	out, _ = ApplyHeaderEdits([]byte(raw), res.HeaderEdits)
	for _, line := range strings.Split(string(out), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
	}
}

func TestVacationSkipReason(t *testing.T) {
	base := "From: Alice <alice@example.org>\nTo: bob@example.com\nSubject: hi\n"
	v := &Vacation{Reason: "away"}
	tests := []struct {
		name, from, hdr string
		user            []string
		want            string
	}{
		{"ok", "alice@example.org", base, nil, ""},
		{"null sender", "", base, nil, "null envelope sender"},
		{"mailer-daemon", "MAILER-DAEMON@example.org", base, nil, "mail system"},
		{"owner-", "owner-list@example.org", base, nil, "mailing list address"},
		{"-request", "list-request@example.org", base, nil, "mailing list address"},
		{"auto-submitted", "alice@example.org", base + "Auto-Submitted: auto-replied\n", nil, "auto-submitted"},
		{"auto-submitted no", "alice@example.org", base + "Auto-Submitted: no\n", nil, ""},
		{"precedence bulk", "alice@example.org", base + "Precedence: bulk\n", nil, "Precedence"},
		{"list-id", "alice@example.org", base + "List-Id: <x.example.org>\n", nil, "mailing list"},
		{"list-unsubscribe", "alice@example.org", base + "List-Unsubscribe: <mailto:x@y>\n", nil, "mailing list"},
		{"not to me", "alice@example.org", "From: alice@example.org\nTo: carol@example.com\n", nil, "not addressed"},
		{"to me via user address", "alice@example.org", "From: alice@example.org\nCc: Robert <robert@example.net>\n", []string{"robert@example.net"}, ""},
		{"to me via subaddress", "alice@example.org", "From: alice@example.org\nTo: bob+x@example.com\n", nil, ""},
		{"bcc resent", "alice@example.org", "From: alice@example.org\nResent-To: BOB@EXAMPLE.COM\n", nil, ""},
		{"from myself", "bob@example.com", base, nil, "sender is the user"},
	}
	for _, tt := range tests {
		env := Env{Envelope: Envelope{From: tt.from, To: "bob@example.com"}, Message: crlf(tt.hdr + "\nbody\n"), UserAddresses: tt.user}
		got := VacationSkipReason(env, v)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	env := Env{Envelope: Envelope{From: "alice@example.org", To: "bob@example.com"}, Message: crlf("To: team@example.com\n\nx\n")}
	if got := VacationSkipReason(env, &Vacation{Addresses: []string{"team@example.com"}}); got != "" {
		t.Errorf(":addresses: %q", got)
	}
}

func TestBuildVacationReply(t *testing.T) {
	orig := crlf("From: Alice <alice@example.org>\nTo: bob@example.com\nSubject: Lunch?\nMessage-ID: <m1@example.org>\nReferences: <m0@example.org>\n\nhi\n")
	date := time.Date(2025, 4, 1, 12, 0, 0, 0, time.UTC)
	out, err := BuildVacationReply(VacationReply{
		Vacation: &Vacation{Reason: "I am away until Monday.\nBob"},
		Envelope: Envelope{From: "alice@example.org", To: "bob@example.com"},
		Original: orig, MessageID: "<r1@example.com>", Date: date,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"From: bob@example.com\r\n", "To: <alice@example.org>\r\n", "Subject: Auto: Lunch?\r\n",
		"Date: Tue, 01 Apr 2025 12:00:00 +0000\r\n", "Message-ID: <r1@example.com>\r\n",
		"In-Reply-To: <m1@example.org>\r\n", "References: <m0@example.org> <m1@example.org>\r\n",
		"Auto-Submitted: auto-replied (vacation)\r\n", "\r\n\r\nI am away until Monday.\r\nBob\r\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("reply lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") {
		t.Error("bare LF in reply")
	}
	out, _ = BuildVacationReply(VacationReply{
		Vacation: &Vacation{Reason: "Abwesend – zurück am Montag", Subject: "Nicht da", From: "Bob <bob@example.com>"},
		Envelope: Envelope{From: "alice@example.org", To: "bob@example.com"}, Date: date,
	})
	s = string(out)
	if !strings.Contains(s, "Subject: Nicht da\r\n") || !strings.Contains(s, "From: Bob <bob@example.com>\r\n") ||
		!strings.Contains(s, "quoted-printable") || !strings.Contains(s, "zur=C3=BCck") {
		t.Errorf("reply:\n%s", s)
	}
	out, _ = BuildVacationReply(VacationReply{
		Vacation: &Vacation{MIME: true, Reason: "Content-Type: text/html\n\n<p>away</p>"},
		Envelope: Envelope{From: "alice@example.org", To: "bob@example.com"}, Date: date,
	})
	if !strings.Contains(string(out), "MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<p>away</p>") {
		t.Errorf("mime reply:\n%s", out)
	}
}

func TestBodyMultipart(t *testing.T) {
	msg := crlf(`From: a@b.c
To: me@example.com
Subject: parts
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

preamble
--b1
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Gr=FC=DFe
--b1
Content-Type: text/html

<p>Hello <b>HTML</b> world &amp; more</p><script>secretscript</script>
--b1
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

c2VjcmV0YmluYXJ5
--b1--
`)
	tests := []struct {
		src  string
		want bool
	}{
		{`body :contains "Grüße"`, true},
		{`body :text :contains "HTML world & more"`, true},
		{`body :text :contains "secretscript"`, false},
		{`body :text :contains "secretbinary"`, false},
		{`body :content "application/octet-stream" :contains "secretbinary"`, true},
		{`body :content "" :contains "secretbinary"`, true},
		{`body :content "text/html" :contains "<b>"`, true},
		{`body :content "text/plain" :contains "HTML"`, false},
		{`body :raw :contains "Gr=FC=DFe"`, true},
		{`body :raw :contains "Subject"`, false},
		{`body :content "multipart" :contains "preamble"`, false},
	}
	for _, tt := range tests {
		env := testEnv()
		env.Message = msg
		res := mustRun(t, `require "body"; if `+tt.src+` { discard; }`, env)
		if res.Discard != tt.want {
			t.Errorf("%s: got %v, want %v", tt.src, res.Discard, tt.want)
		}
	}
}

func TestDateParts(t *testing.T) {
	tm := time.Date(2008, 5, 23, 14, 5, 9, 0, time.FixedZone("", 2*3600))
	want := map[string]string{
		"year": "2008", "month": "05", "day": "23", "date": "2008-05-23", "julian": "54609",
		"hour": "14", "minute": "05", "second": "09", "time": "14:05:09",
		"iso8601": "2008-05-23T14:05:09+02:00", "std11": "Fri, 23 May 2008 14:05:09 +0200",
		"zone": "+0200", "weekday": "5",
	}
	for part, w := range want {
		if got := datePart(tm, part); got != w {
			t.Errorf("%s: got %q, want %q", part, got, w)
		}
	}
	env := testEnv()
	env.Location = time.FixedZone("", -5*3600)
	res := mustRun(t, `require "date"; if date :is "date" "hour" "05" { discard; }`, env)
	if !res.Discard {
		t.Error("date not converted to Env.Location")
	}
	res = mustRun(t, `require ["date","variables"]; set "z" "bad"; if date :zone "${z}" "date" "year" "2025" { discard; }`, env)
	if res.Discard {
		t.Error("invalid runtime zone matched")
	}
}

func TestIncludeRun(t *testing.T) {
	scripts := map[string]string{
		"flags":  `require "imap4flags"; addflag "F";`,
		"spam":   `require ["fileinto","include","variables"]; global "verdict"; if header :contains "subject" "Café" { set "verdict" "spam"; return; } set "verdict" "ham";`,
		"nested": `require "include"; include :once "flags"; include "flags";`,
	}
	opts := Options{Include: func(name string, global bool) ([]byte, error) {
		if s, ok := scripts[name]; ok {
			return []byte(s), nil
		}
		return nil, ErrScriptNotFound
	}}
	s, err := Compile([]byte(`require ["include","variables","fileinto"]; global "verdict";
include :global "spam"; fileinto "${verdict}"; include "nested"; include :once "flags";`), opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(res); got != "fileinto:spam" {
		t.Errorf("got %s", got)
	}
	s, _ = Compile([]byte(`require "include"; include "nested"; include :once "flags";`), opts)
	res, _ = s.Run(context.Background(), testEnv())
	if got := summary(res); got != "implicit[F]" {
		t.Errorf("got %s", got)
	}
}
