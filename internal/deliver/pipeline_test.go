package deliver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"postern/internal/message"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// fixture is a pipeline over a real store with example.test (alice, bob)
// and a log.
type fixture struct {
	t     testing.TB
	st    *sqlstore.Store
	p     *Pipeline
	log   *bytes.Buffer
	wakes int
	alice store.Account
	bob   store.Account
}

func (f *fixture) Wake() { f.wakes++ }

func parse(r io.Reader) (store.MessageMeta, error) {
	p, err := message.Parse(r, message.DefaultLimits())
	if err != nil {
		return store.MessageMeta{}, err
	}
	return store.MessageMeta{Envelope: p.Envelope.Marshal(), BodyStructure: p.Body.Marshal(), SearchText: p.SearchText, Headers: p.Headers}, nil
}

func newFixture(t testing.TB, filter Filter) *fixture {
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
	f := &fixture{t: t, st: st, log: &bytes.Buffer{}}
	f.alice, _ = st.AddAccount(ctx, "alice@example.test", store.Credentials{})
	f.bob, _ = st.AddAccount(ctx, "bob@example.test", store.Credentials{})
	f.p = New(Options{Directory: st, Mailstore: st, Parse: parse, Filter: filter, Queue: f,
		Logger: slog.New(slog.NewTextHandler(f.log, nil)), Now: func() time.Time { return time.Unix(1700000000, 0) }})
	return f
}

const testMsg = "From: x@remote.test\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n"

func (f *fixture) inbox(a store.Account, box string) []store.Message {
	f.t.Helper()
	mb, err := f.st.Mailbox(context.Background(), a.ID, box)
	if err != nil {
		f.t.Fatal(err)
	}
	msgs, _ := f.st.Messages(context.Background(), mb.ID, 1, 0)
	return msgs
}

func (f *fixture) body(id int64) string {
	rc, err := f.st.OpenBlob(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

func TestPipelineLocalAndRemote(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tx := f.p.Begin(Envelope{ID: "t1", Source: SourceSubmission, Sender: "alice@example.test", Account: &f.alice, EnvID: "e1", Ret: "HDRS"})
	for _, r := range []struct{ to, notify string }{{"bob@example.test", ""}, {"Bob+x@example.test", ""}, {"c@remote.test", "NEVER"}, {"d@remote.test", ""}, {"D@remote.test", ""}} {
		if err := tx.AddRecipient(ctx, r.to, RcptOptions{Notify: r.notify, ORcpt: "rfc822;" + r.to}); err != nil {
			t.Fatalf("%s: %v", r.to, err)
		}
	}
	if tx.Recipients() != 5 || tx.Envelope().ID != "t1" {
		t.Fatalf("recipients %d", tx.Recipients())
	}
	res, err := tx.Deliver(ctx, strings.NewReader(testMsg))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Delivered) != 1 || res.Delivered[0].Account != "bob@example.test" || len(res.QueueIDs) != 2 || res.Remote != 2 || res.Size != int64(len(testMsg)) {
		t.Fatalf("result %+v", res)
	}
	m := f.inbox(f.bob, "INBOX")[0]
	if got := f.body(m.BlobID); got != "Return-Path: <alice@example.test>\r\n"+testMsg {
		t.Errorf("stored %q", got)
	}
	q, _ := f.st.QueueList(ctx)
	if len(q) != 2 || q[0].BlobID != m.BlobID || q[0].Size != int64(len(testMsg)) || q[0].AccountID != f.alice.ID || q[0].EnvID != "e1" || q[0].Ret != "HDRS" {
		t.Fatalf("queue %+v", q)
	}
	if f.wakes != 1 {
		t.Errorf("queue woken %d times", f.wakes)
	}
	for _, want := range []string{`msg=delivered id=t1 account=bob@example.test mailbox=INBOX`, `msg=queued id=t1`} {
		if !strings.Contains(f.log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, f.log)
		}
	}
}

func TestPipelineRecipientErrors(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	st := f.st
	st.AddAlias(ctx, "loop@example.test", []string{"loop@example.test"})
	st.SetQuota(ctx, "bob@example.test", 100, 0)
	tx := f.p.Begin(Envelope{Source: SourceMX, Sender: "x@remote.test"})
	for to, want := range map[string]error{
		"x@remote.test":          ErrRelayDenied,
		"a%b@example.test":       ErrRelayDenied,
		"not an address":         ErrBadAddress,
		"nobody@example.test":    ErrUnknownUser,
		"loop@example.test":      ErrAliasLoop,
		"bob@example.test":       ErrOverQuota, // the declared size does not fit
		"alice+tag@example.test": nil,
	} {
		if err := tx.AddRecipient(ctx, to, RcptOptions{DeclaredSize: 500}); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", to, err, want)
		}
	}
	if _, err := f.p.Begin(Envelope{Source: SourceMX}).Deliver(ctx, strings.NewReader(testMsg)); !errors.Is(err, ErrNoRecipients) {
		t.Errorf("Deliver without recipients: %v", err)
	}
	if ok, err := f.p.Owns(ctx, f.alice, Address{Local: "alice+x", Domain: "example.test"}); !ok || err != nil {
		t.Errorf("alice owns alice+x: %v %v", ok, err)
	}
	if ok, _ := f.p.Owns(ctx, f.alice, Address{Local: "bob", Domain: "example.test"}); ok {
		t.Error("alice owns bob")
	}
	if ok, _ := f.p.IsLocalDomain(ctx, "EXAMPLE.test"); !ok {
		t.Error("example.test not local")
	}
}

// Only local recipients over quota: refused as a whole, nothing stored.
func TestPipelineAllOverQuota(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tx := f.p.Begin(Envelope{Source: SourceMX, Sender: "x@remote.test"})
	if err := tx.AddRecipient(ctx, "bob@example.test", RcptOptions{}); err != nil {
		t.Fatal(err)
	}
	f.st.SetQuota(ctx, "bob@example.test", 10, 0)
	if _, err := tx.Deliver(ctx, strings.NewReader(testMsg)); !errors.Is(err, ErrAllOverQuota) {
		t.Fatalf("Deliver: %v", err)
	}
	if n := len(f.inbox(f.bob, "INBOX")); n != 0 {
		t.Errorf("%d messages stored", n)
	}
}

type testFilter struct {
	fn func(FilterInput) (FilterResult, error)
}

func (tf testFilter) Filter(_ context.Context, in FilterInput) (FilterResult, error) {
	return tf.fn(in)
}

// The filter step decides per recipient: several mailboxes with flags, a
// discard, and a failure that keeps the message in INBOX.
func TestPipelineFilter(t *testing.T) {
	f := newFixture(t, testFilter{func(in FilterInput) (FilterResult, error) {
		if in.Message.Meta.Headers == "" || in.Message.Body.Size() == 0 {
			return FilterResult{}, errors.New("filter saw no message")
		}
		switch in.Account.Address {
		case "alice@example.test":
			return FilterResult{Keep: []Keep{{Mailbox: "Archive", Flags: store.FlagSeen}, {Keywords: []string{"$Work"}}}}, nil
		case "bob@example.test":
			if in.Recipient == "bob+spam@example.test" {
				return FilterResult{Discard: true}, nil
			}
			return FilterResult{}, errors.New("broken script")
		}
		return FilterResult{}, nil
	}})
	ctx := context.Background()
	send := func(to ...string) Result {
		tx := f.p.Begin(Envelope{Source: SourceMX, Sender: "x@remote.test"})
		for _, r := range to {
			if err := tx.AddRecipient(ctx, r, RcptOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := tx.Deliver(ctx, strings.NewReader(testMsg))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := send("alice@example.test", "bob@example.test")
	if len(res.Delivered) != 3 {
		t.Fatalf("delivered %+v", res.Delivered)
	}
	if a := f.inbox(f.alice, "Archive"); len(a) != 1 || a[0].Flags != store.FlagSeen {
		t.Errorf("alice's Archive %+v", a)
	}
	if in := f.inbox(f.alice, "INBOX"); len(in) != 1 || len(in[0].Keywords) != 1 {
		t.Errorf("alice's INBOX %+v", in)
	}
	if len(f.inbox(f.bob, "INBOX")) != 1 || !strings.Contains(f.log.String(), "filter failed, message kept in INBOX") {
		t.Errorf("bob's INBOX after a failing filter; log:\n%s", f.log)
	}
	res = send("bob+spam@example.test")
	if res.Discarded != 1 || len(res.Delivered) != 0 || len(f.inbox(f.bob, "INBOX")) != 1 {
		t.Errorf("discard: %+v", res)
	}
}

// Bounces go to a local sender's mailbox, or back to the queue for a remote
// one, never on through an alias, and are dropped for nobody.
func TestPipelineBounce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.st.AddAlias(ctx, "fwd@example.test", []string{"far@remote.test"})
	dsn := []byte("From: MAILER-DAEMON@example.test\r\nSubject: failure\r\n\r\nreport\r\n")
	where, err := f.p.Bounce(ctx, "alice@example.test", dsn)
	if err != nil || where != "mailbox of alice@example.test" {
		t.Fatalf("local bounce: %q %v", where, err)
	}
	if m := f.inbox(f.alice, "INBOX"); len(m) != 1 || !strings.HasPrefix(f.body(m[0].BlobID), "Return-Path: <>\r\n") {
		t.Errorf("local bounce stored %+v", m)
	}
	where, err = f.p.Bounce(ctx, "someone@remote.test", dsn)
	if err != nil || !strings.HasPrefix(where, "queue ") {
		t.Fatalf("remote bounce: %q %v", where, err)
	}
	q, _ := f.st.QueueList(ctx)
	if len(q) != 1 || !q[0].IsDSN || q[0].Sender != "" || q[0].Size != int64(len(dsn)) {
		t.Errorf("queued bounce %+v", q)
	}
	for _, rcpt := range []string{"nobody@example.test", "fwd@example.test"} {
		if where, err := f.p.Bounce(ctx, rcpt, dsn); err != nil || !strings.HasPrefix(where, "dropped") {
			t.Errorf("bounce to %s: %q %v", rcpt, where, err)
		}
	}
	if q, _ := f.st.QueueList(ctx); len(q) != 1 {
		t.Errorf("a bounce was forwarded: %+v", q)
	}
}

// A body that fails to parse is refused before anything is stored; the
// reader's error is what the caller sees.
func TestPipelineReadError(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tx := f.p.Begin(Envelope{Source: SourceMX, Sender: "x@remote.test"})
	tx.AddRecipient(ctx, "alice@example.test", RcptOptions{})
	boom := errors.New("connection lost")
	if _, err := tx.Deliver(ctx, io.MultiReader(strings.NewReader("Subject: x\r\n"), errReader{boom})); !errors.Is(err, boom) {
		t.Fatalf("Deliver: %v", err)
	}
	if n := len(f.inbox(f.alice, "INBOX")); n != 0 {
		t.Errorf("%d messages stored", n)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestSourceNames(t *testing.T) {
	for s, want := range map[Source]string{SourceMX: "mx", SourceSubmission: "submission", SourceBounce: "bounce",
		SourceJMAP: "jmap", SourceRedirect: "redirect", SourceVacation: "vacation", 0: "unknown"} {
		if s.String() != want {
			t.Errorf("%d: %q", s, s.String())
		}
	}
}
