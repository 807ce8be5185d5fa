package deliver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"postern/internal/srs"
	"postern/internal/store"
)

func (f *fixture) send(from string, to ...string) (Result, error) {
	f.t.Helper()
	ctx := context.Background()
	tx := f.p.Begin(Envelope{Source: SourceMX, Sender: from})
	for _, r := range to {
		if err := tx.AddRecipient(ctx, r, RcptOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
	return tx.Deliver(ctx, strings.NewReader(testMsg))
}

func (f *fixture) queued() []store.QueueMessage {
	f.t.Helper()
	q, err := f.st.QueueList(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return q
}

// A remote redirect is queued in the same commit as the local copies, from
// an SRS sender, marked against loops; a local one goes through the
// target's own filter; a message the account redirected before stays.
func TestFilterRedirect(t *testing.T) {
	var bobSaw []string
	f := newFixture(t, testFilter{func(in FilterInput) (FilterResult, error) {
		switch in.Account.Address {
		case "alice@example.test":
			return FilterResult{Discard: true, Redirect: []string{"carol@remote.test", "bob@example.test"}}, nil
		case "bob@example.test":
			bobSaw = append(bobSaw, in.Envelope.Source.String())
		}
		return FilterResult{}, nil
	}})
	f.p.srs = []byte("secret")
	res, err := f.send("x@remote.test", "alice@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.inbox(f.alice, "INBOX")) != 0 || len(res.QueueIDs) != 1 {
		t.Fatalf("alice kept a copy or nothing queued: %+v", res)
	}
	q := f.queued()
	if len(q) != 1 || q[0].Recipients[0].Rcpt != "carol@remote.test" || q[0].AccountID != f.alice.ID {
		t.Fatalf("queue %+v", q)
	}
	if !strings.HasPrefix(q[0].Sender, "SRS0=") || !strings.HasSuffix(q[0].Sender, "@example.test") {
		t.Errorf("redirect sender %q, want an SRS address of example.test", q[0].Sender)
	}
	body := f.body(q[0].BlobID)[q[0].Skip:]
	if !strings.HasPrefix(body, "X-Sieve-Redirected-From: alice@example.test\r\n") || !strings.HasSuffix(body, testMsg) ||
		strings.Contains(body, "Return-Path") {
		t.Errorf("redirected copy %q", body)
	}
	if in := f.inbox(f.bob, "INBOX"); len(in) != 1 || len(bobSaw) != 1 || bobSaw[0] != "redirect" {
		t.Errorf("local redirect: bob has %d, his filter saw %v", len(in), bobSaw)
	}

	// The bounce for the redirected copy comes back to the SRS address
	// and goes to the original sender, even on port 25.
	tx := f.p.Begin(Envelope{Source: SourceMX})
	if err := tx.AddRecipient(context.Background(), q[0].Sender, RcptOptions{}); err != nil {
		t.Fatalf("SRS bounce address refused: %v", err)
	}
	if res, err := tx.Deliver(context.Background(), strings.NewReader(testMsg)); err != nil || res.Remote != 1 {
		t.Fatalf("SRS bounce: %+v %v", res, err)
	}
	q = f.queued()
	if got := q[len(q)-1].Recipients[0].Rcpt; got != "x@remote.test" {
		t.Errorf("SRS bounce went to %q", got)
	}
	forged := srs.New([]byte("other"), "example.test").Forward("x@remote.test")
	tx = f.p.Begin(Envelope{Source: SourceMX})
	if err := tx.AddRecipient(context.Background(), forged, RcptOptions{}); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("forged SRS address: %v", err)
	}

	// A message alice redirected before is kept instead.
	f2 := newFixture(t, testFilter{func(in FilterInput) (FilterResult, error) {
		return FilterResult{Discard: true, Redirect: []string{"carol@remote.test"}}, nil
	}})
	tx = f2.p.Begin(Envelope{Source: SourceMX, Sender: "x@remote.test"})
	if err := tx.AddRecipient(context.Background(), "alice@example.test", RcptOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = tx.Deliver(context.Background(), strings.NewReader("X-Sieve-Redirected-From: alice@example.test\r\n"+testMsg))
	if err != nil || len(res.QueueIDs) != 0 || len(f2.inbox(f2.alice, "INBOX")) != 1 ||
		!strings.Contains(f2.log.String(), "redirect loop") {
		t.Errorf("loop: %+v %v, log:\n%s", res, err, f2.log)
	}
}

// A reject from every recipient is the client's answer; a reject from one
// of several sends the sender a notice; an edited copy is what the mailbox
// keeps; After runs once the copies are stored.
func TestFilterRejectEditAfter(t *testing.T) {
	var afterRan int
	var f *fixture
	f = newFixture(t, testFilter{func(in FilterInput) (FilterResult, error) {
		switch in.Account.Address {
		case "alice@example.test":
			if in.Envelope.Source == SourceMX {
				return FilterResult{Reject: "not wanted"}, nil
			}
			return FilterResult{}, nil
		}
		return FilterResult{Body: []byte("X-Edited: 1\r\n" + testMsg), Keep: []Keep{{}, {Mailbox: "Copies", Create: true}},
			After: func(context.Context) []Outgoing {
				afterRan++
				return []Outgoing{{Source: SourceVacation, Recipient: "alice@example.test", Account: f.bob,
					Body: []byte("Subject: away\r\n\r\nI am away\r\n")}}
			}}, nil
	}})
	_, err := f.send("x@remote.test", "alice@example.test")
	var rej *RejectError
	if !errors.As(err, &rej) || rej.Reason != "not wanted" || len(f.queued()) != 0 {
		t.Fatalf("reject by the only recipient: %v, queue %d", err, len(f.queued()))
	}
	res, err := f.send("alice@example.test", "alice@example.test", "bob@example.test")
	if err != nil || len(res.Delivered) != 2 {
		t.Fatalf("mixed: %+v %v", res, err)
	}
	in := f.inbox(f.bob, "INBOX")
	if len(in) != 1 || !strings.Contains(f.body(in[0].BlobID), "X-Edited: 1\r\n") {
		t.Errorf("bob's edited copy: %d messages", len(in))
	}
	if afterRan != 1 {
		t.Errorf("After ran %d times for two copies", afterRan)
	}
	var notice, reply bool
	for _, m := range f.inbox(f.alice, "INBOX") {
		b := f.body(m.BlobID)
		notice = notice || strings.Contains(b, "rejected by the recipient's filter") && strings.Contains(b, "not wanted") &&
			strings.HasPrefix(b, "Return-Path: <>")
		reply = reply || strings.Contains(b, "I am away")
	}
	if !notice || !reply {
		t.Errorf("alice got notice=%v reply=%v; log:\n%s", notice, reply, f.log)
	}
}

// A forward through an alias leaves from an SRS address of the alias's
// domain; a sender of our own domains stays as it is.
func TestAliasForwardSRS(t *testing.T) {
	f := newFixture(t, nil)
	f.p.srs = []byte("secret")
	ctx := context.Background()
	if err := f.st.AddAlias(ctx, "team@example.test", []string{"carol@remote.test", "bob@example.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.send("x@remote.test", "team@example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.send("alice@example.test", "team@example.test"); err != nil {
		t.Fatal(err)
	}
	q := f.queued()
	if len(q) != 2 {
		t.Fatalf("queue %+v", q)
	}
	if !strings.HasPrefix(q[0].Sender, "SRS0=") || !strings.HasSuffix(q[0].Sender, "@example.test") {
		t.Errorf("forward of a remote sender leaves from %q", q[0].Sender)
	}
	if q[1].Sender != "alice@example.test" {
		t.Errorf("forward of a local sender leaves from %q", q[1].Sender)
	}
	if len(f.inbox(f.bob, "INBOX")) != 2 {
		t.Errorf("bob's copies missing")
	}
}
