package config

import (
	"strings"
	"testing"
	"time"
)

func TestChecksValidation(t *testing.T) {
	def := Default()
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c := Default().Checks; !c.Enabled || !c.SPF || !c.DKIM || !c.DMARC || !c.ARC || !c.IPRev || c.DNSFailure != "defer" || !c.DMARCReports {
		t.Errorf("checks are not all on by default: %+v", c)
	}
	for key, edit := range map[string]func(*Checks){
		"checks.dns_timeout":         func(c *Checks) { c.DNSTimeout = Duration{time.Millisecond} },
		"checks.dns_cache_entries":   func(c *Checks) { c.DNSCacheEntries = 0 },
		"checks.max_dkim_signatures": func(c *Checks) { c.MaxDKIMSignatures = 51 },
		"checks.dns_failure":         func(c *Checks) { c.DNSFailure = "pass" },
		"checks.dmarc_report_from":   func(c *Checks) { c.DMARCReportFrom = "reports at example.org" },
	} {
		cfg := Default()
		edit(&cfg.Checks)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v does not name the key", key, err)
		}
	}
}
