package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"postern/internal/auth"
	"postern/internal/store"
)

func TestAddAdministrator(t *testing.T) {
	h := newHarness(t)
	if _, err := h.svc.AddDomain(h.ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	h.audits()
	ad, pw, url, err := h.svc.AddAdministrator(h.ctx, NewAdministrator{Name: " Root ", Role: "server",
		Password: NewPassword{Generate: true}})
	if err != nil {
		t.Fatal(err)
	}
	if ad.Name != "root" || !ad.IsServer() || ad.TOTP || pw == "" || url != "" || ad.ActorName() != "admin:root" {
		t.Errorf("added %+v password %q url %q", ad, pw, url)
	}
	h.wantAudit("admin.add", "root", "role", "server")
	ad, pw, url, err = h.svc.AddAdministrator(h.ctx, NewAdministrator{Name: "dom", Role: "domain",
		Domains: []string{"Example.ORG", "example.org", ""}, Password: NewPassword{Given: "a long password"}, TOTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if pw != "" || !ad.TOTP || len(ad.Domains) != 1 || ad.Domains[0] != "example.org" ||
		!strings.HasPrefix(url, "otpauth://totp/") || !strings.Contains(url, "secret=") {
		t.Errorf("added %+v password %q url %q", ad, pw, url)
	}
	list, err := h.svc.Administrators(h.ctx)
	if err != nil || len(list) != 2 || list[0].Name != "dom" || list[1].Name != "root" {
		t.Errorf("Administrators = %+v, %v", list, err)
	}
	st, _ := h.st.Admin(h.ctx, "dom")
	if ok, _ := auth.CheckPassword(st.PasswordHash, "a long password"); !ok {
		t.Error("stored hash does not check the password")
	}
	h.audits()

	for _, c := range []struct {
		n           NewAdministrator
		kind        Kind
		field, want string
	}{
		{NewAdministrator{Name: "", Role: "server", Password: NewPassword{Generate: true}}, KindInvalid, "name", "administrator name"},
		{NewAdministrator{Name: "-x", Role: "server", Password: NewPassword{Generate: true}}, KindInvalid, "name", "starting with a letter"},
		{NewAdministrator{Name: "a b", Role: "server", Password: NewPassword{Generate: true}}, KindInvalid, "name", "a-z 0-9"},
		{NewAdministrator{Name: "x", Role: "owner", Password: NewPassword{Generate: true}}, KindInvalid, "role", `role "owner": say server or domain`},
		{NewAdministrator{Name: "x", Role: "domain", Password: NewPassword{Generate: true}}, KindInvalid, "domains", "at least one domain"},
		{NewAdministrator{Name: "x", Role: "server", Domains: []string{"example.org"}, Password: NewPassword{Generate: true}}, KindInvalid, "domains", "give no domains"},
		{NewAdministrator{Name: "x", Role: "domain", Domains: []string{"other.test"}, Password: NewPassword{Generate: true}}, KindNotFound, "domain", "domain other.test does not exist"},
		{NewAdministrator{Name: "x", Role: "server", Password: NewPassword{Given: "short"}}, KindInvalid, "password", "at least"},
		{NewAdministrator{Name: "ROOT", Role: "server", Password: NewPassword{Generate: true}}, KindExists, "name", "administrator root already exists"},
	} {
		_, _, _, err := h.svc.AddAdministrator(h.ctx, c.n)
		wantErr(t, err, c.kind, c.field, c.want)
	}
	h.wantNoAudit("refused administrators")
	if _, _, _, err := h.svc.AddAdministrator(context.Background(), NewAdministrator{Name: "y", Role: "server"}); err != ErrNoActor {
		t.Errorf("without actor: %v", err)
	}

	if err := h.svc.DeleteAdministrator(h.ctx, "Dom"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("admin.delete", "dom")
	wantErr(t, h.svc.DeleteAdministrator(h.ctx, "dom"), KindNotFound, "name", "administrator dom does not exist")
}

func TestAdministratorTOTPAndLogin(t *testing.T) {
	h := newHarness(t)
	if _, _, _, err := h.svc.AddAdministrator(h.ctx, NewAdministrator{Name: "root", Role: "server",
		Password: NewPassword{Given: "a long password"}}); err != nil {
		t.Fatal(err)
	}
	p, err := h.svc.AdminPrincipal(h.ctx, "root", "")
	if err != nil || !p.Found || p.SecondFactor != nil {
		t.Fatalf("principal without TOTP: %+v %v", p, err)
	}
	if p, err := h.svc.AdminPrincipal(h.ctx, "nobody", ""); err != nil || p.Found {
		t.Errorf("unknown principal: %+v %v", p, err)
	}
	h.audits()
	url, err := h.svc.SetAdministratorTOTP(h.ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	h.wantAudit("admin.totp.set", "root")
	key, err := otp.NewKeyFromURL(url)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(key.Secret(), time.Now())
	for _, c := range []struct {
		code string
		ok   bool
	}{{code, true}, {code, false}, {"", false}, {"000000x", false}, {"12345", false}} {
		p, _ := h.svc.AdminPrincipal(h.ctx, "root", c.code)
		if p.SecondFactor == nil || p.SecondFactor() != c.ok {
			t.Errorf("code %q: second factor accepted != %v (the second use of a code is a replay)", c.code, c.ok)
		}
	}
	if err := h.svc.ClearAdministratorTOTP(h.ctx, "root"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("admin.totp.clear", "root")
	if p, _ := h.svc.AdminPrincipal(h.ctx, "root", ""); p.SecondFactor != nil {
		t.Error("TOTP still asked after clearing")
	}

	sess, err := h.svc.StartSession(h.ctx, "root")
	if err != nil || sess.Token == "" || sess.CSRF != CSRFToken(sess.Token) || sess.Admin.LastLogin.IsZero() {
		t.Fatalf("session %+v %v", sess, err)
	}
	if a, err := h.svc.SessionAdmin(h.ctx, sess.Token); err != nil || a.Name != "root" {
		t.Errorf("SessionAdmin = %+v, %v", a, err)
	}
	if _, err := h.svc.APITokenAdmin(h.ctx, sess.Token); !IsNoSession(err) {
		t.Errorf("a session token taken as an API token: %v", err)
	}
	if err := h.svc.EndSession(h.ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SessionAdmin(h.ctx, sess.Token); !IsNoSession(err) {
		t.Errorf("session after logout: %v", err)
	}
	if err := h.svc.EndSession(h.ctx, sess.Token); err != nil {
		t.Errorf("second logout: %v", err)
	}
	h.wantNoAudit("logins and logouts")

	tok, secret, err := h.svc.AddAPIToken(h.ctx, "root", " deploy ")
	if err != nil || secret == "" || tok.Name != "deploy" {
		t.Fatalf("AddAPIToken = %+v %q %v", tok, secret, err)
	}
	h.wantAudit("admin.token.add", "root", "name", "deploy")
	_, _, err = h.svc.AddAPIToken(h.ctx, "root", "deploy")
	wantErr(t, err, KindExists, "name", "API token deploy of root already exists")
	_, _, err = h.svc.AddAPIToken(h.ctx, "root", "")
	wantErr(t, err, KindInvalid, "name", "API token name")
	if a, err := h.svc.APITokenAdmin(h.ctx, secret); err != nil || a.Name != "root" {
		t.Errorf("APITokenAdmin = %+v %v", a, err)
	}
	if _, err := h.svc.SessionAdmin(h.ctx, secret); !IsNoSession(err) {
		t.Errorf("an API token taken as a session: %v", err)
	}
	list, err := h.svc.APITokens(h.ctx, "root")
	if err != nil || len(list) != 1 || list[0].ID != tok.ID {
		t.Errorf("APITokens = %+v %v", list, err)
	}
	h.audits()
	if err := h.svc.RevokeAPIToken(h.ctx, "root", tok.ID); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("admin.token.revoke", "root")
	wantErr(t, h.svc.RevokeAPIToken(h.ctx, "root", tok.ID), KindNotFound, "id", "does not exist")
	if _, err := h.svc.APITokenAdmin(h.ctx, secret); !IsNoSession(err) {
		t.Errorf("revoked token still works: %v", err)
	}
}

func TestAdministratorScope(t *testing.T) {
	dom := Administrator{Name: "d", Role: store.AdminRoleDomain, Domains: []string{"example.org"}}
	root := Administrator{Name: "r", Role: store.AdminRoleServer}
	for _, c := range []struct {
		err  error
		kind Kind
	}{
		{dom.CheckDomainScope("EXAMPLE.org"), 0},
		{dom.CheckDomainScope("other.test"), KindForbidden},
		{dom.CheckDomainScope("bad domain"), KindInvalid},
		{dom.CheckAddressScope("a@example.org"), 0},
		{dom.CheckAddressScope("a@other.test"), KindForbidden},
		{dom.CheckAddressScope("a@sub.example.org"), KindForbidden},
		{dom.CheckAddressScope("not an address"), KindInvalid},
		{dom.CheckServerScope("adding a domain"), KindForbidden},
		{root.CheckDomainScope("other.test"), 0},
		{root.CheckAddressScope("a@other.test"), 0},
		{root.CheckServerScope("x"), 0},
	} {
		if KindOf(c.err) != c.kind || (c.kind == 0) != (c.err == nil) {
			t.Errorf("scope: %v, want kind %v", c.err, c.kind)
		}
	}
	if err := dom.CheckAddressScope("a@other.test"); !strings.Contains(err.Error(), "administrator d does not manage a@other.test") {
		t.Errorf("message %q", err)
	}
}

func TestAuditTable(t *testing.T) {
	h := newHarness(t)
	if _, err := h.svc.AddDomain(h.ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.svc.AddAccount(h.ctx, "a@example.org", NewPassword{Generate: true}); err != nil {
		t.Fatal(err)
	}
	all, err := h.svc.AuditLog(h.ctx, store.AuditFilter{})
	if err != nil || len(all) != 2 {
		t.Fatalf("audit %+v %v", all, err)
	}
	e := all[0]
	if e.Action != "account.add" || e.Target != "a@example.org" || e.Actor != "test" || e.Remote != "192.0.2.1" ||
		e.Details != "password_generated=true" || time.Since(e.At) > time.Minute {
		t.Errorf("newest entry %+v", e)
	}
	if got, _ := h.svc.AuditLog(h.ctx, store.AuditFilter{Action: "domain.add"}); len(got) != 1 || got[0].Target != "example.org" {
		t.Errorf("filter by action: %+v", got)
	}
	if got, _ := h.svc.AuditLog(h.ctx, store.AuditFilter{Limit: 1}); len(got) != 1 || got[0].ID != e.ID {
		t.Errorf("limit 1: %+v", got)
	}
	if got, _ := h.svc.AuditLog(h.ctx, store.AuditFilter{BeforeID: e.ID}); len(got) != 1 || got[0].Action != "domain.add" {
		t.Errorf("page before %d: %+v", e.ID, got)
	}
	if got, _ := h.svc.AuditLog(h.ctx, store.AuditFilter{Since: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Errorf("since the future: %+v", got)
	}
	if got, _ := h.svc.AuditLog(h.ctx, store.AuditFilter{Actor: "cli"}); len(got) != 0 {
		t.Errorf("other actor: %+v", got)
	}
}
