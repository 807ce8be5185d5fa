package adminapi

import (
	"context"
	"strings"
	"testing"

	"postern/internal/admin"
	"postern/internal/store"
)

// bearer returns a client with a fresh API token of root.
func (e *env) bearer() *client {
	e.t.Helper()
	_, secret, err := e.svc.AddAPIToken(e.cli, "root", "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{e: e, bearer: secret}
}

func TestDomainEndpoints(t *testing.T) {
	e := newEnv(t)
	c := e.bearer()
	// The refusal reads as the CLI's: it is the service's message.
	_, cliErr := e.svc.AddDomain(e.cli, "bad domain!")
	c.wantError(400, "invalid", cliErr.Error(), "POST", "/admin/api/domains", map[string]string{"name": "bad domain!"})
	got := c.want(201, "POST", "/admin/api/domains", map[string]string{"name": "New.Test"})
	if got["name"] != "new.test" {
		t.Errorf("added %v", got)
	}
	c.wantError(409, "exists", "domain new.test already exists", "POST", "/admin/api/domains", map[string]string{"name": "new.test"})
	if doms := c.want(200, "GET", "/admin/api/domains", nil)["domains"].([]any); len(doms) != 3 {
		t.Errorf("domains %v", doms)
	}
	c.want(200, "GET", "/admin/api/domains/new.test", nil)
	c.wantError(404, "notfound", "domain nowhere.test does not exist", "GET", "/admin/api/domains/nowhere.test", nil)

	// Catch-all and postmaster.
	c.wantError(404, "notfound", "x@new.test is neither an account nor an alias", "PUT", "/admin/api/domains/new.test/catchall",
		map[string]string{"address": "x@new.test"})
	c.want(201, "POST", "/admin/api/accounts", map[string]string{"address": "x@new.test", "password": "x password 1"})
	c.want(204, "PUT", "/admin/api/domains/new.test/catchall", map[string]string{"address": "x@new.test"})
	c.want(204, "PUT", "/admin/api/domains/new.test/postmaster", map[string]string{"address": "x@new.test"})
	d := c.want(200, "GET", "/admin/api/domains/new.test", nil)
	if d["catch_all"] != "x@new.test" || d["postmaster"] != "x@new.test" {
		t.Errorf("domain %v", d)
	}
	c.want(204, "PUT", "/admin/api/domains/new.test/catchall", map[string]string{"address": ""})
	if d := c.want(200, "GET", "/admin/api/domains/new.test", nil); d["catch_all"] != "" {
		t.Errorf("catch-all not cleared: %v", d)
	}

	// DKIM and DNS.
	keys := c.want(200, "GET", "/admin/api/domains/new.test/dkim", nil)["keys"].([]any)
	if len(keys) != 2 {
		t.Fatalf("keys %v", keys)
	}
	rot := c.want(201, "POST", "/admin/api/domains/new.test/dkim/rotate", nil)["keys"].([]any)
	if len(rot) != 2 || rot[0].(map[string]any)["active"] != true {
		t.Errorf("rotated %v", rot)
	}
	if keys := c.want(200, "GET", "/admin/api/domains/new.test/dkim", nil)["keys"].([]any); len(keys) != 4 {
		t.Errorf("after rotation %d keys, want 4", len(keys))
	}
	c.wantError(404, "notfound", "does not exist", "POST", "/admin/api/domains/nowhere.test/dkim/rotate", nil)
	dns := c.want(200, "GET", "/admin/api/domains/new.test/dns", nil)
	zone, _ := dns["zone"].(string)
	z, err := e.svc.DNSRecords(context.Background(), "new.test")
	if err != nil || zone != z.ZoneFile() || !strings.Contains(zone, "new.test.\tIN\tMX\t10 mail.example.org.") {
		t.Errorf("zone differs from postern dns's:\n%s", zone)
	}
	if recs := dns["records"].([]any); len(recs) != len(z.Records) || recs[0].(map[string]any)["type"] != "MX" {
		t.Errorf("records %v", recs)
	}

	// Deletion asks for the name typed again.
	c.wantError(415, "invalid", "must be application/json", "DELETE", "/admin/api/domains/new.test", nil)
	c.wantError(400, "invalid", "a JSON object is required", "DELETE", "/admin/api/domains/new.test", "")
	c.wantError(400, "invalid", `not deleted: confirm "new" is not "new.test"`, "DELETE", "/admin/api/domains/new.test",
		map[string]string{"confirm": "new"})
	c.wantError(404, "notfound", "domain nowhere.test does not exist", "DELETE", "/admin/api/domains/nowhere.test",
		map[string]string{"confirm": "nowhere.test"})
	c.want(204, "DELETE", "/admin/api/domains/new.test", map[string]string{"confirm": "new.test"})
	c.wantError(404, "notfound", "does not exist", "GET", "/admin/api/domains/new.test", nil)
}

func TestAccountEndpoints(t *testing.T) {
	e := newEnv(t)
	c := e.bearer()
	_, _, cliErr := e.svc.AddAccount(e.cli, "a@example.org", admin.NewPassword{Given: "short"})
	c.wantError(400, "invalid", cliErr.Error(), "POST", "/admin/api/accounts", map[string]string{"address": "a@example.org", "password": "short"})
	c.wantError(400, "invalid", "is not a valid address", "POST", "/admin/api/accounts", map[string]string{"address": "nobody"})
	c.wantError(404, "notfound", "domain nowhere.test does not exist", "POST", "/admin/api/accounts", map[string]string{"address": "a@nowhere.test"})
	got := c.want(201, "POST", "/admin/api/accounts", map[string]string{"address": "A@example.org"})
	if pw, _ := got["password"].(string); len(pw) < 16 || got["account"].(map[string]any)["address"] != "a@example.org" {
		t.Errorf("generated account %v", got)
	}
	got = c.want(201, "POST", "/admin/api/accounts", map[string]string{"address": "b@example.org", "password": "b password 12"})
	if _, ok := got["password"]; ok {
		t.Errorf("a given password is echoed: %v", got)
	}
	c.wantError(409, "exists", "account a@example.org already exists", "POST", "/admin/api/accounts", map[string]string{"address": "a@example.org"})
	if _, err := e.svc.AddAlias(e.cli, "al@example.org", []string{"a@example.org"}); err != nil {
		t.Fatal(err)
	}
	c.wantError(409, "conflict", "al@example.org is an alias", "POST", "/admin/api/accounts", map[string]string{"address": "al@example.org"})

	list := c.want(200, "GET", "/admin/api/domains/example.org/accounts", nil)["accounts"].([]any)
	if len(list) != 2 {
		t.Fatalf("accounts %v", list)
	}
	for _, k := range []string{"used_bytes", "used_messages", "quota_bytes", "quota_messages", "disabled"} {
		if _, ok := list[0].(map[string]any)[k]; !ok {
			t.Errorf("account has no %s: %v", k, list[0])
		}
	}
	c.wantError(404, "notfound", "domain nowhere.test does not exist", "GET", "/admin/api/domains/nowhere.test/accounts", nil)
	c.wantError(404, "notfound", "account z@example.org does not exist", "GET", "/admin/api/accounts/z@example.org", nil)

	// Password reset: generated, or given and checked.
	if got := c.want(200, "POST", "/admin/api/accounts/a@example.org/password", map[string]string{}); got["password"] == "" {
		t.Errorf("no generated password: %v", got)
	}
	c.want(200, "POST", "/admin/api/accounts/a@example.org/password", map[string]string{"password": "new password 1"})
	c.wantError(400, "invalid", "at least", "POST", "/admin/api/accounts/a@example.org/password", map[string]string{"password": "x"})
	c.wantError(404, "notfound", "does not exist", "POST", "/admin/api/accounts/z@example.org/password", map[string]string{})

	// Quota, as a size with a unit or numbers.
	c.want(204, "PUT", "/admin/api/accounts/a@example.org/quota", map[string]any{"size": "10M", "messages": 100})
	a := c.want(200, "GET", "/admin/api/accounts/a@example.org", nil)
	if a["quota_bytes"] != float64(10<<20) || a["quota_messages"] != float64(100) {
		t.Errorf("quota %v", a)
	}
	c.want(204, "PUT", "/admin/api/accounts/a@example.org/quota", map[string]any{"size": 0})
	_, qerr := admin.ParseQuota("ten", "")
	c.wantError(400, "invalid", qerr.Error(), "PUT", "/admin/api/accounts/a@example.org/quota", map[string]any{"size": "ten"})
	c.wantError(400, "invalid", `field "size"`, "PUT", "/admin/api/accounts/a@example.org/quota", map[string]any{"size": true})

	// Disable and enable.
	c.want(204, "POST", "/admin/api/accounts/a@example.org/disable", nil)
	if a := c.want(200, "GET", "/admin/api/accounts/a@example.org", nil); a["disabled"] != true {
		t.Errorf("not disabled: %v", a)
	}
	c.want(204, "POST", "/admin/api/accounts/a@example.org/enable", nil)
	c.wantError(404, "notfound", "does not exist", "POST", "/admin/api/accounts/z@example.org/disable", nil)

	// App passwords: listed and revoked, never shown.
	if _, _, err := e.svc.AddAppPassword(e.cli, "a@example.org", "phone"); err != nil {
		t.Fatal(err)
	}
	aps := c.want(200, "GET", "/admin/api/accounts/a@example.org/app-passwords", nil)["app_passwords"].([]any)
	if len(aps) != 1 || aps[0].(map[string]any)["name"] != "phone" || len(aps[0].(map[string]any)) != 3 {
		t.Errorf("app passwords %v", aps)
	}
	c.want(204, "DELETE", "/admin/api/accounts/a@example.org/app-passwords/phone", nil)
	c.wantError(404, "notfound", "app password phone of a@example.org does not exist", "DELETE", "/admin/api/accounts/a@example.org/app-passwords/phone", nil)

	// Deletion asks for the address typed again.
	c.wantError(400, "invalid", "not deleted", "DELETE", "/admin/api/accounts/a@example.org", map[string]string{"confirm": "b@example.org"})
	c.wantError(404, "notfound", "does not exist", "DELETE", "/admin/api/accounts/z@example.org", map[string]string{"confirm": "z@example.org"})
	c.want(204, "DELETE", "/admin/api/accounts/a@example.org", map[string]string{"confirm": "a@example.org"})
	c.wantError(404, "notfound", "does not exist", "GET", "/admin/api/accounts/a@example.org", nil)
}

func TestAliasEndpoints(t *testing.T) {
	e := newEnv(t)
	c := e.bearer()
	if _, _, err := e.svc.AddAccount(e.cli, "a@example.org", admin.NewPassword{Given: "a password 12"}); err != nil {
		t.Fatal(err)
	}
	got := c.want(201, "POST", "/admin/api/aliases", map[string]any{"source": "Info@example.org",
		"destinations": []string{"a@example.org", " far@remote.test ", ""}})
	if got["source"] != "info@example.org" || len(got["destinations"].([]any)) != 2 {
		t.Errorf("alias %v", got)
	}
	c.wantError(409, "exists", "alias info@example.org already exists", "POST", "/admin/api/aliases",
		map[string]any{"source": "info@example.org", "destinations": []string{"a@example.org"}})
	c.wantError(409, "conflict", "a@example.org is an account", "POST", "/admin/api/aliases",
		map[string]any{"source": "a@example.org", "destinations": []string{"far@remote.test"}})
	c.wantError(400, "invalid", "alias needs at least one destination", "POST", "/admin/api/aliases",
		map[string]any{"source": "x@example.org", "destinations": []string{}})
	c.wantError(400, "invalid", "cannot point to itself", "POST", "/admin/api/aliases",
		map[string]any{"source": "x@example.org", "destinations": []string{"x@example.org"}})
	c.want(201, "POST", "/admin/api/aliases", map[string]any{"source": "o@other.test", "destinations": []string{"a@example.org"}})
	if all := c.want(200, "GET", "/admin/api/aliases", nil)["aliases"].([]any); len(all) != 2 {
		t.Errorf("aliases %v", all)
	}
	if one := c.want(200, "GET", "/admin/api/domains/example.org/aliases", nil)["aliases"].([]any); len(one) != 1 {
		t.Errorf("example.org aliases %v", one)
	}
	c.wantError(404, "notfound", "does not exist", "GET", "/admin/api/domains/nowhere.test/aliases", nil)
	c.want(204, "DELETE", "/admin/api/aliases/info@example.org", nil)
	c.wantError(404, "notfound", "alias info@example.org does not exist", "DELETE", "/admin/api/aliases/info@example.org", nil)
}

func TestSieveEndpoints(t *testing.T) {
	e := newEnv(t)
	c := e.bearer()
	if _, _, err := e.svc.AddAccount(e.cli, "a@example.org", admin.NewPassword{Given: "a password 12"}); err != nil {
		t.Fatal(err)
	}
	base := "/admin/api/accounts/a@example.org/sieve"
	c.want(204, "PUT", base+"/main", map[string]string{"script": "require \"fileinto\";\nfileinto \"Junk\";\n"})
	c.wantError(400, "invalid", "line 2", "PUT", base+"/bad", map[string]string{"script": "keep;\nnosuchcommand;\n"})
	_, body := c.do("PUT", base+"/bad", map[string]string{"script": "keep;\nnosuchcommand;\n"})
	if body["line"] != float64(2) || body["column"] == nil {
		t.Errorf("refusal without line and column: %v", body)
	}
	c.wantError(400, "invalid", "script name", "PUT", base+"/%01x", map[string]string{"script": "keep;"})
	list := c.want(200, "GET", base, nil)["scripts"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "main" || list[0].(map[string]any)["active"] != false {
		t.Errorf("scripts %v", list)
	}
	if got := c.want(200, "GET", base+"/main", nil); !strings.Contains(got["script"].(string), "fileinto \"Junk\"") {
		t.Errorf("script %v", got)
	}
	c.wantError(404, "notfound", "script nope of a@example.org does not exist", "GET", base+"/nope", nil)
	c.want(204, "POST", base+"/main/activate", nil)
	c.wantError(404, "notfound", "does not exist", "POST", base+"/nope/activate", nil)
	c.wantError(409, "conflict", "is active; deactivate it first", "DELETE", base+"/main", nil)
	c.want(204, "POST", base+"/deactivate", nil)
	c.want(204, "DELETE", base+"/main", nil)
	c.wantError(404, "notfound", "does not exist", "DELETE", base+"/main", nil)
	c.wantError(404, "notfound", "does not exist", "GET", "/admin/api/accounts/z@example.org/sieve", nil)

	g := "/admin/api/sieve/global/"
	c.wantError(404, "notfound", "global script before does not exist", "GET", g+"before", nil)
	c.want(204, "PUT", g+"before", map[string]string{"script": "keep;"})
	if got := c.want(200, "GET", g+"before", nil); got["script"] != "keep;" {
		t.Errorf("global %v", got)
	}
	c.wantError(400, "invalid", `global script "middle": say before or after`, "PUT", g+"middle", map[string]string{"script": "keep;"})
	c.wantError(400, "invalid", "line 1", "PUT", g+"after", map[string]string{"script": "bogus;"})
	c.want(204, "DELETE", g+"before", nil)
}

func TestAuditEndpoint(t *testing.T) {
	e := newEnv(t)
	c := e.login("root", rootPW)
	c.want(201, "POST", "/admin/api/domains", map[string]string{"name": "a.test"})
	c.want(201, "POST", "/admin/api/accounts", map[string]string{"address": "x@a.test"})
	c.want(201, "POST", "/admin/api/aliases", map[string]any{"source": "y@a.test", "destinations": []string{"x@a.test"}})
	out := c.want(200, "GET", "/admin/api/audit?actor=admin:root", nil)
	entries := out["entries"].([]any)
	if len(entries) != 3 {
		t.Fatalf("entries %v", entries)
	}
	first := entries[0].(map[string]any)
	if first["action"] != "alias.add" || first["target"] != "y@a.test" || first["actor"] != "admin:root" ||
		first["remote"] != "127.0.0.1" || !strings.Contains(first["details"].(string), "destinations=x@a.test") {
		t.Errorf("newest entry %v", first)
	}
	if !strings.Contains(e.log.String(), `msg="admin change" actor=admin:root remote=127.0.0.1 action=domain.add target=a.test`) {
		t.Error("the audit log line does not name the administrator")
	}
	// The CLI's changes are in the same table.
	if all := c.want(200, "GET", "/admin/api/audit?actor=cli", nil)["entries"].([]any); len(all) < 4 {
		t.Errorf("cli entries %v", all)
	}
	if got := c.want(200, "GET", "/admin/api/audit?action=account.add&target=x@a.test", nil)["entries"].([]any); len(got) != 1 {
		t.Errorf("filtered %v", got)
	}
	page := c.want(200, "GET", "/admin/api/audit?actor=admin:root&limit=2", nil)
	if len(page["entries"].([]any)) != 2 || page["next"] == nil {
		t.Fatalf("page %v", page)
	}
	next := c.want(200, "GET", "/admin/api/audit?actor=admin:root&limit=2&before="+ftoa(page["next"].(float64)), nil)
	if es := next["entries"].([]any); len(es) != 1 || es[0].(map[string]any)["action"] != "domain.add" || next["next"] != nil {
		t.Errorf("second page %v", next)
	}
	if got := c.want(200, "GET", "/admin/api/audit?since=2999-01-01T00:00:00Z", nil)["entries"].([]any); len(got) != 0 {
		t.Errorf("since the future: %v", got)
	}
	c.wantError(400, "invalid", "RFC 3339", "GET", "/admin/api/audit?since=yesterday", nil)
	c.wantError(400, "invalid", "not a positive number", "GET", "/admin/api/audit?limit=-1", nil)
	c.wantError(400, "invalid", "not a positive number", "GET", "/admin/api/audit?before=x", nil)
	// A refused change writes no row.
	c.wantError(409, "exists", "already exists", "POST", "/admin/api/domains", map[string]string{"name": "a.test"})
	if got, _ := e.svc.AuditLog(context.Background(), store.AuditFilter{Actor: "admin:root"}); len(got) != 3 {
		t.Errorf("%d rows after a refused change, want 3", len(got))
	}
}

// TestThrottleEndpoints: a server administrator sees who the login
// throttle refuses and lifts it (issue 13); a domain administrator may not.
func TestThrottleEndpoints(t *testing.T) {
	e := newEnv(t)
	c := e.bearer()
	for range 3 {
		e.anon().do("POST", "/admin/api/login", map[string]string{"username": "dom", "password": "wrong password"})
	}
	if status, _ := e.anon().do("POST", "/admin/api/login", map[string]string{"username": "dom", "password": domPW}); status != 429 {
		t.Fatalf("dom after 3 failures: %d", status)
	}
	list := c.want(200, "GET", "/admin/api/auth/throttled", nil)["throttled"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["account"] != "admin:dom" || list[0].(map[string]any)["source"] != "127.0.0.1/32" {
		t.Errorf("throttled: %v", list)
	}
	if got := c.want(200, "POST", "/admin/api/auth/unblock", map[string]string{"target": "admin:dom"}); got["cleared"] != 2.0 {
		t.Errorf("unblock: %v", got)
	}
	if n := len(c.want(200, "GET", "/admin/api/auth/throttled", nil)["throttled"].([]any)); n != 0 {
		t.Errorf("%d throttled after unblock", n)
	}
	dom := e.login("dom", domPW) // fails the test unless unblocked
	dom.wantError(403, "forbidden", "", "GET", "/admin/api/auth/throttled", nil)
	c.wantError(400, "invalid", "neither an IP address nor a login name", "POST", "/admin/api/auth/unblock", map[string]string{"target": ""})
	if !strings.Contains(e.log.String(), "action=auth.unblock") {
		t.Error("unblock not recorded")
	}
}
