package storetest

import (
	"testing"
	"time"

	"postern/internal/store"
)

func testVacation(t *testing.T, e *env) {
	a := e.setup()
	b := e.account("bob@example.org")
	v, err := e.s.Vacation(e.ctx, a.ID)
	if err != nil || v.Enabled || v.Version != 0 || v.Subject != nil || !v.From.IsZero() {
		t.Fatalf("vacation of a new account: %+v %v", v, err)
	}
	if _, err := e.s.Vacation(e.ctx, 999999); err != store.ErrNotFound {
		t.Errorf("vacation of no account: %v", err)
	}
	if _, err := e.s.PutVacation(e.ctx, 999999, store.Vacation{Enabled: true}); err != store.ErrNotFound {
		t.Errorf("put vacation of no account: %v", err)
	}
	subject, empty := "Away", ""
	from := time.Date(2026, 12, 1, 8, 0, 0, 500_000_000, time.UTC)
	put, err := e.s.PutVacation(e.ctx, a.ID, store.Vacation{Enabled: true, From: from, Subject: &subject, TextBody: &empty})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.s.Vacation(e.ctx, a.ID)
	if err != nil || !got.Enabled || !got.From.Equal(from.Truncate(time.Second)) || !got.To.IsZero() ||
		got.Subject == nil || *got.Subject != "Away" || got.TextBody == nil || *got.TextBody != "" || got.HTMLBody != nil ||
		got.Version != 1 || got.Version != put.Version {
		t.Fatalf("vacation read back: %+v %v (put %+v)", got, err, put)
	}
	put, err = e.s.PutVacation(e.ctx, a.ID, store.Vacation{})
	if err != nil || put.Enabled || put.Subject != nil || put.TextBody != nil || !put.From.IsZero() || put.Version != 2 {
		t.Fatalf("vacation cleared: %+v %v", put, err)
	}
	if v, err := e.s.Vacation(e.ctx, b.ID); err != nil || v.Version != 0 {
		t.Errorf("bob's vacation: %+v %v", v, err)
	}
}
