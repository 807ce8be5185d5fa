package config

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestOutboundDefaults(t *testing.T) {
	c, err := Parse("")
	if err != nil {
		t.Fatal(err)
	}
	o := c.Outbound
	if o.Port != 25 || o.FirstRetry.Duration != 5*time.Minute || o.MaxAge.Duration != 120*time.Hour ||
		o.DelayWarning.Duration != 4*time.Hour || o.RelayTLS != "starttls" || len(c.DNS.Servers) != 0 {
		t.Fatalf("defaults %+v %+v", o, c.DNS)
	}
}

func TestOutboundErrorsNameKey(t *testing.T) {
	for text, key := range map[string]string{
		"[outbound]\nport = 0":                                                             "outbound.port",
		"[outbound]\nrelay_host = \"nohost\"":                                              "outbound.relay_host",
		"[outbound]\nrelay_tls = \"ssl\"":                                                  "outbound.relay_tls",
		"[outbound]\nrelay_username = \"u\"":                                               "outbound.relay_username",
		"[outbound]\nfirst_retry = \"0s\"":                                                 "outbound.first_retry",
		"[outbound]\nmax_per_domain = -1":                                                  "outbound.max_per_domain",
		"[dns]\nservers = [\"dns.example:53\"]":                                            "dns.servers[0]",
		"[outbound]\nrelay_tls = \"none\"\nrelay_username = \"u\"\nrelay_password = \"p\"": "outbound.relay_tls",
	} {
		_, err := Parse(text)
		if err == nil || !strings.HasPrefix(err.Error(), key) {
			t.Errorf("%q: error %v, want one naming %s", text, err, key)
		}
	}
	if _, err := Parse("[outbound]\nport = 2525\nrelay_host = \"127.0.0.1:587\"\n[dns]\nservers = [\"127.0.0.1:5353\"]"); err != nil {
		t.Fatal(err)
	}
}

func TestRelayPasswordNotPrinted(t *testing.T) {
	c, err := Parse("[outbound]\nrelay_host = \"relay.example:587\"\nrelay_username = \"u\"\nrelay_password = \"s3cret-pw\"")
	if err != nil {
		t.Fatal(err)
	}
	if c.Outbound.RelayPassword != "s3cret-pw" {
		t.Fatalf("password %q", c.Outbound.RelayPassword)
	}
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "s3cret-pw") || !strings.Contains(b.String(), "(hidden)") {
		t.Fatalf("encoded config:\n%s", b.String())
	}
}

func TestEmptySecretEncodes(t *testing.T) {
	c := Default()
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `relay_password = ""`) {
		t.Fatalf("encoded:\n%s", b.String())
	}
}
