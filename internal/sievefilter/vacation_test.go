package sievefilter

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

func (f *fixture) vacation(v store.Vacation) {
	f.t.Helper()
	if _, err := f.st.PutVacation(context.Background(), f.alice.ID, v); err != nil {
		f.t.Fatal(err)
	}
	f.filter.Forget(f.alice.ID)
}

// replies returns the bodies of the vacation replies queued so far, by
// recipient.
func (f *fixture) replies() map[string][]string {
	f.t.Helper()
	q, err := f.st.QueueList(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, m := range q {
		rc, err := f.st.OpenBlob(context.Background(), m.BlobID)
		if err != nil {
			f.t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if m.Sender != "" {
			f.t.Errorf("reply with envelope sender %q, want <>", m.Sender)
		}
		for _, r := range m.Recipients {
			out[r.Rcpt] = append(out[r.Rcpt], string(b))
		}
	}
	return out
}

func (f *fixture) mustDeliver(from, msg string) {
	f.t.Helper()
	if _, err := f.deliver(from, msg); err != nil {
		f.t.Fatal(err)
	}
}

func strp(s string) *string { return &s }

func TestVacationResponseOncePerSenderPerWeek(t *testing.T) {
	f := newFixture(t)
	f.vacation(store.Vacation{Enabled: true, Subject: strp("Out of office"), TextBody: strp("Back on Monday.\n")})
	f.mustDeliver("bob@remote.test", msg)
	f.mustDeliver("bob@remote.test", msg)
	f.mustDeliver("carol@remote.test", msg)
	r := f.replies()
	if len(r["bob@remote.test"]) != 1 || len(r["carol@remote.test"]) != 1 {
		t.Fatalf("replies %v\n%s", r, f.log)
	}
	for _, want := range []string{"Subject: Out of office", "Auto-Submitted: auto-replied", "From: alice@example.test",
		"In-Reply-To: <m1@remote.test>", "Back on Monday."} {
		if !strings.Contains(r["bob@remote.test"][0], want) {
			t.Errorf("reply lacks %q:\n%s", want, r["bob@remote.test"][0])
		}
	}
	f.now = f.now.Add(VacationResponsePeriod - time.Minute)
	f.mustDeliver("bob@remote.test", msg)
	if n := len(f.replies()["bob@remote.test"]); n != 1 {
		t.Errorf("within 7 days: %d replies to bob", n)
	}
	f.now = f.now.Add(2 * time.Minute)
	f.mustDeliver("bob@remote.test", msg)
	if n := len(f.replies()["bob@remote.test"]); n != 2 {
		t.Errorf("after 7 days: %d replies to bob, want 2", n)
	}
	if n := len(f.box("INBOX")); n != 5 {
		t.Errorf("INBOX has %d, want every message", n)
	}
}

func TestVacationResponseWindowAndDisabled(t *testing.T) {
	f := newFixture(t)
	f.vacation(store.Vacation{Enabled: true, From: f.now.Add(time.Hour), To: f.now.Add(48 * time.Hour)})
	f.mustDeliver("bob@remote.test", msg) // before fromDate
	if r := f.replies(); len(r) != 0 {
		t.Fatalf("reply before fromDate: %v", r)
	}
	f.now = f.now.Add(time.Hour) // fromDate itself is inside
	f.mustDeliver("bob@remote.test", msg)
	r := f.replies()
	if len(r["bob@remote.test"]) != 1 || !strings.Contains(r["bob@remote.test"][0], "Subject: Auto: [list] news") ||
		!strings.Contains(r["bob@remote.test"][0], "I am away") {
		t.Fatalf("default subject and text: %v", r)
	}
	f.now = f.now.Add(47 * time.Hour) // toDate is outside
	f.mustDeliver("carol@remote.test", msg)
	if r := f.replies(); len(r["carol@remote.test"]) != 0 {
		t.Errorf("reply at toDate: %v", r)
	}
	f.now = f.now.Add(-24 * time.Hour)
	f.vacation(store.Vacation{Enabled: false, TextBody: strp("off")})
	f.mustDeliver("dave@remote.test", msg)
	if r := f.replies(); len(r["dave@remote.test"]) != 0 {
		t.Errorf("reply while disabled: %v", r)
	}
	// Lists, the user's own messages and auto-replies are never answered.
	f.vacation(store.Vacation{Enabled: true})
	f.mustDeliver("erin@remote.test", "List-Id: <news.remote.test>\r\n"+msg)
	f.mustDeliver("alice@example.test", msg)
	f.mustDeliver("frank@remote.test", "Auto-Submitted: auto-replied\r\n"+msg)
	if r := f.replies(); len(r) != 1 {
		t.Errorf("replies %v", r)
	}
}

func TestVacationResponseWithUserScript(t *testing.T) {
	f := newFixture(t)
	f.script(`require ["fileinto", "mailbox"];
if header :contains "subject" "[list]" { fileinto :create "Lists"; }
if header :contains "subject" "spam" { discard; }`)
	f.vacation(store.Vacation{Enabled: true, TextBody: strp("Away.")})
	f.mustDeliver("bob@remote.test", msg)
	if len(f.box("Lists")) != 1 || len(f.box("INBOX")) != 0 {
		t.Errorf("the user's script no longer files: Lists %d, INBOX %d", len(f.box("Lists")), len(f.box("INBOX")))
	}
	if r := f.replies(); len(r["bob@remote.test"]) != 1 {
		t.Fatalf("replies %v\n%s", r, f.log)
	}
	f.mustDeliver("carol@remote.test", strings.Replace(msg, "[list] news", "spam spam", 1))
	if r := f.replies(); len(r["carol@remote.test"]) != 0 {
		t.Errorf("replied to a discarded message: %v", r)
	}

	// A script that replies itself wins: one reply, the script's.
	f.script(`require "vacation"; vacation :subject "Script" "From the script.";`)
	f.mustDeliver("dave@remote.test", msg)
	r := f.replies()["dave@remote.test"]
	if len(r) != 1 || !strings.Contains(r[0], "From the script.") {
		t.Errorf("replies to dave %q", r)
	}
}

func TestVacationResponseHTML(t *testing.T) {
	f := newFixture(t)
	f.vacation(store.Vacation{Enabled: true, HTMLBody: strp("<p>Away &amp; <b>offline</b></p>")})
	f.mustDeliver("bob@remote.test", msg)
	r := f.replies()["bob@remote.test"]
	if len(r) != 1 {
		t.Fatalf("replies %q", r)
	}
	for _, want := range []string{"Content-Type: multipart/alternative; boundary=", "Content-Type: text/plain; charset=utf-8",
		"Content-Type: text/html; charset=utf-8", "Away & offline", "<b>offline</b>"} {
		if !strings.Contains(r[0], want) {
			t.Errorf("reply lacks %q:\n%s", want, r[0])
		}
	}
}
