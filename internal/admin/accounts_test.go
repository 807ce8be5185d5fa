package admin

import (
	"strings"
	"testing"

	"postern/internal/auth"
)

// storedHash returns the account's password hash as the store keeps it.
func (h *harness) storedHash(addr string) string {
	h.t.Helper()
	a, err := h.st.Account(h.ctx, addr)
	if err != nil {
		h.t.Fatal(err)
	}
	return a.PasswordHash
}

func checkPassword(t *testing.T, hash, pw string, want bool) {
	t.Helper()
	ok, err := auth.CheckPassword(hash, pw)
	if err != nil || ok != want {
		t.Errorf("password %q: match %v (%v), want %v", pw, ok, err, want)
	}
}

func TestAddAccount(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")

	a, generated, err := h.svc.AddAccount(h.ctx, " Alice@Example.ORG", NewPassword{Given: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Address != "alice@example.org" || generated != "" || a.ID == 0 {
		t.Errorf("account %+v, generated %q", a, generated)
	}
	h.wantAudit("account.add", "alice@example.org", "password_generated", false)
	checkPassword(t, h.storedHash("alice@example.org"), "correct horse battery", true)

	_, generated, err = h.svc.AddAccount(h.ctx, "bob@example.org", NewPassword{Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(generated) < 20 {
		t.Errorf("generated password %q", generated)
	}
	h.wantAudit("account.add", "bob@example.org", "password_generated", true)
	checkPassword(t, h.storedHash("bob@example.org"), generated, true)
	if strings.Contains(h.log.String(), generated) || strings.Contains(h.log.String(), "correct horse") {
		t.Error("the audit log holds a password")
	}

	h.mustAlias("sales@example.org", "alice@example.org")
	cases := []struct {
		addr       string
		pw         NewPassword
		kind       Kind
		field, msg string
	}{
		{"alice@example.org", NewPassword{Given: "another password"}, KindExists, "address", "account alice@example.org already exists"},
		{"ALICE@example.org", NewPassword{Generate: true}, KindExists, "address", "account alice@example.org already exists"},
		{"sales@example.org", NewPassword{Generate: true}, KindConflict, "address", "sales@example.org is an alias; delete the alias first"},
		{"dave@unknown.test", NewPassword{Generate: true}, KindNotFound, "domain", "domain unknown.test does not exist"},
		{"dave", NewPassword{Generate: true}, KindInvalid, "address", `"dave" is not a valid address (local@domain)`},
		{"not an address@example.org", NewPassword{Generate: true}, KindInvalid, "address", "is not a valid address"},
		{"dave@[127.0.0.1]", NewPassword{Generate: true}, KindInvalid, "address", "is not a valid address"},
		{"dave@example.org", NewPassword{Given: "abc"}, KindInvalid, "password", "password is too short: 3 characters, at least 8 needed"},
		{"dave@example.org", NewPassword{}, KindInvalid, "password", "password is too short"},
		{"dave@example.org", NewPassword{Given: "long enough\nbut two lines"}, KindInvalid, "password", "line feed"},
		{"dave@example.org", NewPassword{Given: "correct horse battery", Generate: true}, KindInvalid, "password", "not both"},
	}
	for _, c := range cases {
		_, pw, err := h.svc.AddAccount(h.ctx, c.addr, c.pw)
		wantErr(t, err, c.kind, c.field, c.msg)
		if pw != "" {
			t.Errorf("%s: a refused add returned a password", c.addr)
		}
		if e := err.(*Error); c.field == "password" && e.Value != "" {
			t.Errorf("%s: password error carries the value %q", c.addr, e.Value)
		}
	}
	h.wantNoAudit("refused adds")
	if list, _ := h.svc.Accounts(h.ctx, ""); len(list) != 2 {
		t.Errorf("accounts after refused adds: %+v", list)
	}
}

func TestAccounts(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustDomain("second.test")
	for _, a := range []string{"bob@example.org", "alice@example.org", "dave@second.test"} {
		h.mustAccount(a)
	}
	all, err := h.svc.Accounts(h.ctx, "")
	if err != nil || len(all) != 3 || all[0].Address != "alice@example.org" {
		t.Errorf("all accounts: %+v %v", all, err)
	}
	second, err := h.svc.Accounts(h.ctx, "SECOND.test")
	if err != nil || len(second) != 1 || second[0].Address != "dave@second.test" {
		t.Errorf("second.test accounts: %+v %v", second, err)
	}
	_, err = h.svc.Accounts(h.ctx, "nosuch.test")
	wantErr(t, err, KindNotFound, "domain", "domain nosuch.test does not exist")
	_, err = h.svc.Accounts(h.ctx, "bad domain")
	wantErr(t, err, KindInvalid, "domain", "is not a domain name")
	if a, err := h.svc.Account(h.ctx, "Bob@Example.org"); err != nil || a.Address != "bob@example.org" {
		t.Errorf("Account: %+v %v", a, err)
	}
	_, err = h.svc.Account(h.ctx, "zed@example.org")
	wantErr(t, err, KindNotFound, "address", "account zed@example.org does not exist")
	h.wantNoAudit("reads")
}

func TestSetPassword(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("alice@example.org")

	a, pw, err := h.svc.SetPassword(h.ctx, "ALICE@example.org", NewPassword{Given: "brand-new-long-password"})
	if err != nil || pw != "" || a.Address != "alice@example.org" {
		t.Fatalf("SetPassword: %+v %q %v", a, pw, err)
	}
	h.wantAudit("account.password", "alice@example.org", "password_generated", false)
	hash := h.storedHash("alice@example.org")
	checkPassword(t, hash, "brand-new-long-password", true)
	checkPassword(t, hash, "correct horse battery", false)

	_, pw, err = h.svc.SetPassword(h.ctx, "alice@example.org", NewPassword{Generate: true})
	if err != nil || pw == "" {
		t.Fatalf("SetPassword generated: %q %v", pw, err)
	}
	h.wantAudit("account.password", "alice@example.org", "password_generated", true)
	checkPassword(t, h.storedHash("alice@example.org"), pw, true)

	_, _, err = h.svc.SetPassword(h.ctx, "zed@example.org", NewPassword{Generate: true})
	wantErr(t, err, KindNotFound, "address", "account zed@example.org does not exist")
	_, _, err = h.svc.SetPassword(h.ctx, "alice@example.org", NewPassword{Given: "short"})
	wantErr(t, err, KindInvalid, "password", "too short")
	_, _, err = h.svc.SetPassword(h.ctx, "alice", NewPassword{Generate: true})
	wantErr(t, err, KindInvalid, "address", "is not a valid address")
	h.wantNoAudit("refused password changes")
}

func TestDisableEnableDelete(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("bob@example.org")

	if err := h.svc.DisableAccount(h.ctx, "Bob@example.org"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("account.disable", "bob@example.org")
	if a, _ := h.svc.Account(h.ctx, "bob@example.org"); !a.Disabled {
		t.Error("not disabled")
	}
	if err := h.svc.EnableAccount(h.ctx, "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("account.enable", "bob@example.org")
	if a, _ := h.svc.Account(h.ctx, "bob@example.org"); a.Disabled {
		t.Error("still disabled")
	}
	for name, op := range map[string]func(string) error{
		"disable": func(a string) error { return h.svc.DisableAccount(h.ctx, a) },
		"enable":  func(a string) error { return h.svc.EnableAccount(h.ctx, a) },
		"delete":  func(a string) error { return h.svc.DeleteAccount(h.ctx, a) },
	} {
		wantErr(t, op("zed@example.org"), KindNotFound, "address", "account zed@example.org does not exist")
		wantErr(t, op("zed"), KindInvalid, "address", `"zed" is not a valid address`)
		h.wantNoAudit("refused " + name)
	}
	if err := h.svc.DeleteAccount(h.ctx, "bob@EXAMPLE.org"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("account.delete", "bob@example.org")
	_, err := h.svc.Account(h.ctx, "bob@example.org")
	wantErr(t, err, KindNotFound, "address", "does not exist")
}

func TestSetQuota(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("alice@example.org")

	q, err := ParseQuota("1.5G", "1000")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.SetQuota(h.ctx, "Alice@example.org", q); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("account.quota", "alice@example.org", "bytes", 1610612736, "messages", 1000)
	if a, _ := h.svc.Account(h.ctx, "alice@example.org"); a.QuotaBytes != 1610612736 || a.QuotaMessages != 1000 {
		t.Errorf("quota %d/%d", a.QuotaBytes, a.QuotaMessages)
	}
	wantErr(t, h.svc.SetQuota(h.ctx, "zed@example.org", q), KindNotFound, "address", "account zed@example.org does not exist")
	wantErr(t, h.svc.SetQuota(h.ctx, "alice@example.org", Quota{Bytes: -1}), KindInvalid, "quota", "negative")
	wantErr(t, h.svc.SetQuota(h.ctx, "alice@example.org", Quota{Messages: -1}), KindInvalid, "quota", "negative")
	h.wantNoAudit("refused quotas")
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "2000": 2000, " 10240 ": 10240, "9223372036854775807": 1<<63 - 1,
		"500B": 500, "500b": 500,
		"1K": 1024, "1k": 1024, "10M": 10 << 20, "10m": 10 << 20, "1.5G": 3 << 29, "2T": 2 << 40,
		"1KiB": 1024, "500MiB": 500 << 20, "500mib": 500 << 20, "1GiB": 1 << 30, "1tib": 1 << 40,
		"1KB": 1000, "100MB": 100e6, "2gb": 2e9, "1TB": 1e12,
		"2 GB": 2e9, "1.1G": 1181116006, "0.5K": 512, "0.1K": 102, ".5M": 1 << 19, "1.M": 1 << 20,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1", "1e6", "1.2.3", "M", ".", "10 X", "10MBB", "1/2",
		"9223372036854775808", "8589934592G", "10 M B", "0x10", "+5"} {
		_, err := ParseSize(in)
		wantErr(t, err, KindInvalid, "quota", "is not a size")
		if e := err.(*Error); e.Value != in {
			t.Errorf("ParseSize(%q): error value %q", in, e.Value)
		}
	}
}

func TestParseQuota(t *testing.T) {
	if q, err := ParseQuota("10M", ""); err != nil || q != (Quota{Bytes: 10 << 20}) {
		t.Errorf("ParseQuota(10M): %+v %v", q, err)
	}
	if q, err := ParseQuota("0", "4"); err != nil || q != (Quota{Messages: 4}) {
		t.Errorf("ParseQuota(0, 4): %+v %v", q, err)
	}
	_, err := ParseQuota("lots", "1")
	wantErr(t, err, KindInvalid, "quota", `quota: "lots" is not a size`)
	for _, bad := range []string{"many", "-1", "1.5", "10K"} {
		_, err := ParseQuota("1M", bad)
		wantErr(t, err, KindInvalid, "quota", "is not a message count")
	}
}
