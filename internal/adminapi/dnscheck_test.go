package adminapi

import (
	"testing"
	"time"
)

func TestDNSCheckEndpoint(t *testing.T) {
	e := newEnv(t)
	e.dns.Add(t, "example.org. MX 10 mail.example.org.", `example.org. TXT "v=spf1 a:elsewhere.example.net -all"`)
	dom := e.login("dom", domPW)
	got := dom.want(200, "GET", "/admin/api/domains/Example.org/dns/check", nil)
	if got["domain"] != "example.org" {
		t.Errorf("domain %v", got["domain"])
	}
	if at, err := time.Parse(time.RFC3339, got["checked_at"].(string)); err != nil || time.Since(at) > time.Minute {
		t.Errorf("checked_at %v: %v", got["checked_at"], err)
	}
	recs := got["records"].([]any)
	status := map[string]string{}
	for _, r := range recs {
		m := r.(map[string]any)
		for _, k := range []string{"type", "name", "want", "found", "status", "fix"} {
			if _, ok := m[k]; !ok {
				t.Errorf("record %v lacks %q", m, k)
			}
		}
		if _, ok := m["found"].([]any); !ok {
			t.Errorf("found of %v is not a list", m)
		}
		status[m["type"].(string)+" "+m["name"].(string)] = m["status"].(string)
	}
	if status["MX example.org."] != "ok" || status["TXT example.org."] != "wrong" || status["TXT _dmarc.example.org."] != "missing" {
		t.Errorf("statuses %v", status)
	}
	// A domain administrator checks only their domains; a bearer token
	// of a server administrator any.
	dom.wantError(403, "forbidden", "other.test", "GET", "/admin/api/domains/other.test/dns/check", nil)
	root := e.bearer()
	root.want(200, "GET", "/admin/api/domains/other.test/dns/check", nil)
	root.wantError(404, "notfound", "domain nowhere.test does not exist", "GET", "/admin/api/domains/nowhere.test/dns/check", nil)
	e.anon().wantError(401, "unauthorized", "not logged in", "GET", "/admin/api/domains/example.org/dns/check", nil)
}
