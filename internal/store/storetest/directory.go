package storetest

import (
	"slices"
	"testing"

	"postern/internal/store"
)

func testDomains(t *testing.T, e *env) {
	d := e.domain("Example.ORG")
	if d.Name != "example.org" || d.ID == 0 || d.CreatedAt.IsZero() {
		t.Errorf("AddDomain returned %+v", d)
	}
	if err := e.s.SetPostmaster(e.ctx, "example.org", "Boss@Example.org"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.s.Domain(e.ctx, "example.org"); got.Postmaster != "boss@example.org" {
		t.Errorf("postmaster %q", got.Postmaster)
	}
	wantErr(t, "postmaster of no domain", e.s.SetPostmaster(e.ctx, "nowhere.example", "a@b.example"), store.ErrNotFound)
	if err := e.s.SetPostmaster(e.ctx, "example.org", ""); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.AddDomain(e.ctx, "EXAMPLE.org")
	wantErr(t, "duplicate domain", err, store.ErrExists)
	for _, bad := range []string{"", "a b.org", "x@y.org", "..org"} {
		_, err := e.s.AddDomain(e.ctx, bad)
		wantErr(t, "AddDomain("+bad+")", err, store.ErrInvalid)
	}
	e.domain("a.example")
	got, err := e.s.Domain(e.ctx, "EXAMPLE.ORG")
	if err != nil || got.ID != d.ID {
		t.Errorf("Domain: %+v %v", got, err)
	}
	_, err = e.s.Domain(e.ctx, "nowhere.example")
	wantErr(t, "unknown domain", err, store.ErrNotFound)
	all, err := e.s.Domains(e.ctx)
	if err != nil || len(all) != 2 || all[0].Name != "a.example" || all[1].Name != "example.org" {
		t.Errorf("Domains: %+v %v", all, err)
	}

	if err := e.s.SetCatchAll(e.ctx, "example.org", "Postmaster@Example.org"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.s.Domain(e.ctx, "example.org"); got.CatchAll != "postmaster@example.org" {
		t.Errorf("catch-all %q", got.CatchAll)
	}
	if err := e.s.SetCatchAll(e.ctx, "example.org", ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.s.Domain(e.ctx, "example.org"); got.CatchAll != "" {
		t.Errorf("catch-all not cleared: %q", got.CatchAll)
	}
	wantErr(t, "SetCatchAll unknown", e.s.SetCatchAll(e.ctx, "nowhere.example", "a@b.org"), store.ErrNotFound)

	if err := e.s.DeleteDomain(e.ctx, "A.example"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteDomain twice", e.s.DeleteDomain(e.ctx, "a.example"), store.ErrNotFound)
	if all, _ := e.s.Domains(e.ctx); len(all) != 1 {
		t.Errorf("after delete: %+v", all)
	}
}

func testAccounts(t *testing.T, e *env) {
	e.domain("example.org")
	e.domain("other.example")
	cred := store.Credentials{PasswordHash: "$argon2id$v=19$abc", SCRAMSHA256: "s"}
	a, err := e.s.AddAccount(e.ctx, "Alice@Example.org", cred)
	if err != nil {
		t.Fatal(err)
	}
	if a.Address != "alice@example.org" || a.ID == 0 || a.Credentials != cred || a.Disabled {
		t.Errorf("AddAccount returned %+v", a)
	}
	_, err = e.s.AddAccount(e.ctx, "ALICE@example.org", cred)
	wantErr(t, "duplicate account", err, store.ErrExists)
	_, err = e.s.AddAccount(e.ctx, "bob@nowhere.example", cred)
	wantErr(t, "account of unknown domain", err, store.ErrNotFound)
	_, err = e.s.AddAccount(e.ctx, "no-at-sign", cred)
	wantErr(t, "bad address", err, store.ErrInvalid)

	mbs, err := e.s.Mailboxes(e.ctx, a.ID)
	if err != nil || len(mbs) != len(store.DefaultMailboxes) {
		t.Fatalf("Mailboxes: %+v %v", mbs, err)
	}
	for _, dm := range store.DefaultMailboxes {
		m := e.mailbox(a.ID, dm.Name)
		if m.SpecialUse != dm.SpecialUse || !m.Subscribed || m.UIDNext != 1 || m.UIDValidity == 0 {
			t.Errorf("default mailbox %+v", m)
		}
	}

	got, err := e.s.Account(e.ctx, "ALICE@EXAMPLE.ORG")
	if err != nil || got.ID != a.ID || got.Credentials != cred {
		t.Errorf("Account: %+v %v", got, err)
	}
	if got, err := e.s.AccountByID(e.ctx, a.ID); err != nil || got.Address != a.Address {
		t.Errorf("AccountByID: %+v %v", got, err)
	}
	_, err = e.s.Account(e.ctx, "nobody@example.org")
	wantErr(t, "unknown account", err, store.ErrNotFound)
	_, err = e.s.AccountByID(e.ctx, a.ID+1000)
	wantErr(t, "unknown account id", err, store.ErrNotFound)

	e.account("carol@other.example")
	e.account("bob@example.org")
	list, err := e.s.Accounts(e.ctx, "example.org")
	if err != nil || len(list) != 2 || list[0].Address != "alice@example.org" || list[1].Address != "bob@example.org" {
		t.Errorf("Accounts(example.org): %+v %v", list, err)
	}
	if list, _ := e.s.Accounts(e.ctx, ""); len(list) != 3 {
		t.Errorf("Accounts(\"\"): %d", len(list))
	}
	_, err = e.s.Accounts(e.ctx, "nowhere.example")
	wantErr(t, "Accounts of unknown domain", err, store.ErrNotFound)

	testAccountSetters(t, e, a)

	if err := e.s.DeleteAccount(e.ctx, "alice@EXAMPLE.org"); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Account(e.ctx, "alice@example.org")
	wantErr(t, "deleted account", err, store.ErrNotFound)
	if mbs, _ := e.s.Mailboxes(e.ctx, a.ID); len(mbs) != 0 {
		t.Errorf("mailboxes of deleted account: %+v", mbs)
	}
	wantErr(t, "DeleteAccount twice", e.s.DeleteAccount(e.ctx, "alice@example.org"), store.ErrNotFound)
	// The address is free again.
	e.account("alice@example.org")
}

func testAccountSetters(t *testing.T, e *env, a store.Account) {
	cred2 := store.Credentials{PasswordHash: "new", SCRAMSHA256: "new-scram"}
	if err := e.s.SetCredentials(e.ctx, "Alice@example.org", cred2); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetDisabled(e.ctx, "alice@example.org", true); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetQuota(e.ctx, "alice@example.org", 1000, 10); err != nil {
		t.Fatal(err)
	}
	got := e.reload(a)
	if got.Credentials != cred2 || !got.Disabled || got.QuotaBytes != 1000 || got.QuotaMessages != 10 {
		t.Errorf("after setters: %+v", got)
	}
	if err := e.s.SetDisabled(e.ctx, "alice@example.org", false); err != nil {
		t.Fatal(err)
	}
	if e.reload(a).Disabled {
		t.Error("SetDisabled(false) did not enable")
	}
	// A rehash replaces the hash only while it is the one it was made from.
	if done, err := e.s.RehashPassword(e.ctx, a.ID, "stale", "rehashed"); err != nil || done || e.reload(a).PasswordHash != "new" {
		t.Errorf("RehashPassword from a stale hash: %v %v", done, err)
	}
	if done, err := e.s.RehashPassword(e.ctx, a.ID, "new", "rehashed"); err != nil || !done {
		t.Errorf("RehashPassword: %v %v", done, err)
	}
	if got := e.reload(a); got.PasswordHash != "rehashed" || got.SCRAMSHA256 != "new-scram" {
		t.Errorf("after RehashPassword: %+v", got.Credentials)
	}
	wantErr(t, "SetQuota negative", e.s.SetQuota(e.ctx, "alice@example.org", -1, 0), store.ErrInvalid)
	wantErr(t, "SetCredentials unknown", e.s.SetCredentials(e.ctx, "x@example.org", cred2), store.ErrNotFound)
	wantErr(t, "SetDisabled unknown", e.s.SetDisabled(e.ctx, "x@example.org", true), store.ErrNotFound)
	wantErr(t, "SetQuota unknown", e.s.SetQuota(e.ctx, "x@example.org", 1, 1), store.ErrNotFound)
}

func testAliases(t *testing.T, e *env) {
	e.setup()
	if err := e.s.AddAlias(e.ctx, "Sales@Example.org", []string{"Alice@example.org", "bob@REMOTE.example", "alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	a, err := e.s.Alias(e.ctx, "sales@example.ORG")
	if err != nil || a.Source != "sales@example.org" || !slices.Equal(a.Destinations, []string{"alice@example.org", "bob@remote.example"}) {
		t.Errorf("Alias: %+v %v", a, err)
	}
	wantErr(t, "duplicate alias", e.s.AddAlias(e.ctx, "sales@example.org", []string{"x@y.org"}), store.ErrExists)
	wantErr(t, "alias over account", e.s.AddAlias(e.ctx, "alice@example.org", []string{"x@y.org"}), store.ErrExists)
	wantErr(t, "alias of remote domain", e.s.AddAlias(e.ctx, "x@remote.example", []string{"x@y.org"}), store.ErrNotFound)
	wantErr(t, "alias without destinations", e.s.AddAlias(e.ctx, "empty@example.org", nil), store.ErrInvalid)
	wantErr(t, "alias with bad destination", e.s.AddAlias(e.ctx, "bad@example.org", []string{"nope"}), store.ErrInvalid)
	_, err = e.s.AddAccount(e.ctx, "sales@example.org", store.Credentials{})
	wantErr(t, "account over alias", err, store.ErrExists)

	if err := e.s.AddAlias(e.ctx, "info@example.org", []string{"alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	all, err := e.s.Aliases(e.ctx)
	if err != nil || len(all) != 2 || all[0].Source != "info@example.org" {
		t.Errorf("Aliases: %+v %v", all, err)
	}
	if err := e.s.DeleteAlias(e.ctx, "INFO@example.org"); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Alias(e.ctx, "info@example.org")
	wantErr(t, "deleted alias", err, store.ErrNotFound)
	wantErr(t, "DeleteAlias twice", e.s.DeleteAlias(e.ctx, "info@example.org"), store.ErrNotFound)
}

func testDeleteDomainCascades(t *testing.T, e *env) {
	a := e.setup()
	e.domain("keep.example")
	k := e.account("k@keep.example")
	if err := e.s.AddAlias(e.ctx, "sales@example.org", []string{"alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	nb := e.sized(300)
	res := e.deliver(nb, store.DeliveryTarget{AccountID: a.ID}, store.DeliveryTarget{AccountID: k.ID})
	if res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("deliver: %+v", res)
	}
	only := e.deliver(e.sized(200), store.DeliveryTarget{AccountID: a.ID})[0]
	onlyID := e.messages(only.MailboxID)[1].BlobID

	if err := e.s.DeleteDomain(e.ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.Account(e.ctx, "alice@example.org")
	wantErr(t, "account of deleted domain", err, store.ErrNotFound)
	_, err = e.s.Alias(e.ctx, "sales@example.org")
	wantErr(t, "alias of deleted domain", err, store.ErrNotFound)
	if mbs, _ := e.s.Mailboxes(e.ctx, a.ID); len(mbs) != 0 {
		t.Errorf("mailboxes survive: %+v", mbs)
	}
	// The shared body stays for the other domain's copy; the other goes.
	msgs := e.messages(e.mailbox(k.ID, "INBOX").ID)
	if len(msgs) != 1 {
		t.Fatalf("other account lost its mail: %+v", msgs)
	}
	if rc, err := e.s.OpenBlob(e.ctx, msgs[0].BlobID); err != nil {
		t.Errorf("shared blob gone: %v", err)
	} else {
		rc.Close()
	}
	e.purge()
	if rc, err := e.s.OpenBlob(e.ctx, onlyID); err == nil {
		rc.Close()
		t.Error("body of deleted account's only message still there")
	}
}
