package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"postern/internal/autoconfig"
	"postern/internal/health"
)

// The http listener serves autoconfig, MTA-STS and health for any Host.
func TestMountedAutoconfigAndHealth(t *testing.T) {
	if !slices.Equal(autoconfigPaths, autoconfig.Paths) {
		t.Fatalf("web mounts %v, autoconfig serves %v", autoconfigPaths, autoconfig.Paths)
	}
	ac := autoconfig.New(autoconfig.Options{Settings: autoconfig.Settings{Hostname: "mail.example.org", IMAPS: 993, Submissions: 465, MTASTSMode: "testing"}})
	s := New(Options{Autoconfig: ac.Handler(), Healthz: health.Healthz(),
		Readyz: health.Readyz(map[string]health.Check{"store": func(context.Context) error { return nil }})})
	for _, c := range []struct {
		method, path, host, body, want string
	}{
		{"GET", "/.well-known/autoconfig/mail/config-v1.1.xml", "autoconfig.example.org", "", "<clientConfig"},
		{"GET", "/mail/config-v1.1.xml?emailaddress=a%40example.org", "mail.example.org", "", "<socketType>SSL</socketType>"},
		{"POST", "/autodiscover/autodiscover.xml", "autodiscover.example.org",
			"<Autodiscover><Request><EMailAddress>a@example.org</EMailAddress></Request></Autodiscover>", "<Port>993</Port>"},
		{"GET", "/.well-known/mta-sts.txt", "mta-sts.example.org", "", "mode: testing\r\nmx: mail.example.org\r\n"},
		{"GET", "/healthz", "anything", "", "ok"},
		{"GET", "/readyz", "anything", "", `"store":"ok"`},
	} {
		r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		r.Host = c.host
		rec := httptest.NewRecorder()
		s.srv.Handler.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s %s: %d %s", c.method, c.path, rec.Code, rec.Body)
		}
	}
}
