package sieve

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun checks each command and test against testMsg (helpers_test.go).
func TestRun(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"implicit keep", ``, "implicit"},
		{"keep", `keep;`, "fileinto:INBOX"},
		{"discard", `discard;`, "discard"},
		{"stop", `stop; discard;`, "implicit"},
		{"redirect", `redirect "x@example.net";`, "redirect:x@example.net"},
		{"redirect dedupe", `redirect "x@example.net"; redirect "x@EXAMPLE.NET";`, "redirect:x@example.net"},
		{"redirect copy", `require "copy"; redirect :copy "x@example.net";`, "redirect:x@example.net:copy implicit"},
		{"fileinto", `require "fileinto"; fileinto "A"; fileinto "A"; fileinto "B";`, "fileinto:A fileinto:B"},
		{"fileinto inbox = keep", `require "fileinto"; keep; fileinto "inbox";`, "fileinto:INBOX"},
		{"fileinto copy", `require ["fileinto","copy"]; fileinto :copy "A";`, "fileinto:A:copy implicit"},
		{"fileinto create", `require ["fileinto","mailbox"]; fileinto :create "A";`, "fileinto:A:create"},
		{"reject", `require "reject"; reject "no";`, "reject:no"},
		{"ereject", `require "ereject"; ereject "no";`, "ereject:no"},
		{"header is", `if header :is "subject" "café meeting" { discard; }`, "discard"},
		{"header decoded", `if header :contains "subject" "Café" { discard; }`, "discard"},
		{"header octet", `if header :is :comparator "i;octet" "subject" "CAFÉ MEETING" { discard; }`, "implicit"},
		{"header matches", `if header :matches "from" "Alice*@example.org>" { discard; }`, "discard"},
		{"header multiple names", `if header :contains ["x-none","list-id"] "dev" { discard; }`, "discard"},
		{"address all", `if address :all :is "to" "carol@example.net" { discard; }`, "discard"},
		{"address localpart", `if address :localpart :is "cc" "john" { discard; }`, "discard"},
		{"address domain casemap", `if address :domain :is "cc" "example.com" { discard; }`, "discard"},
		{"address quoted comma", `if address :is "cc" "Doe" { discard; }`, "implicit"},
		{"subaddress user", `require "subaddress"; if address :user :is "to" "bob" { discard; }`, "discard"},
		{"subaddress detail", `require "subaddress"; if address :detail :is "to" "lists" { discard; }`, "discard"},
		{"subaddress no detail", `require "subaddress"; if address :detail :matches "from" "*" { discard; }`, "implicit"},
		{"envelope", `require "envelope"; if envelope :is "from" "alice@example.org" { discard; }`, "discard"},
		{"envelope detail", `require ["envelope","subaddress"]; if envelope :detail "to" "lists" { discard; }`, "discard"},
		{"exists", `if exists ["from","list-id"] { discard; }`, "discard"},
		{"exists not", `if exists ["from","x-none"] { discard; }`, "implicit"},
		{"size over", `if size :over 100 { discard; }`, "discard"},
		{"size under", `if size :under 100 { discard; }`, "implicit"},
		{"allof", `if allof(true, exists "from") { discard; }`, "discard"},
		{"anyof", `if anyof(false, not true) { discard; }`, "implicit"},
		{"elsif chain", `require "fileinto"; if false { fileinto "a"; } elsif true { fileinto "b"; } else { fileinto "c"; }`, "fileinto:b"},
		{"numeric", `require ["comparator-i;ascii-numeric","relational"]; if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "10" { discard; }`, "implicit"},
		{"numeric is", `require "comparator-i;ascii-numeric"; if header :is :comparator "i;ascii-numeric" "x-spam-score" "07" { discard; }`, "discard"},
		{"count", `require ["relational","comparator-i;ascii-numeric"]; if address :count "eq" :comparator "i;ascii-numeric" ["to","cc"] "3" { discard; }`, "discard"},
		{"count absent", `require ["relational","comparator-i;ascii-numeric"]; if header :count "eq" :comparator "i;ascii-numeric" "x-none" "0" { discard; }`, "discard"},
		{"regex", `require "regex"; if header :regex "message-id" "^<[a-z]+[0-9]{3}@" { discard; }`, "discard"},
		{"regex vars", `require ["regex","variables","fileinto"]; if header :regex "from" "<([^@]+)@(.*)>" { fileinto "${2}/${1}"; }`, "fileinto:example.org/alice"},
		{"index", `require "index"; if header :index 1 :contains "received" "mx.example.org" { discard; }`, "discard"},
		{"index out of range", `require "index"; if header :index 2 :contains "received" "" { discard; }`, "implicit"},
		{"date", `require "date"; if date :is "date" "date" "2025-04-01" { discard; }`, "discard"},
		{"date zone", `require "date"; if date :zone "+0000" "date" "hour" "10" { discard; }`, "discard"},
		{"date originalzone", `require "date"; if date :originalzone "date" "zone" "+0200" { discard; }`, "discard"},
		{"date received", `require "date"; if date :is "received" "time" "10:00:00" { discard; }`, "discard"},
		{"currentdate", `require "date"; if currentdate :is "date" "2025-04-02" { discard; }`, "discard"},
		{"currentdate weekday", `require "date"; if currentdate :is "weekday" "3" { discard; }`, "discard"},
		{"body", `require "body"; if body :contains "at noon" { discard; }`, "discard"},
		{"body raw", `require "body"; if body :raw :contains "Hello Bob" { discard; }`, "discard"},
		{"body content", `require "body"; if body :content "text" :contains "noon" { discard; }`, "discard"},
		{"body content other", `require "body"; if body :content "image" :contains "" { discard; }`, "implicit"},
		{"mailboxexists inbox", `require "mailbox"; if mailboxexists "INBOX" { discard; }`, "discard"},
		{"mailboxexists other", `require "mailbox"; if mailboxexists "Other" { discard; }`, "implicit"},
		{"flags implicit", `require "imap4flags"; setflag "\\Seen"; addflag ["A", "a B"]; removeflag "B";`, `implicit[\Seen A]`},
		{"flags on fileinto", `require ["imap4flags","fileinto"]; addflag "X"; fileinto "F"; keep :flags "Y";`, "fileinto:F[X] fileinto:INBOX[Y]"},
		{"hasflag", `require "imap4flags"; addflag "Junk"; if hasflag :contains "jun" { discard; }`, "discard"},
		{"hasflag count", `require ["imap4flags","relational","comparator-i;ascii-numeric"]; addflag "a b c"; if hasflag :count "eq" :comparator "i;ascii-numeric" "3" { discard; }`, "discard"},
		{"flags variable", `require ["imap4flags","variables","fileinto"]; addflag "v" "X Y"; removeflag "v" "x"; fileinto "${v}";`, "fileinto:Y"},
		{"vacation", `require "vacation"; vacation "away";`, "vacation:away implicit"},
		{"editheader visible", `require ["editheader"]; addheader "X-A" "1"; if header :is "x-a" "1" { discard; }`, "discard"},
		{"editheader delete", `require ["editheader"]; deleteheader "list-id"; if not exists "list-id" { discard; }`, "discard"},
		{"editheader protected", `require ["editheader"]; deleteheader "received"; if exists "received" { discard; }`, "discard"},
		{"duplicate first", `require "duplicate"; if duplicate { discard; }`, "implicit"},
	}
	for _, tt := range tests {
		res := mustRun(t, tt.src, testEnv())
		if got := summary(res); got != tt.want {
			t.Errorf("%s: %s\n got %q\nwant %q", tt.name, tt.src, got, tt.want)
		}
	}
}

func TestRuntimeErrors(t *testing.T) {
	tests := []struct {
		name, src string
		opts      Options
		contains  string
	}{
		{"reject keep", `require "reject"; keep; reject "x";`, Options{}, "reject cannot be combined"},
		{"reject redirect", `require "reject"; redirect "a@b.c"; reject "x";`, Options{}, "reject cannot be combined"},
		{"reject vacation", `require ["reject","vacation"]; vacation "v"; reject "x";`, Options{}, "reject cannot be combined"},
		{"two rejects", `require "reject"; reject "x"; reject "y";`, Options{}, "only one reject"},
		{"two vacations", `require "vacation"; vacation "x"; vacation "y";`, Options{}, "only one vacation"},
		{"redirects", `redirect "a@b.c"; redirect "b@b.c"; redirect "c@b.c";`, Options{MaxRedirects: 2}, "too many redirects"},
		{"actions", `require "fileinto"; fileinto "a"; fileinto "b"; fileinto "c";`, Options{MaxActions: 2}, "too many actions"},
		{"steps", `if header :contains "subject" ["q","w","x","z","v","j","k","y","p","u"] { keep; }`, Options{MaxSteps: 5}, "step limit"},
		{"runtime redirect address", `require "variables"; set "a" "nope"; redirect "${a}";`, Options{}, "invalid address"},
	}
	for _, tt := range tests {
		s, err := Compile([]byte(tt.src), tt.opts)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		_, err = s.Run(context.Background(), testEnv())
		if err == nil || !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.contains)
		}
	}
}

func TestRunCancelled(t *testing.T) {
	src := `require "variables"; ` + strings.Repeat(`if header :contains "subject" "x" { keep; }`, 2000)
	s := mustCompile(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, testEnv()); err == nil {
		t.Error("run with a cancelled context succeeded")
	}
}

// TestRFC5228Example runs the example of RFC 5228 §9, adapted.
func TestRFC5228Example(t *testing.T) {
	src := `#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
`
	msg := func(hdr string) Env {
		e := testEnv()
		e.Message = crlf(hdr + "\n\nbody\n")
		return e
	}
	tests := []struct{ hdr, want string }{
		{"Sender: owner-ietf-mta-filters@imc.org\nFrom: x@y.org\nTo: me@example.com", "fileinto:filter"},
		{"From: boss@example.com\nTo: me@example.com", "fileinto:INBOX"},
		{"From: x@y.org\nTo: someone@else.org", "fileinto:spam"},
		{"From: x@y.org\nTo: other@y.org\nCc: me@example.com\nSubject: MAKE MONEY FAST", "fileinto:spam"},
		{"From: x@y.org\nCc: me@example.com\nSubject: hello", "fileinto:personal"},
	}
	s := mustCompile(t, src)
	for _, tt := range tests {
		res, err := s.Run(context.Background(), msg(tt.hdr))
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(res); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.hdr, got, tt.want)
		}
	}
}

// TestVariables runs the examples of RFC 5229 §4.1 and §3.
func TestVariables(t *testing.T) {
	tests := []struct{ src, want string }{
		{`set "a" "juMBlEd lETteRS"; set :length "b" "${a}";`, "15"},
		{`set "a" "juMBlEd lETteRS"; set :lower "b" "${a}";`, "jumbled letters"},
		{`set "a" "juMBlEd lETteRS"; set :upperfirst "b" "${a}";`, "JuMBlEd lETteRS"},
		{`set "a" "juMBlEd lETteRS"; set :upperfirst :lower "b" "${a}";`, "Jumbled letters"},
		{`set :quotewildcard "b" "Rock*";`, `Rock\*`},
		{`set "honorific" "Mr"; set "last_name" "Coyote"; set "b" "Dear ${HONORIFIC} ${last_name}";`, "Dear Mr Coyote"},
		{`set "b" "${1}${unknown}$${a}${}";`, "$${}"},
		{`set "company" "ACME"; set "b" "${${company}}";`, "${ACME}"},
		{`set "b" "${global.x}";`, "${global.x}"},
		{`if header :matches "subject" "*é*" { set "b" "${0}|${1}|${2}|${3}"; }`, "Café meeting|Caf| meeting|"},
		{`if header :matches "x-spam-score" "?" { set "b" "${1}"; }`, "7"},
		{`set :length "b" "Café";`, "4"},
		{`set :lowerfirst "b" "ABC";`, "aBC"},
		{`set "b" "x"; set "B" "${b}y";`, "xy"},
	}
	for _, tt := range tests {
		src := `require ["variables","fileinto"]; ` + tt.src + ` fileinto "${b}";`
		res := mustRun(t, src, testEnv())
		if len(res.Keeps) != 1 || res.Keeps[0].Mailbox != tt.want {
			t.Errorf("%s: got %+v, want %q", tt.src, res.Keeps, tt.want)
		}
	}
	// Values are bounded.
	res := mustRun(t, `require ["variables","fileinto"]; set "a" "0123456789abcdef";`+
		strings.Repeat(`set "a" "${a}${a}";`, 12)+`set :length "b" "${a}"; fileinto "${b}";`, testEnv())
	if res.Keeps[0].Mailbox != "4096" {
		t.Errorf("doubled variable length %s, want 4096", res.Keeps[0].Mailbox)
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		s, p string
		ok   bool
		caps string
	}{
		{"abc", "abc", true, "abc"},
		{"abc", "a?c", true, "abc|b"},
		{"abc", "*", true, "abc|abc"},
		{"", "*", true, "|"},
		{"", "?", false, ""},
		{"a.b.c", "*.*", true, "a.b.c|a|b.c"},
		{"foo@bar.example.org", "*@*.*", true, "foo@bar.example.org|foo|bar|example.org"},
		{"aaa", "a*a", true, "aaa|a"},
		{"ab", "a*b*", true, "ab||"},
		{"a*b", `a\*b`, true, "a*b"},
		{"axb", `a\*b`, false, ""},
		{"a?b", `a\?b`, true, "a?b"},
		{`a\b`, `a\\b`, true, `a\b`},
		{"ABC", "a*C", true, "ABC|B"},
		{"héllo", "h?llo", true, "héllo|é"},
		{"xyz", "*y", false, ""},
		{"xyzy", "*y", true, "xyzy|xyz"},
		{"report meeting", "*e*e*", true, "report meeting|r|port m|eting"},
		{"mississippi", "*ss*ss*", true, "mississippi|mi|i|ippi"},
	}
	for _, tt := range tests {
		var caps []string
		ok := cmpCasemap.globMatch(tt.s, tt.p, &caps)
		if ok != tt.ok || ok && strings.Join(caps, "|") != tt.caps {
			t.Errorf("%q ~ %q: got %v %q, want %v %q", tt.s, tt.p, ok, strings.Join(caps, "|"), tt.ok, tt.caps)
		}
	}
	if cmpOctet.globMatch("ABC", "a*", nil) {
		t.Error("i;octet matched across case")
	}
}

func TestComparators(t *testing.T) {
	tests := []struct {
		c    comparator
		a, b string
		want int
	}{
		{cmpNumeric, "10", "9", 1},
		{cmpNumeric, "007", "7", 0},
		{cmpNumeric, "12abc", "12", 0},
		{cmpNumeric, "abc", "99999", 1},
		{cmpNumeric, "abc", "xyz", 0},
		{cmpCasemap, "ABC", "abd", -1},
		{cmpOctet, "B", "a", -1},
	}
	for _, tt := range tests {
		if got := tt.c.compare(tt.a, tt.b); got != tt.want {
			t.Errorf("%v compare(%q, %q) = %d, want %d", tt.c, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDuplicate(t *testing.T) {
	env := testEnv()
	var asked []string
	env.Duplicate = func(handle, id string) bool {
		asked = append(asked, handle+"|"+id)
		return id == "<abc123@example.org>"
	}
	res := mustRun(t, `require "duplicate"; if duplicate { discard; } if duplicate :handle "h" :uniqueid "u1" :seconds 60 :last { keep; }`, env)
	if summary(res) != "discard" {
		t.Errorf("got %s", summary(res))
	}
	want := []DuplicateMark{
		{ID: "<abc123@example.org>", Period: duplicateDefaultPeriod},
		{Handle: "h", ID: "u1", Period: time.Minute, Last: true},
	}
	if len(res.DuplicateMarks) != 2 || res.DuplicateMarks[0] != want[0] || res.DuplicateMarks[1] != want[1] {
		t.Errorf("marks %+v, want %+v", res.DuplicateMarks, want)
	}
	// The same id twice in a run is asked once.
	asked = nil
	mustRun(t, `require "duplicate"; if duplicate { keep; } if duplicate { keep; }`, env)
	if len(asked) != 1 {
		t.Errorf("asked %v", asked)
	}
	// No Message-ID: not a duplicate, nothing to record.
	env.Message = crlf("From: a@b.c\n\nx\n")
	res = mustRun(t, `require "duplicate"; if duplicate { discard; }`, env)
	if res.Discard || len(res.DuplicateMarks) != 0 {
		t.Errorf("no message-id: %+v", res)
	}
}

func TestVacationAction(t *testing.T) {
	res := mustRun(t, `require ["vacation","variables"]; set "n" "Bob";
vacation :days 2 :subject "Out: ${n}" :from "bob@example.com" :addresses ["bob@example.org"] :handle "h1" "Back on Monday";`, testEnv())
	v := res.Vacation
	if v == nil || v.Period != 48*time.Hour || v.Subject != "Out: Bob" || v.From != "bob@example.com" ||
		len(v.Addresses) != 1 || v.Handle != "h1" || v.Reason != "Back on Monday" || v.MIME {
		t.Fatalf("vacation %+v", v)
	}
	res = mustRun(t, `require "vacation"; vacation :mime "Content-Type: text/plain

hi";`, testEnv())
	if res.Vacation.Handle != "Content-Type: text/plain\n\nhi<default-subject><default-from><MIME>" || res.Vacation.Period != 7*24*time.Hour {
		t.Errorf("handle %q period %v", res.Vacation.Handle, res.Vacation.Period)
	}
}

// TestConcurrentRuns: a compiled Script is shared by deliveries.
func TestConcurrentRuns(t *testing.T) {
	s := mustCompile(t, `require ["regex","variables","fileinto","body","editheader"];
if header :regex "from" "<([^@]+)@" { fileinto "${1}"; }
if body :contains "noon" { addheader "X-Noon" "yes"; }`)
	done := make(chan string)
	for i := 0; i < 8; i++ {
		go func() {
			res, err := s.Run(context.Background(), testEnv())
			if err != nil {
				done <- err.Error()
				return
			}
			done <- summary(res)
		}()
	}
	for i := 0; i < 8; i++ {
		if got := <-done; got != "fileinto:alice" {
			t.Errorf("got %s", got)
		}
	}
}
