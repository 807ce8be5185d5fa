package admin

import (
	"slices"
	"strings"
	"testing"

	"postern/internal/auth"
)

func TestAliases(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("alice@example.org")

	al, err := h.svc.AddAlias(h.ctx, "Team@Example.org",
		[]string{" Alice@example.org", "", "bob@Remote.test", "alice@example.org", "future@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"alice@example.org", "bob@remote.test", "future@example.org"}
	if al.Source != "team@example.org" || !slices.Equal(al.Destinations, want) {
		t.Errorf("alias %+v", al)
	}
	h.wantAudit("alias.add", "team@example.org", "destinations", strings.Join(want, ","))
	list, err := h.svc.Aliases(h.ctx)
	if err != nil || len(list) != 1 || !slices.Equal(list[0].Destinations, want) {
		t.Errorf("aliases: %+v %v", list, err)
	}

	cases := []struct {
		src        string
		dests      []string
		kind       Kind
		field, msg string
	}{
		{"team@example.org", []string{"carol@example.org"}, KindExists, "address", "alias team@example.org already exists"},
		{"alice@example.org", []string{"bob@example.org"}, KindConflict, "address", "alice@example.org is an account; an alias cannot shadow it"},
		{"x@unknown.test", []string{"alice@example.org"}, KindNotFound, "domain", "domain unknown.test does not exist"},
		{"x", []string{"alice@example.org"}, KindInvalid, "address", `"x" is not a valid address`},
		{"x@example.org", nil, KindInvalid, "destination", "alias needs at least one destination"},
		{"x@example.org", []string{" ", ""}, KindInvalid, "destination", "alias needs at least one destination"},
		{"x@example.org", []string{"alice@example.org", "not an address"}, KindInvalid, "destination", `destination "not an address" is not a valid address`},
		{"x@example.org", []string{"a@[10.0.0.1]"}, KindInvalid, "destination", "is not a valid address"},
		{"x@example.org", []string{"alice@example.org", "X@example.org"}, KindInvalid, "destination", "alias x@example.org cannot point to itself"},
	}
	for _, c := range cases {
		_, err := h.svc.AddAlias(h.ctx, c.src, c.dests)
		wantErr(t, err, c.kind, c.field, c.msg)
	}
	h.wantNoAudit("refused alias adds")

	// An alias and an account never share an address, whichever comes
	// first (the account side is in TestAddAccount).
	wantErr(t, h.svc.DeleteAlias(h.ctx, "nobody@example.org"), KindNotFound, "address", "alias nobody@example.org does not exist")
	wantErr(t, h.svc.DeleteAlias(h.ctx, "nobody"), KindInvalid, "address", "is not a valid address")
	h.wantNoAudit("refused alias deletes")
	if err := h.svc.DeleteAlias(h.ctx, "TEAM@example.org"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("alias.delete", "team@example.org")
	if list, _ := h.svc.Aliases(h.ctx); len(list) != 0 {
		t.Errorf("aliases after delete: %+v", list)
	}
}

func TestAppPasswords(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("alice@example.org")

	p, secret, err := h.svc.AddAppPassword(h.ctx, "Alice@example.org", " phone ")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "phone" || p.Account != "alice@example.org" || !p.SCRAM || len(secret) < 24 || p.CreatedAt.IsZero() {
		t.Errorf("app password %+v, secret %q", p, secret)
	}
	h.wantAudit("app_password.add", "alice@example.org", "name", "phone")
	if strings.Contains(h.log.String(), secret) {
		t.Error("the audit log holds the app password")
	}
	// The secret logs in as the account, on the auth service every
	// protocol uses.
	authSvc := auth.New(h.st, auth.Options{}, nil)
	if acct, err := authSvc.Login(h.ctx, netipLoopback, "alice@example.org", secret); err != nil || acct.Address != "alice@example.org" {
		t.Errorf("login with the app password: %+v %v", acct, err)
	}

	cases := []struct {
		addr, name string
		kind       Kind
		field, msg string
	}{
		{"alice@example.org", "phone", KindExists, "name", "app password phone of alice@example.org already exists"},
		{"alice@example.org", " ", KindInvalid, "name", "app password name"},
		{"alice@example.org", "a\tb", KindInvalid, "name", "no tabs or line breaks"},
		{"alice@example.org", strings.Repeat("x", 65), KindInvalid, "name", "1 to 64 characters"},
		{"zed@example.org", "phone", KindNotFound, "address", "account zed@example.org does not exist"},
		{"zed@unknown.test", "phone", KindNotFound, "domain", "domain unknown.test does not exist"},
		{"zed", "phone", KindInvalid, "address", "is not a valid address"},
	}
	for _, c := range cases {
		_, secret, err := h.svc.AddAppPassword(h.ctx, c.addr, c.name)
		wantErr(t, err, c.kind, c.field, c.msg)
		if secret != "" {
			t.Errorf("%s %q: a refused add returned a secret", c.addr, c.name)
		}
	}
	h.wantNoAudit("refused app password adds")

	list, err := h.svc.AppPasswords(h.ctx, "alice@example.org")
	if err != nil || len(list) != 1 || list[0].Name != "phone" || list[0].LastUsed.IsZero() {
		t.Errorf("list after a login: %+v %v", list, err)
	}
	_, err = h.svc.AppPasswords(h.ctx, "zed@example.org")
	wantErr(t, err, KindNotFound, "address", "account zed@example.org does not exist")

	wantErr(t, h.svc.DeleteAppPassword(h.ctx, "alice@example.org", "laptop"), KindNotFound, "name",
		"app password laptop of alice@example.org does not exist")
	wantErr(t, h.svc.DeleteAppPassword(h.ctx, "zed@example.org", "phone"), KindNotFound, "address", "does not exist")
	h.wantNoAudit("refused app password deletes")
	if err := h.svc.DeleteAppPassword(h.ctx, "alice@example.org", "phone"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("app_password.delete", "alice@example.org", "name", "phone")
	if _, err := authSvc.Login(h.ctx, netipLoopback, "alice@example.org", secret); err == nil {
		t.Error("a deleted app password still logs in")
	}
}
