package storetest

import (
	"errors"
	"testing"
	"time"

	"postern/internal/store"
)

// testAddAccounts: a batch is created whole, with mailboxes and quotas,
// or not at all, naming the entry that failed.
func testAddAccounts(t *testing.T, e *env) {
	e.domain("example.org")
	e.account("taken@example.org")
	cred := store.Credentials{PasswordHash: "$argon2id$x", SCRAMSHA256: "s"}
	for _, tc := range []struct {
		name  string
		batch []store.NewAccount
		index int
		err   error
	}{
		{"taken", []store.NewAccount{{Address: "a@example.org", Credentials: cred}, {Address: "Taken@example.org", Credentials: cred}}, 1, store.ErrExists},
		{"twice", []store.NewAccount{{Address: "a@example.org", Credentials: cred}, {Address: "A@example.org", Credentials: cred}}, 1, store.ErrExists},
		{"domain", []store.NewAccount{{Address: "a@nowhere.example", Credentials: cred}}, 0, store.ErrNotFound},
		{"address", []store.NewAccount{{Address: "a@example.org", Credentials: cred}, {Address: "bad", Credentials: cred}}, 1, store.ErrInvalid},
	} {
		_, err := e.s.AddAccounts(e.ctx, tc.batch)
		var be *store.BatchError
		if !errors.As(err, &be) || be.Index != tc.index || !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want entry %d: %v", tc.name, err, tc.index, tc.err)
		}
		if _, err := e.s.Account(e.ctx, "a@example.org"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: a refused batch left a@example.org: %v", tc.name, err)
		}
	}
	got, err := e.s.AddAccounts(e.ctx, []store.NewAccount{{Address: "A@example.org", Credentials: cred, QuotaBytes: 1 << 20}, {Address: "b@example.org", Credentials: cred}})
	if err != nil || len(got) != 2 || got[0].Address != "a@example.org" || got[0].ID == 0 || got[0].QuotaBytes != 1<<20 {
		t.Fatalf("AddAccounts: %+v %v", got, err)
	}
	a, err := e.s.Account(e.ctx, "a@example.org")
	if err != nil || a.QuotaBytes != 1<<20 || a.Credentials != cred {
		t.Errorf("Account: %+v %v", a, err)
	}
	if mbs, err := e.s.Mailboxes(e.ctx, got[1].ID); err != nil || len(mbs) != len(store.DefaultMailboxes) {
		t.Errorf("Mailboxes of an imported account: %d %v", len(mbs), err)
	}
}

// testLastLogins: times per account and protocol that never move back,
// by domain, and gone with the account.
func testLastLogins(t *testing.T, e *env) {
	e.domain("example.org")
	e.domain("other.example")
	a := e.account("a@example.org")
	b := e.account("b@other.example")
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	err := e.s.RecordLogins(e.ctx, []store.LastLogin{
		{AccountID: a.ID, Protocol: "imap", At: t0},
		{AccountID: a.ID, Protocol: "smtp", At: t0.Add(time.Minute)},
		{AccountID: b.ID, Protocol: "imap", At: t0},
		{AccountID: a.ID + b.ID + 100, Protocol: "imap", At: t0}, // no such account
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.RecordLogins(e.ctx, []store.LastLogin{{AccountID: a.ID, Protocol: "imap", At: t0.Add(-time.Hour)},
		{AccountID: b.ID, Protocol: "imap", At: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	m, err := e.s.AccountLastLogins(e.ctx, a.ID)
	if err != nil || len(m) != 2 || !m["imap"].Equal(t0) || !m["smtp"].Equal(t0.Add(time.Minute)) {
		t.Errorf("AccountLastLogins: %v %v", m, err)
	}
	byDomain, err := e.s.LastLogins(e.ctx, "other.example")
	if err != nil || len(byDomain) != 1 || !byDomain[b.ID]["imap"].Equal(t0.Add(time.Hour)) {
		t.Errorf("LastLogins(other.example): %v %v", byDomain, err)
	}
	if all, err := e.s.LastLogins(e.ctx, ""); err != nil || len(all) != 2 {
		t.Errorf("LastLogins(\"\"): %v %v", all, err)
	}
	if _, err := e.s.LastLogins(e.ctx, "nowhere.example"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LastLogins of an unknown domain: %v", err)
	}
	if err := e.s.DeleteAccount(e.ctx, "a@example.org"); err != nil {
		t.Fatal(err)
	}
	if m, err := e.s.AccountLastLogins(e.ctx, a.ID); err != nil || len(m) != 0 {
		t.Errorf("after delete: %v %v", m, err)
	}
}
