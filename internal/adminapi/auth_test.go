package adminapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"postern/internal/admin"
	"postern/internal/store"
)

func TestLoginSessionCSRFLogout(t *testing.T) {
	e := newEnv(t)
	anon := e.anon()
	anon.wantError(401, "unauthorized", "authentication failed", "POST", "/admin/api/login",
		map[string]string{"username": "root", "password": "wrong password"})
	anon.wantError(401, "unauthorized", "authentication failed", "POST", "/admin/api/login",
		map[string]string{"username": "nobody", "password": rootPW})
	anon.wantError(401, "unauthorized", "not logged in", "GET", "/admin/api/session", nil)
	anon.wantError(401, "unauthorized", "not logged in", "GET", "/admin/api/domains", nil)

	c := e.login("Root", rootPW)
	ck := c.lastSetCookie
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/admin/" || len(ck.Value) < 40 {
		t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/admin/", ck)
	}
	other := e.login(" ROOT. ", rootPW)
	// Only the digest is stored.
	h := sha256.Sum256([]byte(ck.Value))
	if tok, _, err := e.st.AdminToken(context.Background(), h[:]); err != nil || tok.Kind != store.AdminSession {
		t.Errorf("session not stored by its digest: %+v %v", tok, err)
	}

	me := c.want(200, "GET", "/admin/api/session", nil)
	if a := me["admin"].(map[string]any); a["name"] != "root" || a["role"] != "server" || me["csrf_token"] != c.csrf {
		t.Errorf("session %v", me)
	}
	// A change without the CSRF token, or with another session's, is refused.
	c.noCSRF = true
	c.wantError(403, "forbidden", "X-CSRF-Token", "POST", "/admin/api/domains", map[string]string{"name": "new.test"})
	c.noCSRF = false
	good := c.csrf
	c.csrf = other.csrf
	c.wantError(403, "forbidden", "X-CSRF-Token", "POST", "/admin/api/domains", map[string]string{"name": "new.test"})
	c.csrf = good
	if _, err := e.svc.Domain(context.Background(), "new.test"); admin.KindOf(err) != admin.KindNotFound {
		t.Errorf("domain added without CSRF token: %v", err)
	}
	c.want(201, "POST", "/admin/api/domains", map[string]string{"name": "new.test"})

	// Logout needs the CSRF token too, revokes the session and clears the cookie.
	c.noCSRF = true
	c.wantError(403, "forbidden", "X-CSRF-Token", "POST", "/admin/api/logout", nil)
	c.noCSRF = false
	c.want(204, "POST", "/admin/api/logout", nil)
	if c.lastSetCookie == nil || c.lastSetCookie.MaxAge >= 0 {
		t.Errorf("logout did not clear the cookie: %+v", c.lastSetCookie)
	}
	c.wantError(401, "unauthorized", "not logged in", "GET", "/admin/api/session", nil)
	if _, err := e.svc.Administrator(context.Background(), "root"); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.svc.Administrator(context.Background(), "root"); a.LastLogin.IsZero() {
		t.Error("last login not recorded")
	}
}

func TestLoginThrottled(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		e.anon().wantError(401, "unauthorized", "authentication failed", "POST", "/admin/api/login",
			map[string]string{"username": "root", "password": "guess guess"})
	}
	e.anon().wantError(429, "throttled", "try later", "POST", "/admin/api/login",
		map[string]string{"username": "root", "password": rootPW})
	// Another administrator from the same source is not locked by root's failures.
	e.login("dom", domPW)
	if !strings.Contains(e.log.String(), "auth throttled") || !strings.Contains(e.log.String(), "principal=admin") {
		t.Error("throttling not logged as an admin login")
	}
}

func TestLoginTOTP(t *testing.T) {
	e := newEnv(t)
	url := e.addAdmin("sec", "server", nil, "sec password 1", true)
	key, err := otp.NewKeyFromURL(url)
	if err != nil {
		t.Fatal(err)
	}
	e.anon().wantError(401, "unauthorized", "authentication failed", "POST", "/admin/api/login",
		map[string]string{"username": "sec", "password": "sec password 1"})
	e.anon().wantError(401, "unauthorized", "authentication failed", "POST", "/admin/api/login",
		map[string]string{"username": "sec", "password": "sec password 1", "totp": "123456x"})
	code, _ := totp.GenerateCode(key.Secret(), time.Now())
	e.anon().want(200, "POST", "/admin/api/login",
		map[string]string{"username": "sec", "password": "sec password 1", "totp": code})
	// A right code with a wrong password is still a failure.
	e.anon().wantError(401, "unauthorized", "authentication failed", "POST", "/admin/api/login",
		map[string]string{"username": "sec", "password": "wrong password", "totp": code})
	// A code logs in once.
	e.anon().wantError(401, "unauthorized", "authentication failed", "POST", "/admin/api/login",
		map[string]string{"username": "sec", "password": "sec password 1", "totp": code})
	if !strings.Contains(e.log.String(), "TOTP code used twice") {
		t.Error("replayed code not logged")
	}
}

func TestAPITokens(t *testing.T) {
	e := newEnv(t)
	c := e.login("root", rootPW)
	c.wantError(400, "invalid", "API token name", "POST", "/admin/api/tokens", map[string]string{"name": ""})
	out := c.want(201, "POST", "/admin/api/tokens", map[string]string{"name": "deploy"})
	secret, _ := out["token"].(string)
	if secret == "" || out["name"] != "deploy" {
		t.Fatalf("token answer %v", out)
	}
	c.wantError(409, "exists", "API token deploy of root already exists", "POST", "/admin/api/tokens", map[string]string{"name": "deploy"})
	list := c.want(200, "GET", "/admin/api/tokens", nil)["tokens"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["token"] != nil {
		t.Errorf("token list %v: want one, without the token", list)
	}
	id := list[0].(map[string]any)["id"].(float64)

	b := &client{e: e, bearer: secret}
	// No CSRF token needed with a bearer token.
	b.want(201, "POST", "/admin/api/domains", map[string]string{"name": "bearer.test"})
	b.wantError(400, "invalid", "logout ends a session", "POST", "/admin/api/logout", nil)
	if got := b.want(200, "GET", "/admin/api/session", nil); got["csrf_token"] != nil {
		t.Errorf("bearer session view has a CSRF token: %v", got)
	}
	// The session token is not an API token, nor the reverse.
	(&client{e: e, bearer: c.cookie}).wantError(401, "unauthorized", "not logged in", "GET", "/admin/api/domains", nil)
	(&client{e: e, cookie: secret, csrf: admin.CSRFToken(secret)}).wantError(401, "unauthorized", "not logged in", "GET", "/admin/api/domains", nil)

	c.wantError(400, "invalid", "not a number", "DELETE", "/admin/api/tokens/x", nil)
	c.want(204, "DELETE", "/admin/api/tokens/"+ftoa(id), nil)
	c.wantError(404, "notfound", "does not exist", "DELETE", "/admin/api/tokens/"+ftoa(id), nil)
	b.wantError(401, "unauthorized", "not logged in", "GET", "/admin/api/domains", nil)
}

func ftoa(f float64) string { return strconv.FormatInt(int64(f), 10) }

func TestMailAccountNeverAuthorises(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acct, _, err := e.svc.AddAccount(e.cli, "user@example.org", admin.NewPassword{Given: "user password 1"})
	if err != nil {
		t.Fatal(err)
	}
	e.anon().wantError(401, "unauthorized", "authentication failed", "POST", "/admin/api/login",
		map[string]string{"username": "user@example.org", "password": "user password 1"})
	// Basic authentication with the account's password.
	req, _ := http.NewRequest("GET", e.url+"/admin/api/domains", nil)
	req.SetBasicAuth("user@example.org", "user password 1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("basic auth of a mail account: %d, want 401", resp.StatusCode)
	}
	// A JMAP bearer token of the account.
	raw := make([]byte, 32)
	tok := base64.RawURLEncoding.EncodeToString(raw)
	h := sha256.Sum256([]byte(tok))
	if _, err := e.st.AddAccessToken(ctx, store.AccessToken{AccountID: acct.ID, Hash: h[:], ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	(&client{e: e, bearer: tok}).wantError(401, "unauthorized", "not logged in", "GET", "/admin/api/domains", nil)
	(&client{e: e, cookie: tok, csrf: admin.CSRFToken(tok)}).wantError(401, "unauthorized", "not logged in", "GET", "/admin/api/domains", nil)
}

func TestDomainAdminScope(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.svc.AddAccount(e.cli, "x@other.test", admin.NewPassword{Given: "other password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddAlias(e.cli, "al@other.test", []string{"x@other.test"}); err != nil {
		t.Fatal(err)
	}
	d := e.login("dom", domPW)
	doms := d.want(200, "GET", "/admin/api/domains", nil)["domains"].([]any)
	if len(doms) != 1 || doms[0].(map[string]any)["name"] != "example.org" {
		t.Errorf("domain admin sees %v", doms)
	}
	d.want(201, "POST", "/admin/api/accounts", map[string]string{"address": "a@example.org"})
	d.want(200, "GET", "/admin/api/domains/example.org/accounts", nil)
	for _, c := range []struct {
		method, path string
		body         any
		msg          string
	}{
		{"GET", "/admin/api/domains/other.test", nil, "does not manage domain other.test"},
		{"GET", "/admin/api/domains/other.test/accounts", nil, "does not manage domain other.test"},
		{"GET", "/admin/api/domains/other.test/dns", nil, "does not manage"},
		{"POST", "/admin/api/domains/other.test/dkim/rotate", nil, "does not manage"},
		{"PUT", "/admin/api/domains/other.test/catchall", map[string]string{"address": "x@other.test"}, "does not manage"},
		{"POST", "/admin/api/accounts", map[string]string{"address": "b@other.test"}, "does not manage b@other.test"},
		{"GET", "/admin/api/accounts/x@other.test", nil, "does not manage x@other.test"},
		{"POST", "/admin/api/accounts/x@other.test/password", map[string]string{}, "does not manage"},
		{"POST", "/admin/api/accounts/x@other.test/disable", nil, "does not manage"},
		{"DELETE", "/admin/api/accounts/x@other.test", map[string]string{"confirm": "x@other.test"}, "does not manage"},
		{"GET", "/admin/api/accounts/x@other.test/sieve", nil, "does not manage"},
		{"POST", "/admin/api/aliases", map[string]any{"source": "b@other.test", "destinations": []string{"a@example.org"}}, "does not manage"},
		{"DELETE", "/admin/api/aliases/al@other.test", nil, "does not manage"},
		{"GET", "/admin/api/domains/other.test/aliases", nil, "does not manage"},
		{"POST", "/admin/api/domains", map[string]string{"name": "mine.test"}, "adding a domain needs a server administrator"},
		{"DELETE", "/admin/api/domains/example.org", map[string]string{"confirm": "example.org"}, "deleting a domain needs a server administrator"},
		{"GET", "/admin/api/sieve/global/before", nil, "global Sieve scripts needs a server administrator"},
		{"PUT", "/admin/api/sieve/global/before", map[string]string{"script": "keep;"}, "needs a server administrator"},
		{"GET", "/admin/api/audit", nil, "the audit log needs a server administrator"},
	} {
		d.wantError(403, "forbidden", c.msg, c.method, c.path, c.body)
	}
	if als := d.want(200, "GET", "/admin/api/aliases", nil)["aliases"].([]any); len(als) != 0 {
		t.Errorf("domain admin sees aliases of other domains: %v", als)
	}
	if _, err := e.svc.Account(context.Background(), "b@other.test"); admin.KindOf(err) != admin.KindNotFound {
		t.Error("refused account was created")
	}
	logs := e.log.String()
	if !strings.Contains(logs, `msg="admin request forbidden" admin=dom role=domain method=GET path=/admin/api/domains/other.test`) {
		t.Errorf("403 not logged with who asked:\n%s", logs)
	}
}
