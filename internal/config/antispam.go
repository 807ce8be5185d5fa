package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Antispam is the gate of port 25 before DATA ([antispam]): DNS
// blocklists, rate limits and greylisting. Authenticated submission is
// never subject to it.
type Antispam struct {
	// DNSBL zones asked about every client address (RFC 5782), e.g.
	// "zen.spamhaus.org"; a listed client's recipients get 554 5.7.1.
	DNSBL        []string `toml:"dnsbl"`
	DNSBLTimeout Duration `toml:"dnsbl_timeout"`
	// TrustedNetworks skip every check here, as loopback always does
	// (unless CheckLoopback: tests, whose clients are all on loopback).
	TrustedNetworks []string `toml:"trusted_networks"`
	CheckLoopback   bool     `toml:"check_loopback"`

	// Limits per client address (IPv6 by /64); 0 turns one off.
	ConnectionsPerMinute int `toml:"connections_per_minute"`
	MessagesPerHour      int `toml:"messages_per_hour"`
	RecipientsPerHour    int `toml:"recipients_per_hour"`
	// SenderDomainPerHour limits the messages of one envelope sender
	// domain, from every client together.
	SenderDomainPerHour int `toml:"sender_domain_messages_per_hour"`
	// MaxTracked caps the addresses and domains each limit remembers.
	MaxTracked int `toml:"max_tracked"`

	Greylist Greylist `toml:"greylist"`
}

// Greylist is [antispam.greylist] (RFC 6647), off by default.
type Greylist struct {
	Enabled bool     `toml:"enabled"`
	Delay   Duration `toml:"delay"`
	Window  Duration `toml:"window"`
	PassFor Duration `toml:"pass_for"`
	// AutoPass: a client network with this many passed triplets skips
	// the wait for new ones (0: never).
	AutoPass int `toml:"auto_pass"`
}

func defaultAntispam() Antispam {
	return Antispam{
		DNSBLTimeout: Duration{5 * time.Second},
		// Far above what one legitimate MTA sends to one server; a big
		// provider's single address stays below them.
		ConnectionsPerMinute: 120,
		MessagesPerHour:      3600,
		RecipientsPerHour:    10000,
		SenderDomainPerHour:  10000,
		MaxTracked:           100000,
		Greylist: Greylist{
			Delay:    Duration{5 * time.Minute},
			Window:   Duration{24 * time.Hour},
			PassFor:  Duration{36 * 24 * time.Hour},
			AutoPass: 5,
		},
	}
}

// Trusted parses TrustedNetworks (validated already), with loopback
// first; a bare address is its own network.
func (a Antispam) Trusted() []netip.Prefix {
	var out []netip.Prefix
	if !a.CheckLoopback {
		// Never ask a blocklist about loopback: 127.0.0.2 is every list's
		// test entry (RFC 5782 §5), listed on purpose.
		out = append(out, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	}
	for _, s := range a.TrustedNetworks {
		if p, err := parseNetwork(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

func (a Antispam) validate() error {
	for i, z := range a.DNSBL {
		z = strings.TrimSuffix(z, ".")
		if z == "" || strings.ContainsAny(z, " /@:") || !strings.Contains(z, ".") {
			return fmt.Errorf("antispam.dnsbl[%d]: %q is not a DNS zone like \"zen.spamhaus.org\"", i, a.DNSBL[i])
		}
	}
	if d := a.DNSBLTimeout.Duration; d <= 0 || d > time.Minute {
		return fmt.Errorf("antispam.dnsbl_timeout: %s is not between 0 and a minute", d)
	}
	for i, s := range a.TrustedNetworks {
		if _, err := parseNetwork(s); err != nil {
			return fmt.Errorf("antispam.trusted_networks[%d]: %q is not an address or a network like 192.0.2.0/24", i, s)
		}
	}
	for _, l := range []struct {
		key string
		v   int
	}{
		{"connections_per_minute", a.ConnectionsPerMinute}, {"messages_per_hour", a.MessagesPerHour},
		{"recipients_per_hour", a.RecipientsPerHour}, {"sender_domain_messages_per_hour", a.SenderDomainPerHour},
	} {
		if l.v < 0 {
			return fmt.Errorf("antispam.%s: must not be negative (0 turns it off)", l.key)
		}
	}
	if a.MaxTracked < 100 {
		return fmt.Errorf("antispam.max_tracked: %d is below 100", a.MaxTracked)
	}
	g := a.Greylist
	if g.Delay.Duration <= 0 || g.Window.Duration <= g.Delay.Duration || g.PassFor.Duration <= 0 {
		return fmt.Errorf("antispam.greylist: delay (%s) must be positive and shorter than window (%s), and pass_for positive",
			g.Delay.Duration, g.Window.Duration)
	}
	if g.AutoPass < 0 {
		return fmt.Errorf("antispam.greylist.auto_pass: must not be negative (0 turns it off)")
	}
	return nil
}
