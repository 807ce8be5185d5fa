package admin

import (
	"testing"
	"time"

	"postern/internal/store"
)

func TestAccountLastLogin(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("a@example.org")
	h.mustAccount("b@example.org")
	a, err := h.svc.Account(h.ctx, "a@example.org")
	if err != nil || len(a.LastLogin) != 0 {
		t.Fatalf("never logged in: %v %v", a.LastLogin, err)
	}
	t1 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	err = h.st.RecordLogins(h.ctx, []store.LastLogin{
		{AccountID: a.ID, Protocol: "imap", At: t1},
		{AccountID: a.ID, Protocol: "pop3", At: t1.Add(time.Hour)},
		{AccountID: 999999, Protocol: "imap", At: t1}, // gone since: skipped
	})
	if err != nil {
		t.Fatal(err)
	}
	// An older time never replaces a newer one.
	if err := h.st.RecordLogins(h.ctx, []store.LastLogin{{AccountID: a.ID, Protocol: "imap", At: t1.Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	a, err = h.svc.Account(h.ctx, "a@example.org")
	if err != nil || len(a.LastLogin) != 2 || !a.LastLogin["imap"].Equal(t1) || !a.LastLogin["pop3"].Equal(t1.Add(time.Hour)) {
		t.Fatalf("last login %v %v", a.LastLogin, err)
	}
	list, err := h.svc.Accounts(h.ctx, "example.org")
	if err != nil || len(list) != 2 || len(list[0].LastLogin) != 2 || list[1].LastLogin == nil || len(list[1].LastLogin) != 0 {
		t.Fatalf("list %+v %v", list, err)
	}
	if all, err := h.svc.Accounts(h.ctx, ""); err != nil || !all[0].LastLogin["pop3"].Equal(t1.Add(time.Hour)) {
		t.Fatalf("every domain: %+v %v", all, err)
	}
	// The rows go with the account.
	if err := h.svc.DeleteAccount(h.ctx, "a@example.org"); err != nil {
		t.Fatal(err)
	}
	if m, err := h.st.LastLogins(h.ctx, ""); err != nil || len(m) != 0 {
		t.Errorf("after delete: %v %v", m, err)
	}
}
