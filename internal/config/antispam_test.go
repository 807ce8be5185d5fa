package config

import (
	"strings"
	"testing"
	"time"
)

func TestAntispamDefaultsAndOverrides(t *testing.T) {
	c, err := Parse("")
	if err != nil {
		t.Fatal(err)
	}
	a := c.Antispam
	if len(a.DNSBL) != 0 || a.Greylist.Enabled || len(a.Trusted()) != 2 || a.ConnectionsPerMinute == 0 {
		t.Fatalf("defaults: %+v", a)
	}
	c, err = Parse(`[antispam]
dnsbl = ["zen.example", "bl.example."]
check_loopback = true
messages_per_hour = 0
[antispam.greylist]
enabled = true
delay = "2s"
`)
	if err != nil {
		t.Fatal(err)
	}
	a = c.Antispam
	if len(a.DNSBL) != 2 || len(a.Trusted()) != 0 || a.MessagesPerHour != 0 || !a.Greylist.Enabled ||
		a.Greylist.Delay.Duration != 2*time.Second || a.Greylist.Window.Duration != 24*time.Hour {
		t.Fatalf("overrides: %+v", a)
	}
	if c, err := Parse("[antispam]\ntrusted_networks = [\"10.1.2.3\", \"2001:db8::/32\"]\n"); err != nil || len(c.Antispam.Trusted()) != 4 {
		t.Fatalf("trusted networks: %v", err)
	}
}

func TestAntispamValidation(t *testing.T) {
	for text, key := range map[string]string{
		"[antispam]\ndnsbl = [\"not a zone\"]\n":             "antispam.dnsbl[0]",
		"[antispam]\ntrusted_networks = [\"10.0.0.0/33\"]\n": "antispam.trusted_networks[0]",
		"[antispam]\nrecipients_per_hour = -1\n":             "antispam.recipients_per_hour",
		"[antispam.greylist]\ndelay = \"25h\"\n":             "antispam.greylist",
		"[antispam]\ndnsbl_timeout = \"0s\"\n":               "antispam.dnsbl_timeout",
	} {
		_, err := Parse(text)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: %v, want an error naming %s", text, err, key)
		}
	}
}
