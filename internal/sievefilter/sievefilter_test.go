package sievefilter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"postern/internal/deliver"
	"postern/internal/message"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

type fixture struct {
	t      *testing.T
	st     *sqlstore.Store
	p      *deliver.Pipeline
	log    *bytes.Buffer
	alice  store.Account
	now    time.Time
	filter *Filter
}

func parse(r io.Reader) (store.MessageMeta, error) {
	p, err := message.Parse(r, message.DefaultLimits())
	if err != nil {
		return store.MessageMeta{}, err
	}
	return store.MessageMeta{Envelope: p.Envelope.Marshal(), BodyStructure: p.Body.Marshal(), SearchText: p.SearchText, Headers: p.Headers}, nil
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, log: &bytes.Buffer{}, now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	f.alice, _ = st.AddAccount(ctx, "alice@example.test", store.Credentials{})
	logger := slog.New(slog.NewTextHandler(f.log, nil))
	clock := func() time.Time { return f.now }
	filter := New(Options{Store: st, Logger: logger, Now: clock, Location: time.UTC})
	f.filter = filter
	f.p = deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: parse, Filter: filter, Logger: logger, Now: clock})
	return f
}

func (f *fixture) script(src string) {
	f.t.Helper()
	ctx := context.Background()
	if err := f.st.PutSieveScript(ctx, f.alice.ID, "main", []byte(src)); err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.SetActiveSieveScript(ctx, f.alice.ID, "main"); err != nil {
		f.t.Fatal(err)
	}
	f.filter.Forget(f.alice.ID)
}

func (f *fixture) deliver(from, msg string) (deliver.Result, error) {
	f.t.Helper()
	tx := f.p.Begin(deliver.Envelope{Source: deliver.SourceMX, Sender: from})
	if err := tx.AddRecipient(context.Background(), "alice@example.test", deliver.RcptOptions{}); err != nil {
		f.t.Fatal(err)
	}
	return tx.Deliver(context.Background(), strings.NewReader(msg))
}

func (f *fixture) box(name string) []store.Message {
	f.t.Helper()
	mb, err := f.st.Mailbox(context.Background(), f.alice.ID, name)
	if err != nil {
		return nil
	}
	msgs, _ := f.st.Messages(context.Background(), mb.ID, 1, 0)
	return msgs
}

func (f *fixture) text(m store.Message) string {
	rc, err := f.st.OpenBlob(context.Background(), m.BlobID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

const msg = "From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: [list] news\r\nMessage-ID: <m1@remote.test>\r\n\r\nhello world\r\n"

func TestFileintoFlagsAndFallback(t *testing.T) {
	f := newFixture(t)
	f.script(`require ["fileinto", "imap4flags", "mailbox"];
if header :contains "subject" "[list]" {
	fileinto :create :flags ["\\Seen", "$List"] "Lists";
	fileinto "Missing";
}`)
	if _, err := f.deliver("bob@remote.test", msg); err != nil {
		t.Fatal(err)
	}
	lists := f.box("Lists")
	if len(lists) != 1 || lists[0].Flags != store.FlagSeen || len(lists[0].Keywords) != 1 || lists[0].Keywords[0] != "$List" {
		t.Errorf("Lists %+v", lists)
	}
	// fileinto a mailbox that does not exist, without :create, keeps in INBOX.
	if in := f.box("INBOX"); len(in) != 1 {
		t.Errorf("INBOX has %d, want the fallback copy", len(in))
	}
}

func TestVacationOncePerPeriod(t *testing.T) {
	f := newFixture(t)
	f.script(`require "vacation"; vacation :days 3 :subject "Away" "I am away until Monday.";`)
	for i := 0; i < 2; i++ {
		if _, err := f.deliver("bob@remote.test", msg); err != nil {
			t.Fatal(err)
		}
	}
	q, _ := f.st.QueueList(context.Background())
	if len(q) != 1 || q[0].Sender != "" || q[0].Recipients[0].Rcpt != "bob@remote.test" {
		t.Fatalf("vacation replies queued: %+v\n%s", q, f.log)
	}
	rc, _ := f.st.OpenBlob(context.Background(), q[0].BlobID)
	reply, _ := io.ReadAll(rc)
	rc.Close()
	for _, want := range []string{"Subject: Away", "Auto-Submitted: auto-replied", "In-Reply-To: <m1@remote.test>", "I am away until Monday."} {
		if !strings.Contains(string(reply), want) {
			t.Errorf("reply lacks %q:\n%s", want, reply)
		}
	}
	// After the period, a new reply.
	f.now = f.now.Add(73 * time.Hour)
	f.deliver("bob@remote.test", msg)
	if q, _ := f.st.QueueList(context.Background()); len(q) != 2 {
		t.Errorf("after the period: %d replies", len(q))
	}
	// Never to a list.
	f.deliver("carol@remote.test", "List-Id: <news.remote.test>\r\n"+msg)
	if q, _ := f.st.QueueList(context.Background()); len(q) != 2 || !strings.Contains(f.log.String(), "vacation not sent") {
		t.Errorf("replied to a list: %d replies", len(q))
	}
	if n := len(f.box("INBOX")); n != 4 {
		t.Errorf("INBOX has %d, vacation must keep every message", n)
	}
}

func TestDuplicateEditheaderRejectAndBrokenScript(t *testing.T) {
	f := newFixture(t)
	f.script(`require ["duplicate", "editheader", "fileinto"];
if duplicate { discard; stop; }
addheader "X-Filtered" "yes";
deleteheader "To";`)
	f.deliver("bob@remote.test", msg)
	f.deliver("bob@remote.test", msg)
	in := f.box("INBOX")
	if len(in) != 1 {
		t.Fatalf("INBOX has %d; the duplicate must be discarded", len(in))
	}
	text := f.text(in[0])
	if !strings.HasPrefix(text, "Return-Path: <bob@remote.test>\r\nX-Filtered: yes\r\n") || strings.Contains(text, "\r\nTo:") {
		t.Errorf("edited copy:\n%s", text)
	}

	f.script(`require "reject"; if address :domain "from" "remote.test" { reject "go away"; }`)
	_, err := f.deliver("bob@remote.test", msg)
	var rej *deliver.RejectError
	if !errors.As(err, &rej) || rej.Reason != "go away" {
		t.Errorf("reject: %v", err)
	}

	// A run-time failure (two vacations cannot combine... a redirect
	// limit) keeps the message in INBOX.
	f.script(`redirect "a@remote.test"; redirect "b@remote.test"; redirect "c@remote.test"; redirect "d@remote.test"; redirect "e@remote.test";`)
	if _, err := f.deliver("bob@remote.test", "Message-ID: <m2@x>\r\n"+msg); err != nil {
		t.Fatal(err)
	}
	if len(f.box("INBOX")) != 2 || !strings.Contains(f.log.String(), "filter failed, message kept in INBOX") {
		t.Errorf("broken script: INBOX %d; log:\n%s", len(f.box("INBOX")), f.log)
	}
}

func TestGlobalScripts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.st.PutGlobalSieveScript(ctx, store.SieveGlobalBefore, []byte(`require ["fileinto", "copy", "mailbox"]; if header :contains "subject" "[list]" { fileinto :copy :create "Archive"; }`))
	f.st.PutGlobalSieveScript(ctx, store.SieveGlobalAfter, []byte(`require "imap4flags"; addflag "\\Flagged";`))
	f.script(`if false { discard; }`)
	if _, err := f.deliver("bob@remote.test", msg); err != nil {
		t.Fatal(err)
	}
	if a := f.box("Archive"); len(a) != 1 {
		t.Errorf("Archive %d", len(a))
	}
	if in := f.box("INBOX"); len(in) != 1 || in[0].Flags != store.FlagFlagged {
		t.Errorf("INBOX %+v", in)
	}
}

// A script changed behind the filter's back (by the CLI, another process)
// applies within a second; one changed through Forget at once.
func TestScriptChangesApply(t *testing.T) {
	f := newFixture(t)
	f.script(`require ["fileinto", "mailbox"]; fileinto :create "A";`)
	f.deliver("bob@remote.test", msg)
	ctx := context.Background()
	if err := f.st.PutSieveScript(ctx, f.alice.ID, "main", []byte(`require ["fileinto", "mailbox"]; fileinto :create "B";`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(globalsTTL + 100*time.Millisecond)
	f.deliver("bob@remote.test", msg)
	if len(f.box("B")) != 1 {
		t.Errorf("a change made elsewhere did not apply after %v", globalsTTL)
	}
}
