package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	c, err := Parse(`hostname = "mx.example.org"`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.SMTP != ":25" || c.Listen.IMAPS != ":993" || c.Auth.AllowPlaintextLoopback {
		t.Fatalf("defaults not secure/real: %+v", c.Listen)
	}
	if c.SMTP.MaxRecipients != 100 || c.SMTP.IdleTimeout.Duration != 5*time.Minute {
		t.Fatalf("smtp defaults: %+v", c.SMTP)
	}
}

func TestParseOverrides(t *testing.T) {
	c, err := Parse(`
hostname = "mx.example.org"
[listen]
smtp = "127.0.0.1:2525"
pop3s = ""
[smtp]
idle_timeout = "30s"
max_recipients = 5
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.SMTP != "127.0.0.1:2525" || c.Listen.POP3S != "" || c.SMTP.IdleTimeout.Duration != 30*time.Second || c.SMTP.MaxRecipients != 5 {
		t.Fatalf("overrides not applied: %+v %+v", c.Listen, c.SMTP)
	}
}

func TestParseErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		"[listen]\nsmtpp = \"x\"":                  "listen.smtpp",
		"[listen]\nimap = \"nonsense\"":            "listen.imap",
		"[listen]\npop3 = \"127.0.0.1:99999\"":     "listen.pop3",
		"[smtp]\nidle_timeout = \"soon\"":          "idle_timeout",
		"[smtp]\nmax_recipients = 0":               "smtp.max_recipients",
		"[log]\nlevel = \"loud\"":                  "log.level",
		"[tls]\ncert = \"a.pem\"\nkey = \"\"":      "tls.cert",
		"bogus = 1":                                "bogus",
		"[smtp]\nmax_recipients = \"many\"":        "max_recipients",
		"hostname = \"bad host\"":                  "hostname",
		"[smtp]\nmax_line_length = 80":             "smtp.max_line_length",
		"[auth]\nallow_plaintext_loopback = \"y\"": "allow_plaintext_loopback",
	}
	for text, key := range cases {
		_, err := Parse("hostname = \"mx.example.org\"\n" + text)
		if err == nil {
			if key == "hostname" {
				_, err = Parse(text)
			}
			if err == nil {
				t.Errorf("%q: accepted", text)
				continue
			}
		}
		if !strings.Contains(err.Error(), key) {
			t.Errorf("%q: error %q does not name %q", text, err, key)
		}
	}
}

func TestPaths(t *testing.T) {
	c, err := Parse(`hostname = "h"` + "\n" + `data_dir = "data"`)
	if err != nil {
		t.Fatal(err)
	}
	c.path = "/etc/postern/postern.toml"
	if got := c.DatabasePath(); got != "/etc/postern/data/postern.db" {
		t.Fatalf("DatabasePath = %s", got)
	}
	if got := c.Path("/abs/cert.pem"); got != "/abs/cert.pem" {
		t.Fatalf("Path(abs) = %s", got)
	}
}

// A bad value names its key and line; every unknown key is named, with its
// line.
func TestParseErrorsNameKeyAndLine(t *testing.T) {
	_, err := Parse("hostname = \"x.test\"\n[smtp]\nidle_timeout = \"5 minutes\"\n")
	if err == nil || err.Error() != `line 3: smtp.idle_timeout: not a duration like "30s" or "5m": "5 minutes"` {
		t.Errorf("bad duration: %v", err)
	}
	_, err = Parse("hostname = \"x.test\"\n[imap]\nbogus = 1\n[pop3]\nalso_bogus = 2\n")
	if err == nil || err.Error() != `unknown keys "imap.bogus" (line 3), "pop3.also_bogus" (line 5)` {
		t.Errorf("unknown keys: %v", err)
	}
	if _, err := Parse("hostname = \"x.test\"\n[smtp\n"); err == nil || !strings.HasPrefix(err.Error(), "line ") {
		t.Errorf("syntax error: %v", err)
	}
}
