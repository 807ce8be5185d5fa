package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pquerna/otp"

	"postern/internal/admin"
	"postern/internal/app"
	"postern/internal/config"
	"postern/internal/store"
)

// cli runs postern in process against the config at path.
func cli(t *testing.T, path, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"-c", path}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAdminCommands(t *testing.T) {
	dir := t.TempDir()
	path, err := initDir(dir, "mail.example.test", true)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, path, "", "domain", "add", "example.test"); code != 0 {
		t.Fatalf("domain add: %s", errs)
	}
	code, out, errs := cli(t, path, "", "admin", "add", "Root", "--role", "server")
	if code != 0 || !strings.HasPrefix(out, "root password: ") || strings.Contains(out, "TOTP") {
		t.Fatalf("admin add: %d %q %q", code, out, errs)
	}
	if !strings.Contains(errs, "actor=cli action=admin.add target=root") {
		t.Errorf("no audit line: %q", errs)
	}
	code, out, _ = cli(t, path, "a long password\n", "admin", "add", "dom", "--role", "domain", "--domains", "example.test",
		"--password-stdin", "--totp")
	if code != 0 || strings.Contains(out, "password:") || !strings.Contains(out, "TOTP (add to an authenticator app; shown once): otpauth://totp/") {
		t.Fatalf("admin add --totp: %d %q", code, out)
	}
	url := strings.TrimSpace(out[strings.Index(out, "otpauth://"):])
	if _, err := otp.NewKeyFromURL(url); err != nil {
		t.Errorf("TOTP URL %q: %v", url, err)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"admin", "add", "x"}, 2, "--role server|domain is required"},
		{[]string{"admin", "add", "x", "--role", "domain"}, 1, "a domain administrator needs at least one domain"},
		{[]string{"admin", "add", "x", "--role", "domain", "--domains", "nowhere.test"}, 1, "domain nowhere.test does not exist"},
		{[]string{"admin", "add", "x", "--role", "boss"}, 1, `role "boss": say server or domain`},
		{[]string{"admin", "add", "root", "--role", "server"}, 1, "administrator root already exists"},
		{[]string{"admin", "add", "-x-", "--role", "server"}, 2, "flag provided but not defined"},
		{[]string{"admin", "del", "nobody", "--yes"}, 1, "administrator nobody does not exist"},
		{[]string{"admin", "del", "root"}, 2, "add --yes to confirm"},
		{[]string{"admin", "totp", "root", "maybe"}, 2, `"maybe" is not on or off`},
	} {
		code, _, errs := cli(t, path, "", c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d %q, want %d containing %q", c.args, code, errs, c.code, c.msg)
		}
	}
	code, out, _ = cli(t, path, "", "admin", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "dom\tdomain\texample.test\tpassword+totp\tnever logged in") ||
		!strings.HasPrefix(lines[1], "root\tserver\tall domains\tpassword only") {
		t.Errorf("admin list: %q", out)
	}
	code, out, _ = cli(t, path, "", "admin", "totp", "root", "on")
	if code != 0 || !strings.Contains(out, "otpauth://totp/") {
		t.Errorf("totp on: %d %q", code, out)
	}
	if code, _, errs := cli(t, path, "", "admin", "totp", "dom", "off"); code != 0 {
		t.Errorf("totp off: %s", errs)
	}
	if code, out, errs := cli(t, path, "", "admin", "del", "dom", "--yes"); code != 0 || !strings.Contains(out, "deleting administrator dom") {
		t.Errorf("admin del: %d %q %q", code, out, errs)
	}
	// The changes are in the audit table too, by "cli".
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	backend, err := app.OpenBackend(context.Background(), cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	svc := admin.New(backend.Store, nil, admin.Options{})
	list, _ := svc.Administrators(context.Background())
	if len(list) != 1 || list[0].Name != "root" || !list[0].TOTP {
		t.Errorf("administrators %+v", list)
	}
	rows, err := svc.AuditLog(context.Background(), store.AuditFilter{Actor: "cli"})
	var actions []string
	for _, r := range rows {
		actions = append(actions, r.Action)
	}
	if err != nil || strings.Join(actions, " ") != "admin.delete admin.totp.clear admin.totp.set admin.add admin.add domain.add" {
		t.Errorf("audit rows %v %v", actions, err)
	}
}

func TestDevBannerShowsAdmin(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = config.DevListen()
	var out bytes.Buffer
	printDevBanner(&env{stdout: &out}, "/tmp/x/postern.toml", &cfg, "")
	if !strings.Contains(out.String(), "Admin API http://127.0.0.1:8081/admin/api/") ||
		!strings.Contains(out.String(), "postern -c /tmp/x/postern.toml admin add NAME --role server") {
		t.Errorf("banner:\n%s", out.String())
	}
}
