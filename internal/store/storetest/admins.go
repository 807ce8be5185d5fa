package storetest

import (
	"bytes"
	"testing"
	"time"

	"postern/internal/store"
)

func testAdmins(t *testing.T, e *env) {
	root, err := e.s.AddAdmin(e.ctx, store.Admin{Name: "root", PasswordHash: "$argon2id$x", Role: store.AdminRoleServer})
	if err != nil || root.ID == 0 || root.CreatedAt.IsZero() {
		t.Fatalf("AddAdmin = %+v, %v", root, err)
	}
	_, err = e.s.AddAdmin(e.ctx, store.Admin{Name: "root", PasswordHash: "$argon2id$y", Role: store.AdminRoleServer})
	wantErr(t, "same name", err, store.ErrExists)
	_, err = e.s.AddAdmin(e.ctx, store.Admin{Name: "x", PasswordHash: "h", Role: "owner"})
	wantErr(t, "bad role", err, store.ErrInvalid)
	dom, err := e.s.AddAdmin(e.ctx, store.Admin{Name: "dom", PasswordHash: "h", Role: store.AdminRoleDomain,
		Domains: []string{"a.test", "b.test"}, TOTPSecret: "JBSWY3DPEHPK3PXP"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.s.Admin(e.ctx, "dom")
	if err != nil || got.ID != dom.ID || len(got.Domains) != 2 || got.Domains[1] != "b.test" ||
		got.TOTPSecret != "JBSWY3DPEHPK3PXP" || !got.LastLogin.IsZero() {
		t.Errorf("Admin = %+v, %v", got, err)
	}
	_, err = e.s.Admin(e.ctx, "nobody")
	wantErr(t, "unknown admin", err, store.ErrNotFound)
	if list, err := e.s.Admins(e.ctx); err != nil || len(list) != 2 || list[0].Name != "dom" {
		t.Errorf("Admins = %+v, %v", list, err)
	}
	if err := e.s.SetAdminTOTP(e.ctx, "dom", ""); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "TOTP of nobody", e.s.SetAdminTOTP(e.ctx, "nobody", "x"), store.ErrNotFound)
	for _, c := range []struct {
		step int64
		ok   bool
	}{{100, true}, {100, false}, {99, false}, {101, true}} {
		if ok, err := e.s.UseAdminTOTPStep(e.ctx, dom.ID, c.step); err != nil || ok != c.ok {
			t.Errorf("UseAdminTOTPStep(%d) = %v, %v; want %v", c.step, ok, err, c.ok)
		}
	}
	if err := e.s.SetAdminTOTP(e.ctx, "dom", "NEWSECRET"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.s.UseAdminTOTPStep(e.ctx, dom.ID, 50); !ok {
		t.Error("a new TOTP secret keeps the old one's last step")
	}
	if err := e.s.SetAdminTOTP(e.ctx, "dom", ""); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Truncate(time.Second)
	if err := e.s.TouchAdminLogin(e.ctx, dom.ID, at); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.s.Admin(e.ctx, "dom"); got.TOTPSecret != "" || !got.LastLogin.Equal(at) {
		t.Errorf("after TOTP clear and login %+v", got)
	}

	// Tokens: sessions expire, API tokens are named once per administrator.
	hash := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	later := time.Now().Add(time.Hour).Truncate(time.Second)
	sess, err := e.s.AddAdminToken(e.ctx, store.AdminToken{AdminID: dom.ID, Kind: store.AdminSession, Hash: hash(1), ExpiresAt: later})
	if err != nil || sess.ID == 0 {
		t.Fatalf("session %+v %v", sess, err)
	}
	api, err := e.s.AddAdminToken(e.ctx, store.AdminToken{AdminID: dom.ID, Kind: store.AdminAPI, Name: "ci", Hash: hash(2)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.s.AddAdminToken(e.ctx, store.AdminToken{AdminID: dom.ID, Kind: store.AdminAPI, Name: "ci", Hash: hash(3)})
	wantErr(t, "same API token name", err, store.ErrExists)
	if _, err := e.s.AddAdminToken(e.ctx, store.AdminToken{AdminID: root.ID, Kind: store.AdminAPI, Name: "ci", Hash: hash(4)}); err != nil {
		t.Errorf("same name for another administrator: %v", err)
	}
	_, err = e.s.AddAdminToken(e.ctx, store.AdminToken{AdminID: dom.ID + 1000, Kind: store.AdminAPI, Name: "x", Hash: hash(5)})
	wantErr(t, "unknown administrator", err, store.ErrNotFound)
	tok, owner, err := e.s.AdminToken(e.ctx, hash(1))
	if err != nil || tok.ID != sess.ID || tok.Kind != store.AdminSession || !tok.ExpiresAt.Equal(later) || owner.Name != "dom" {
		t.Errorf("AdminToken = %+v, %+v, %v", tok, owner, err)
	}
	if err := e.s.TouchAdminToken(e.ctx, api.ID, at, later); err != nil {
		t.Fatal(err)
	}
	if tok, _, _ := e.s.AdminToken(e.ctx, hash(2)); !tok.ExpiresAt.IsZero() || !tok.LastUsed.Equal(at) {
		t.Errorf("an API token got an expiry by a touch: %+v", tok)
	}
	if list, err := e.s.AdminTokens(e.ctx, dom.ID, store.AdminAPI); err != nil || len(list) != 1 || list[0].Name != "ci" {
		t.Errorf("AdminTokens = %+v, %v", list, err)
	}
	wantErr(t, "another's token", e.s.DeleteAdminToken(e.ctx, root.ID, api.ID), store.ErrNotFound)
	if err := e.s.DeleteAdminToken(e.ctx, dom.ID, api.ID); err != nil {
		t.Fatal(err)
	}
	// An expired session goes when the administrator gets a new one.
	if _, err := e.s.AddAdminToken(e.ctx, store.AdminToken{AdminID: dom.ID, Kind: store.AdminSession, Hash: hash(6),
		ExpiresAt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AddAdminToken(e.ctx, store.AdminToken{AdminID: dom.ID, Kind: store.AdminSession, Hash: hash(7), ExpiresAt: later}); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.s.AdminToken(e.ctx, hash(6))
	wantErr(t, "expired session kept", err, store.ErrNotFound)
	// Deleting the administrator revokes everything it had.
	if err := e.s.DeleteAdmin(e.ctx, "dom"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete twice", e.s.DeleteAdmin(e.ctx, "dom"), store.ErrNotFound)
	_, _, err = e.s.AdminToken(e.ctx, hash(1))
	wantErr(t, "session of a deleted administrator", err, store.ErrNotFound)

	// The audit table.
	for i, a := range []string{"domain.add", "account.add", "domain.add"} {
		if err := e.s.AddAudit(e.ctx, store.AuditEntry{At: at.Add(time.Duration(i) * time.Second), Actor: "cli",
			Action: a, Target: "t" + a, Details: "k=v"}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := e.s.Audit(e.ctx, store.AuditFilter{})
	if err != nil || len(all) != 3 || all[0].ID <= all[1].ID || all[0].Details != "k=v" || !all[2].At.Equal(at) {
		t.Errorf("Audit = %+v, %v", all, err)
	}
	if got, _ := e.s.Audit(e.ctx, store.AuditFilter{Action: "domain.add", Limit: 1}); len(got) != 1 || got[0].ID != all[0].ID {
		t.Errorf("filtered %+v", got)
	}
	if got, _ := e.s.Audit(e.ctx, store.AuditFilter{Since: at.Add(time.Second), BeforeID: all[0].ID}); len(got) != 1 || got[0].ID != all[1].ID {
		t.Errorf("since and before %+v", got)
	}
}
