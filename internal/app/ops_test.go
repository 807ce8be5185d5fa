package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/config"
)

// A whole App on loopback: the http listener serves health, autoconfig
// and MTA-STS; the admin handlers give readiness, metrics and the
// dashboard of the running listeners.
func TestAdminOpsAndHTTPListener(t *testing.T) {
	dir := t.TempDir()
	text := `hostname = "mail.example.org"
data_dir = "` + dir + `"
[listen]
smtp = "127.0.0.1:0"
submission = ""
submissions = "127.0.0.1:0"
imap = ""
imaps = "127.0.0.1:0"
pop3 = ""
pop3s = ""
managesieve = ""
http = "127.0.0.1:0"
admin = ""
[tls]
cert = "` + filepath.Join(dir, "cert.pem") + `"
key = "` + filepath.Join(dir, "key.pem") + `"
[mtasts]
mode = "enforce"
`
	cfg, err := config.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if err := GenerateSelfSigned(cfg.Hostname, cfg.TLS.Cert, cfg.TLS.Key); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	backend, err := OpenBackend(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	if _, err := backend.Store.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, backend, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nil) }()
	defer func() { cancel(); <-done }()

	base := "http://" + a.Addr("http").String()
	get := func(path, host string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Host = host
		var resp *http.Response
		for i := 0; i < 50; i++ {
			if resp, err = http.DefaultClient.Do(req); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz", "x"); code != 200 || body != "ok\n" {
		t.Errorf("healthz %d %q", code, body)
	}
	if code, body := get("/readyz", "x"); code != 200 || !strings.Contains(body, `"listeners":"ok"`) {
		t.Errorf("readyz %d %s", code, body)
	}
	if code, body := get("/.well-known/mta-sts.txt", "mta-sts.example.org"); code != 200 || !strings.Contains(body, "mode: enforce\r\nmx: mail.example.org\r\n") {
		t.Errorf("mta-sts %d %q", code, body)
	}
	imaps := portOf(a.Addr("imaps").String())
	if code, body := get("/mail/config-v1.1.xml", "autoconfig.example.org"); code != 200 || !strings.Contains(body, "<port>"+strconv.Itoa(imaps)+"</port>") ||
		strings.Contains(body, "STARTTLS") {
		t.Errorf("autoconfig %d %s", code, body)
	}
	if code, _ := get("/mail/config-v1.1.xml", "autoconfig.unknown.org"); code != 404 {
		t.Errorf("autoconfig of a foreign domain: %d", code)
	}

	ops := a.AdminOps("9.9")
	rec := httptest.NewRecorder()
	ops.Dashboard.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/api/dashboard", nil))
	var dash struct {
		Version  string
		Services []struct {
			Name string
			Port int
			Up   bool
		}
		Certificates []struct{ Names []string } `json:"certificates"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &dash); err != nil {
		t.Fatal(err)
	}
	if dash.Version != "9.9" || len(dash.Services) != 4 || !dash.Services[0].Up || dash.Services[0].Port == 0 ||
		len(dash.Certificates) != 1 {
		t.Errorf("dashboard %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	ops.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `postern_connections_total{protocol="http"}`) ||
		!strings.Contains(rec.Body.String(), `postern_queue_messages{state="held"} 0`) {
		t.Errorf("metrics:\n%s", rec.Body)
	}
}
