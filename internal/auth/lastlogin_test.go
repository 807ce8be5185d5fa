package auth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"postern/internal/store"
)

// loginSink is a LoginStore in memory that counts its writes.
type loginSink struct {
	mu     sync.Mutex
	writes [][]store.LastLogin
	fail   error
	got    chan struct{}
}

func (s *loginSink) RecordLogins(_ context.Context, l []store.LastLogin) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, append([]store.LastLogin(nil), l...))
	select {
	case s.got <- struct{}{}:
	default:
	}
	return s.fail
}

func (s *loginSink) all() [][]store.LastLogin {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]store.LastLogin(nil), s.writes...)
}

func TestLoginRecorderHook(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	f := newFixture(t, Options{OnLogin: func(id int64, p string) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
	}})
	if err := f.login(ipA, "alice@example.org", "wrong password"); !errors.Is(err, ErrFailed) {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(WithProtocol(context.Background(), "pop3"), ipA, "Alice@example.org", alicePW); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(WithProtocol(context.Background(), "submission"), ipA, "carol@example.org", alicePW); err == nil {
		t.Fatal("disabled account logged in")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "pop3" {
		t.Errorf("OnLogin saw %v, want one pop3 login", seen)
	}
}

func TestLoginRecorder(t *testing.T) {
	sink := &loginSink{got: make(chan struct{}, 10)}
	clock := &fakeClock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	r := NewLoginRecorder(sink, time.Minute, nil)
	r.now = clock.Now
	// Not started: flush by hand to see each step.
	r.Record(1, "imap")
	r.Record(1, "submission")
	r.Record(1, "admin") // not an account protocol
	r.Record(0, "imap")
	r.flush(false)
	w := sink.all()
	if len(w) != 1 || len(w[0]) != 2 {
		t.Fatalf("first logins: writes %v, want one batch of imap and smtp", w)
	}
	for _, l := range w[0] {
		if l.AccountID != 1 || (l.Protocol != "imap" && l.Protocol != "smtp") || !l.At.Equal(clock.Now()) {
			t.Errorf("wrote %+v", l)
		}
	}
	// Logins within the minute wait for it.
	for range 100 {
		clock.Advance(time.Second / 10)
		r.Record(1, "imap")
	}
	r.flush(false)
	if n := len(sink.all()); n != 1 {
		t.Fatalf("%d writes within a minute, want 1", n)
	}
	clock.Advance(time.Minute)
	r.flush(false)
	w = sink.all()
	if len(w) != 2 || len(w[1]) != 1 || w[1][0].Protocol != "imap" || !w[1][0].At.Equal(clock.Now().Add(-time.Minute)) {
		t.Fatalf("after a minute: %v", w)
	}
	// Nothing new: nothing written, and the entries are forgotten.
	clock.Advance(2 * time.Minute)
	r.flush(false)
	r.mu.Lock()
	n := len(r.pending)
	r.mu.Unlock()
	if len(sink.all()) != 2 || n != 0 {
		t.Errorf("idle: %d writes, %d entries kept", len(sink.all()), n)
	}
	// A failed write is tried again later; Close writes what is left.
	sink.fail = errors.New("disk full")
	r.Record(2, "jmap")
	r.flush(false)
	sink.fail = nil
	r.Record(3, "webmail")
	clock.Advance(10 * time.Second)
	r.Record(3, "webmail")
	r.Close()
	w = sink.all()
	last := w[len(w)-1]
	if len(last) != 2 {
		t.Errorf("Close wrote %v, want jmap (retried) and webmail", last)
	}
}

func TestLoginRecorderRunning(t *testing.T) {
	sink := &loginSink{got: make(chan struct{}, 10)}
	r := NewLoginRecorder(sink, time.Minute, nil)
	r.Start()
	r.Record(7, "managesieve")
	select {
	case <-sink.got:
	case <-time.After(5 * time.Second):
		t.Fatal("a first login was not written within 5 s")
	}
	r.Record(7, "managesieve")
	r.Close()
	r.Close() // twice is fine
	if w := sink.all(); len(w) != 2 {
		t.Errorf("writes %v: want the first login, then the second at Close", w)
	}
}
