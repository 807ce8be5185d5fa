package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/config"
)

// TestAdminListener starts the app with only the admin listener, on
// loopback (plain HTTP) and on every interface (TLS).
func TestAdminListener(t *testing.T) {
	for _, c := range []struct {
		addr, scheme string
	}{{"127.0.0.1:0", "http"}, {"0.0.0.0:0", "https"}} {
		t.Run(c.scheme, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "postern.toml")
			text := fmt.Sprintf("hostname = \"mail.example.test\"\n[listen]\nsmtp = \"\"\nsubmission = \"\"\nsubmissions = \"\"\n"+
				"imap = \"\"\nimaps = \"\"\npop3 = \"\"\npop3s = \"\"\nmanagesieve = \"\"\nhttp = \"\"\nadmin = %q\n", c.addr)
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := GenerateSelfSigned(cfg.Hostname, cfg.Path(cfg.TLS.Cert), cfg.Path(cfg.TLS.Key)); err != nil {
				t.Fatal(err)
			}
			logger := slog.New(slog.DiscardHandler)
			backend, err := OpenBackend(context.Background(), cfg, logger)
			if err != nil {
				t.Fatal(err)
			}
			defer backend.Close()
			a, err := New(cfg, backend, logger, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Listen(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx, nil) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			port := a.Addr("admin").String()[strings.LastIndexByte(a.Addr("admin").String(), ':'):]
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			resp, err := client.Get(c.scheme + "://127.0.0.1" + port + "/admin/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "Postern admin") {
				t.Errorf("GET /admin/: %d %q", resp.StatusCode, body)
			}
			if (resp.TLS != nil) != (c.scheme == "https") {
				t.Errorf("TLS %v on %s", resp.TLS != nil, c.addr)
			}
		})
	}
}
