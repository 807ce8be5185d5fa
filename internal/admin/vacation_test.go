package admin

import (
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

func TestVacation(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("alice@example.org")
	const addr = "Alice@Example.org"
	if v, err := h.svc.Vacation(h.ctx, addr); err != nil || v.Enabled || v.Version != 0 {
		t.Fatalf("new account's vacation %+v %v", v, err)
	}
	s := func(x string) *string { return &x }
	from := time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)
	v, err := h.svc.SetVacation(h.ctx, addr, store.Vacation{Enabled: true, From: from, To: from.Add(72 * time.Hour), Subject: s("Away")})
	if err != nil || !v.Enabled || v.Version != 1 || *v.Subject != "Away" {
		t.Fatalf("set %+v %v", v, err)
	}
	h.wantAudit("vacation.set", "alice@example.org", "enabled", true)

	for _, c := range []struct {
		v     store.Vacation
		field string
		msg   string
	}{
		{store.Vacation{Subject: s("a\r\nBcc: x@example.net")}, "subject", "one line"},
		{store.Vacation{Subject: s(strings.Repeat("x", MaxVacationSubject+1))}, "subject", "at most"},
		{store.Vacation{TextBody: s("\xff")}, "text", "at most"},
		{store.Vacation{HTMLBody: s(strings.Repeat("x", MaxVacationBody+1))}, "html", "at most"},
		{store.Vacation{From: from, To: from}, "to", "must come after"},
	} {
		_, err := h.svc.SetVacation(h.ctx, addr, c.v)
		wantErr(t, err, KindInvalid, c.field, c.msg)
	}
	h.wantNoAudit("refused vacation")
	_, err = h.svc.SetVacation(h.ctx, "nobody@example.org", store.Vacation{})
	wantErr(t, err, KindNotFound, "address", "does not exist")

	for now, want := range map[time.Time]string{
		from.Add(-time.Hour):     "from 2026-12-20 00:00 UTC (not yet)",
		from:                     "on until 2026-12-23 00:00 UTC",
		from.Add(72 * time.Hour): "ended 2026-12-23 00:00 UTC",
	} {
		if got := VacationState(v, now); got != want {
			t.Errorf("state at %v: %q, want %q", now, got, want)
		}
	}
	if got := VacationState(store.Vacation{Enabled: true}, from); got != "on" {
		t.Errorf("state without dates %q", got)
	}
	if got := VacationState(store.Vacation{}, from); got != "off" {
		t.Errorf("state disabled %q", got)
	}
}
