package config

import (
	"fmt"
	"strings"
	"time"
)

// Checks turns the inbound checks of mail on port 25 on and off
// ([checks]): SPF, DKIM, DMARC, ARC, iprev, and how DNS failures count.
type Checks struct {
	// Enabled runs the checks at all; the others pick among them.
	Enabled bool `toml:"enabled"`
	SPF     bool `toml:"spf"`
	DKIM    bool `toml:"dkim"`
	DMARC   bool `toml:"dmarc"`
	ARC     bool `toml:"arc"`
	IPRev   bool `toml:"iprev"`
	// DNSTimeout is the DNS time budget of one message.
	DNSTimeout Duration `toml:"dns_timeout"`
	// DNSCacheEntries bounds the answers kept.
	DNSCacheEntries int `toml:"dns_cache_entries"`
	// MaxDKIMSignatures bounds the signatures verified per message.
	MaxDKIMSignatures int `toml:"max_dkim_signatures"`
	// DNSFailure is what a DNS failure that decides a verdict does:
	// "defer" (451 4.4.3, the sender retries) or "accept" (deliver with
	// temperror in Authentication-Results: a development server without
	// DNS).
	DNSFailure string `toml:"dns_failure"`
	// DMARCReports sends the daily DMARC aggregate reports (RFC 7489
	// §7.2) to the domains whose records ask; DMARCReportFrom is their
	// From ("" for postmaster@ the host name).
	DMARCReports    bool   `toml:"dmarc_reports"`
	DMARCReportFrom string `toml:"dmarc_report_from"`
}

func defaultChecks() Checks {
	return Checks{Enabled: true, SPF: true, DKIM: true, DMARC: true, ARC: true, IPRev: true,
		DNSTimeout: Duration{10 * time.Second}, DNSCacheEntries: 10000, MaxDKIMSignatures: 5, DNSFailure: "defer",
		DMARCReports: true}
}

func (c Checks) validate() error {
	if d := c.DNSTimeout.Duration; d < 100*time.Millisecond || d > 2*time.Minute {
		return fmt.Errorf("checks.dns_timeout: %s is not between 100ms and 2m", d)
	}
	if c.DNSCacheEntries < 1 {
		return fmt.Errorf("checks.dns_cache_entries: %d is not positive", c.DNSCacheEntries)
	}
	if c.MaxDKIMSignatures < 1 || c.MaxDKIMSignatures > 50 {
		return fmt.Errorf("checks.max_dkim_signatures: %d is not between 1 and 50", c.MaxDKIMSignatures)
	}
	switch c.DNSFailure {
	case "defer", "accept":
	default:
		return fmt.Errorf("checks.dns_failure: %q is not defer or accept", c.DNSFailure)
	}
	if f := c.DMARCReportFrom; f != "" && (strings.Count(f, "@") != 1 || strings.HasPrefix(f, "@") || strings.HasSuffix(f, "@") ||
		strings.ContainsAny(f, " <>\r\n")) {
		return fmt.Errorf("checks.dmarc_report_from: %q is not an address", f)
	}
	return nil
}
