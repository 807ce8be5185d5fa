package admin

import (
	"errors"
	"testing"
	"time"

	"postern/internal/deliver"
	"postern/internal/store"
)

func TestAddDomain(t *testing.T) {
	h := newHarness(t)
	d, err := h.svc.AddDomain(h.ctx, " Example.ORG ")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "example.org" || d.ID == 0 {
		t.Errorf("domain %+v", d)
	}
	keys, err := h.svc.DKIMKeys(h.ctx, "example.org")
	if err != nil || len(keys) != 2 || !keys[0].Active || !keys[1].Active {
		t.Fatalf("keys after domain add: %+v %v", keys, err)
	}
	// fastKeys numbers its calls: the first makes selectors t1e and t1r.
	h.wantAudit("domain.add", "example.org", "dkim_selectors", "t1e,t1r")

	_, err = h.svc.AddDomain(h.ctx, "EXAMPLE.org")
	wantErr(t, err, KindExists, "domain", "domain example.org already exists")
	for _, bad := range []string{"", "exa mple.org", "-x.org", "example..org", "a@b.org", "example.org."} {
		_, err := h.svc.AddDomain(h.ctx, bad)
		wantErr(t, err, KindInvalid, "domain", "is not a domain name")
		if !errors.Is(err, deliver.ErrAddressSyntax) {
			t.Errorf("%q: %v does not wrap deliver.ErrAddressSyntax", bad, err)
		}
	}
	h.wantNoAudit("refused domain adds")
	if ds, _ := h.svc.Domains(h.ctx); len(ds) != 1 {
		t.Errorf("domains: %+v", ds)
	}
}

var errBoom = errors.New("boom")

// TestAddDomainKeysFail: when the keys cannot be made, no domain is added.
func TestAddDomainKeysFail(t *testing.T) {
	h := newHarness(t)
	h.svc.newKeys = func(time.Time) ([]store.DKIMKey, error) { return nil, errBoom }
	if _, err := h.svc.AddDomain(h.ctx, "example.org"); !errors.Is(err, errBoom) {
		t.Fatalf("AddDomain: %v, want the generator's error", err)
	}
	// Keys the store refuses: the new domain is removed again.
	h.svc.newKeys = func(time.Time) ([]store.DKIMKey, error) {
		return []store.DKIMKey{{Selector: "x", Algorithm: "md5", PrivateKeyPEM: "-"}}, nil
	}
	if _, err := h.svc.AddDomain(h.ctx, "example.org"); err == nil {
		t.Fatal("AddDomain with bad keys succeeded")
	}
	if ds, _ := h.svc.Domains(h.ctx); len(ds) != 0 {
		t.Errorf("a domain without keys was left: %+v", ds)
	}
	h.wantNoAudit("failed domain adds")
}

func TestDomainAndDelete(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("alice@example.org")
	if d, err := h.svc.Domain(h.ctx, "EXAMPLE.ORG"); err != nil || d.Name != "example.org" {
		t.Errorf("Domain: %+v %v", d, err)
	}
	_, err := h.svc.Domain(h.ctx, "nosuch.test")
	wantErr(t, err, KindNotFound, "domain", "domain nosuch.test does not exist")
	h.wantNoAudit("reads")

	err = h.svc.DeleteDomain(h.ctx, "nosuch.test")
	wantErr(t, err, KindNotFound, "domain", "domain nosuch.test does not exist")
	err = h.svc.DeleteDomain(h.ctx, "not a domain")
	wantErr(t, err, KindInvalid, "domain", `"not a domain" is not a domain name`)
	h.wantNoAudit("refused deletes")

	if err := h.svc.DeleteDomain(h.ctx, "Example.org"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("domain.delete", "example.org")
	_, err = h.svc.Account(h.ctx, "alice@example.org")
	wantErr(t, err, KindNotFound, "address", "account alice@example.org does not exist")
	if keys, err := h.st.DKIMKeys(h.ctx, "", false); err != nil || len(keys) != 0 {
		t.Errorf("keys of a deleted domain: %d %v", len(keys), err)
	}
}

func TestCatchAll(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustDomain("other.test")
	h.mustAccount("carol@example.org")
	h.mustAlias("team@other.test", "carol@example.org")

	if err := h.svc.SetCatchAll(h.ctx, "Example.Org", "CAROL@example.org"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("domain.catchall.set", "example.org", "catch_all", "carol@example.org")
	if d, _ := h.svc.Domain(h.ctx, "example.org"); d.CatchAll != "carol@example.org" {
		t.Errorf("catch-all %q", d.CatchAll)
	}
	// An alias in another local domain will do.
	if err := h.svc.SetCatchAll(h.ctx, "example.org", "team@other.test"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("domain.catchall.set", "example.org", "catch_all", "team@other.test")

	cases := []struct {
		domain, target string
		kind           Kind
		field, msg     string
	}{
		{"nosuch.test", "carol@example.org", KindNotFound, "domain", "domain nosuch.test does not exist"},
		{"bad domain", "carol@example.org", KindInvalid, "domain", "is not a domain name"},
		{"example.org", "carol", KindInvalid, "address", `"carol" is not a valid address`},
		{"example.org", "", KindInvalid, "address", "is not a valid address"},
		{"example.org", "nobody@example.org", KindNotFound, "address", "nobody@example.org is neither an account nor an alias"},
		{"example.org", "x@remote.test", KindInvalid, "address", "not in a local domain"},
	}
	for _, c := range cases {
		err := h.svc.SetCatchAll(h.ctx, c.domain, c.target)
		wantErr(t, err, c.kind, c.field, c.msg)
	}
	h.wantNoAudit("refused catch-alls")

	if err := h.svc.ClearCatchAll(h.ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("domain.catchall.clear", "example.org", "was", "team@other.test")
	if d, _ := h.svc.Domain(h.ctx, "example.org"); d.CatchAll != "" {
		t.Errorf("catch-all after clear %q", d.CatchAll)
	}
	err := h.svc.ClearCatchAll(h.ctx, "nosuch.test")
	wantErr(t, err, KindNotFound, "domain", "domain nosuch.test does not exist")
}

func TestSetPostmaster(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("alice@example.org")
	wantErr(t, h.svc.SetPostmaster(h.ctx, "example.org", "nobody@example.org"), KindNotFound, "address", "neither an account nor an alias")
	wantErr(t, h.svc.SetPostmaster(h.ctx, "nowhere.org", "alice@example.org"), KindNotFound, "domain", "")
	if err := h.svc.SetPostmaster(h.ctx, "Example.org", "admin@elsewhere.net"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("domain.postmaster.set", "example.org", "postmaster", "admin@elsewhere.net")
	if d, _ := h.svc.Domain(h.ctx, "example.org"); d.Postmaster != "admin@elsewhere.net" {
		t.Errorf("postmaster %q", d.Postmaster)
	}
	if err := h.svc.SetPostmaster(h.ctx, "example.org", ""); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("domain.postmaster.set", "example.org", "postmaster", "")
}
