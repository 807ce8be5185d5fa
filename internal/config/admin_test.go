package config

import (
	"strings"
	"testing"
)

func TestAdminListener(t *testing.T) {
	c, err := Parse(`hostname = "mx.example.org"`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.Admin != "127.0.0.1:8081" || DevListen().Admin != "127.0.0.1:8081" {
		t.Errorf("admin default %q, dev %q: want 127.0.0.1:8081", c.Listen.Admin, DevListen().Admin)
	}
	for _, ok := range []string{
		"[listen]\nadmin = \"[::1]:9000\"\n[tls]\ncert = \"\"\nkey = \"\"",
		"[listen]\nadmin = \"localhost:9000\"\n[tls]\ncert = \"\"\nkey = \"\"",
		"[listen]\nadmin = \"\"\n[tls]\ncert = \"\"\nkey = \"\"",
		"[listen]\nadmin = \"0.0.0.0:8443\"", // the default [tls] files
	} {
		if _, err := Parse("hostname = \"mx.example.org\"\n" + ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:8081", ":8081", "192.0.2.1:8081"} {
		_, err := Parse("hostname = \"mx.example.org\"\n[listen]\nadmin = \"" + bad + "\"\n[tls]\ncert = \"\"\nkey = \"\"")
		if err == nil || !strings.HasPrefix(err.Error(), "listen.admin: ") || !strings.Contains(err.Error(), "needs TLS") {
			t.Errorf("admin on %s without TLS: %v", bad, err)
		}
	}
	if _, err := Parse("hostname = \"mx.example.org\"\n[listen]\nadmin = \"nohost\""); err == nil ||
		!strings.HasPrefix(err.Error(), "listen.admin: ") {
		t.Errorf("bad admin address: %v", err)
	}
}
