// Package config is Postern's one TOML file: the struct, its defaults, and
// validation whose messages name the offending key.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration. Field tags are the TOML keys.
type Config struct {
	// Hostname is the server's name in greetings, Received headers and the
	// self-signed certificate.
	Hostname string `toml:"hostname"`
	// DataDir holds the database and the blobs; relative paths are relative
	// to the config file's directory.
	DataDir string `toml:"data_dir"`

	Listen Listen `toml:"listen"`
	TLS    TLS    `toml:"tls"`
	Auth   Auth   `toml:"auth"`
	SMTP   SMTP   `toml:"smtp"`
	IMAP   IMAP   `toml:"imap"`
	POP3   POP3   `toml:"pop3"`
	Log    Log    `toml:"log"`
	// Outbound and DNS are the queue's SMTP client and resolver settings.
	Outbound Outbound `toml:"outbound"`
	DNS      DNS      `toml:"dns"`
	Sieve    Sieve    `toml:"sieve"`
	MTASTS   MTASTS   `toml:"mtasts"`
	Checks   Checks   `toml:"checks"`
	Antispam Antispam `toml:"antispam"`

	// path is the file this was read from; paths in it resolve against its directory.
	path string
}

// Listen holds "host:port" for every listener; "" turns it off.
type Listen struct {
	SMTP        string `toml:"smtp"`
	Submission  string `toml:"submission"`
	Submissions string `toml:"submissions"`
	IMAP        string `toml:"imap"`
	IMAPS       string `toml:"imaps"`
	POP3        string `toml:"pop3"`
	POP3S       string `toml:"pop3s"`
	ManageSieve string `toml:"managesieve"`
	HTTP        string `toml:"http"`
	// Admin serves the admin API and UI; on loopback by default, and
	// anywhere else only with TLS ([tls] cert and key).
	Admin string `toml:"admin"`
}

// TLS names the certificate and key files (PEM).
type TLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// Auth holds login policy.
type Auth struct {
	// AllowPlaintextLoopback lets clients on 127.0.0.0/8 and ::1 send
	// passwords without TLS. For development only.
	AllowPlaintextLoopback bool     `toml:"allow_plaintext_loopback"`
	MaxFailuresPerIP       int      `toml:"max_failures_per_ip"`
	MaxFailuresPerAccount  int      `toml:"max_failures_per_account"`
	FailureWindow          Duration `toml:"failure_window"`
}

// SMTP holds limits of the SMTP services.
type SMTP struct {
	MaxMessageBytes     int64    `toml:"max_message_bytes"`
	MaxRecipients       int      `toml:"max_recipients"`
	MaxLineLength       int      `toml:"max_line_length"`
	MaxHeaderBytes      int64    `toml:"max_header_bytes"`
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"`
	MaxConnections      int      `toml:"max_connections"`
	IdleTimeout         Duration `toml:"idle_timeout"`
	ShutdownGrace       Duration `toml:"shutdown_grace"`
}

// IMAP holds limits of the IMAP service.
type IMAP struct {
	AppendLimit         int64    `toml:"append_limit"`
	IdleTimeout         Duration `toml:"idle_timeout"`
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"`
	// MaxConnections caps IMAP connections in all (both listeners each):
	// keep it below the process's open-files limit.
	MaxConnections int `toml:"max_connections"`
}

// POP3 holds limits of the POP3 service.
type POP3 struct {
	IdleTimeout         Duration `toml:"idle_timeout"`
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"`
	// MaxConnections caps POP3 connections in all, per listener.
	MaxConnections int `toml:"max_connections"`
}

// Sieve holds the limits of users' Sieve scripts at delivery.
type Sieve struct {
	// MaxRedirects bounds the redirects one script run may make.
	MaxRedirects int `toml:"max_redirects"`
	// MaxActions bounds the actions of one run.
	MaxActions int `toml:"max_actions"`
	// SRSSecretFile holds the key of the Sender Rewriting Scheme for
	// redirected mail; made (random, mode 0600) when missing.
	SRSSecretFile string `toml:"srs_secret_file"`
}

// Log selects the log level ("debug", "info", "warn", "error") and format
// ("text" or "json").
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
	// DeliveryRetention is how long the delivery log keeps its rows.
	DeliveryRetention Duration `toml:"delivery_retention"`
}

// MTASTS is the MTA-STS policy (RFC 8461) served at
// /.well-known/mta-sts.txt: mode "testing", "enforce" or "none"; the mx
// is the hostname.
type MTASTS struct {
	Mode   string   `toml:"mode"`
	MaxAge Duration `toml:"max_age"`
}

// Duration is a time.Duration written as "5m", "30s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration like \"30s\" or \"5m\": %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the configuration of a production server: real ports on
// every address, no plaintext passwords.
func Default() Config {
	return Config{
		Hostname: "localhost",
		DataDir:  ".",
		Listen: Listen{
			SMTP: ":25", Submission: ":587", Submissions: ":465",
			IMAP: ":143", IMAPS: ":993", POP3: ":110", POP3S: ":995",
			ManageSieve: ":4190", HTTP: "127.0.0.1:8080", Admin: "127.0.0.1:8081",
		},
		TLS: TLS{Cert: "tls/cert.pem", Key: "tls/key.pem"},
		Auth: Auth{
			MaxFailuresPerIP:      10,
			MaxFailuresPerAccount: 5,
			FailureWindow:         Duration{15 * time.Minute},
		},
		SMTP: SMTP{
			MaxMessageBytes:     50 << 20,
			MaxRecipients:       100,
			MaxLineLength:       2000, // RFC 5321 §4.5.3.1.6 allows 1000; twice that for lenience.
			MaxHeaderBytes:      1 << 20,
			MaxConnectionsPerIP: 20,
			MaxConnections:      1000,
			IdleTimeout:         Duration{5 * time.Minute}, // RFC 5321 §4.5.3.2.7
			ShutdownGrace:       Duration{10 * time.Second},
		},
		IMAP: IMAP{
			AppendLimit:         50 << 20,
			IdleTimeout:         Duration{30 * time.Minute}, // RFC 9051 §5.4
			MaxConnectionsPerIP: 50,
			MaxConnections:      20000,
		},
		POP3: POP3{
			IdleTimeout:         Duration{10 * time.Minute}, // RFC 1939 §3
			MaxConnectionsPerIP: 20,
			MaxConnections:      2000,
		},
		Log:      Log{Level: "info", Format: "text", DeliveryRetention: Duration{30 * 24 * time.Hour}},
		MTASTS:   MTASTS{Mode: "testing", MaxAge: Duration{7 * 24 * time.Hour}},
		Outbound: defaultOutbound(),
		Sieve:    Sieve{MaxRedirects: 4, MaxActions: 32, SRSSecretFile: "srs.key"},
		Checks:   defaultChecks(),
		Antispam: defaultAntispam(),
	}
}

// DevListen is the listener set of `postern dev` and `init --dev`.
func DevListen() Listen {
	return Listen{
		SMTP: "127.0.0.1:2525", Submission: "127.0.0.1:2587", Submissions: "127.0.0.1:2465",
		IMAP: "127.0.0.1:2143", IMAPS: "127.0.0.1:2993", POP3: "127.0.0.1:2110", POP3S: "127.0.0.1:2995",
		ManageSieve: "127.0.0.1:24190", HTTP: "127.0.0.1:8080", Admin: "127.0.0.1:8081",
	}
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c.path = abs
	return c, nil
}

// Parse decodes and validates TOML text on top of the defaults.
func Parse(text string) (*Config, error) {
	c := Default()
	md, err := toml.Decode(text, &c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			msg := strings.TrimPrefix(perr.Message, "toml: error: ")
			if perr.LastKey != "" {
				return nil, fmt.Errorf("line %d: %s: %s", perr.Position.Line, perr.LastKey, msg)
			}
			return nil, fmt.Errorf("line %d: %s", perr.Position.Line, msg)
		}
		return nil, err
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		var bad []string
		for _, k := range undecoded {
			if line := keyLine(text, k); line > 0 {
				bad = append(bad, fmt.Sprintf("%q (line %d)", k.String(), line))
			} else {
				bad = append(bad, fmt.Sprintf("%q", k.String()))
			}
		}
		word := "key"
		if len(bad) > 1 {
			word = "keys"
		}
		return nil, fmt.Errorf("unknown %s %s", word, strings.Join(bad, ", "))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// keyLine finds the line that sets key (table.name = ...) in text, or 0.
func keyLine(text string, key toml.Key) int {
	if len(key) == 0 {
		return 0
	}
	table := strings.Join(key[:len(key)-1], ".")
	name := key[len(key)-1]
	cur := ""
	for i, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			cur = strings.TrimSpace(strings.Trim(t, "[]"))
			continue
		}
		k, _, ok := strings.Cut(t, "=")
		if ok && cur == table && strings.Trim(strings.TrimSpace(k), `"`) == name {
			return i + 1
		}
	}
	return 0
}

// Validate checks every value and names the first bad key.
func (c *Config) Validate() error {
	if c.Hostname == "" || strings.ContainsAny(c.Hostname, " \t/@") {
		return fmt.Errorf("hostname: %q is not a host name", c.Hostname)
	}
	for key, addr := range c.Listen.byKey() {
		if addr == "" {
			continue
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("listen.%s: %q is not host:port (use \"\" to turn it off)", key, addr)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("listen.%s: bad port %q", key, port)
		}
		if host != "" && net.ParseIP(host) == nil && host != "localhost" {
			return fmt.Errorf("listen.%s: %q is not an IP address", key, host)
		}
	}
	positive := []struct {
		key string
		v   int64
	}{
		{"smtp.max_message_bytes", c.SMTP.MaxMessageBytes},
		{"smtp.max_recipients", int64(c.SMTP.MaxRecipients)},
		{"smtp.max_line_length", int64(c.SMTP.MaxLineLength)},
		{"smtp.max_header_bytes", c.SMTP.MaxHeaderBytes},
		{"smtp.max_connections_per_ip", int64(c.SMTP.MaxConnectionsPerIP)},
		{"smtp.max_connections", int64(c.SMTP.MaxConnections)},
		{"smtp.idle_timeout", int64(c.SMTP.IdleTimeout.Duration)},
		{"imap.append_limit", c.IMAP.AppendLimit},
		{"imap.idle_timeout", int64(c.IMAP.IdleTimeout.Duration)},
		{"imap.max_connections_per_ip", int64(c.IMAP.MaxConnectionsPerIP)},
		{"pop3.idle_timeout", int64(c.POP3.IdleTimeout.Duration)},
		{"pop3.max_connections_per_ip", int64(c.POP3.MaxConnectionsPerIP)},
		{"auth.max_failures_per_ip", int64(c.Auth.MaxFailuresPerIP)},
		{"auth.max_failures_per_account", int64(c.Auth.MaxFailuresPerAccount)},
		{"auth.failure_window", int64(c.Auth.FailureWindow.Duration)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("%s: must be greater than zero", p.key)
		}
	}
	if c.SMTP.MaxLineLength < 1000 {
		return fmt.Errorf("smtp.max_line_length: must be at least 1000 (RFC 5321 §4.5.3.1.6)")
	}
	if c.SMTP.ShutdownGrace.Duration < 0 {
		return fmt.Errorf("smtp.shutdown_grace: must not be negative")
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	if c.Log.DeliveryRetention.Duration < time.Hour {
		return fmt.Errorf("log.delivery_retention: %s is less than an hour", c.Log.DeliveryRetention.Duration)
	}
	switch c.MTASTS.Mode {
	case "testing", "enforce", "none":
	default:
		return fmt.Errorf("mtasts.mode: %q is not testing, enforce or none", c.MTASTS.Mode)
	}
	if d := c.MTASTS.MaxAge.Duration; d < time.Hour || d > 31557600*time.Second {
		return fmt.Errorf("mtasts.max_age: %s is not between an hour and a year (RFC 8461 §3.2)", d)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: %q is not text or json", c.Log.Format)
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return fmt.Errorf("tls.cert and tls.key: set both or neither")
	}
	if c.Listen.Admin != "" && !IsLoopback(c.Listen.Admin) && c.TLS.Cert == "" {
		return fmt.Errorf("listen.admin: %q is not a loopback address, so the admin needs TLS there: "+
			"set tls.cert and tls.key, or listen on 127.0.0.1", c.Listen.Admin)
	}
	if err := c.Outbound.validate(); err != nil {
		return err
	}
	if err := c.Checks.validate(); err != nil {
		return err
	}
	if err := c.Antispam.validate(); err != nil {
		return err
	}
	return c.DNS.validate()
}

func (l Listen) byKey() map[string]string {
	return map[string]string{
		"smtp": l.SMTP, "submission": l.Submission, "submissions": l.Submissions,
		"imap": l.IMAP, "imaps": l.IMAPS, "pop3": l.POP3, "pop3s": l.POP3S, "managesieve": l.ManageSieve, "http": l.HTTP,
		"admin": l.Admin,
	}
}

// IsLoopback reports whether a listen address ("host:port") stays on this
// machine (127.0.0.0/8, ::1, localhost); an empty host is every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Path resolves p against the config file's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	base := "."
	if c.path != "" {
		base = filepath.Dir(c.path)
	}
	return filepath.Join(base, p)
}

// DataPath resolves a path inside the data directory.
func (c *Config) DataPath(elem ...string) string {
	return filepath.Join(append([]string{c.Path(c.DataDir)}, elem...)...)
}

// DatabasePath is where the SQLite database lives.
func (c *Config) DatabasePath() string { return c.DataPath("postern.db") }

// BlobDir is where message bodies live.
func (c *Config) BlobDir() string { return c.DataPath("blobs") }

// File returns the path the config was loaded from ("" if parsed from text).
func (c *Config) File() string { return c.path }

// Outbound configures the queue's delivery to other MTAs ([outbound]).
type Outbound struct {
	// Port is the TCP port of remote MX hosts; 25 except in tests.
	Port int `toml:"port"`
	// RelayHost ("host:port"), when set, is the smarthost every remote
	// message goes through instead of the recipients' MX hosts.
	RelayHost     string `toml:"relay_host"`
	RelayUsername string `toml:"relay_username"`
	RelayPassword Secret `toml:"relay_password"`
	// RelayTLS is "starttls" (required), "implicit" (TLS from the first
	// byte, port 465 style) or "none".
	RelayTLS string `toml:"relay_tls"`
	// FirstRetry is the delay after the first temporary failure; each
	// later one doubles it up to MaxRetryInterval.
	FirstRetry       Duration `toml:"first_retry"`
	MaxRetryInterval Duration `toml:"max_retry_interval"`
	// MaxAge is how long a message may stay queued before it bounces.
	MaxAge Duration `toml:"max_age"`
	// DelayWarning is the age at which the sender gets a delay DSN.
	DelayWarning Duration `toml:"delay_warning"`
	// MaxPerDomain caps concurrent connections to one destination;
	// MaxConnections caps all outbound connections.
	MaxPerDomain   int      `toml:"max_per_domain"`
	MaxConnections int      `toml:"max_connections"`
	ConnectTimeout Duration `toml:"connect_timeout"`
	CommandTimeout Duration `toml:"command_timeout"`
	// MTASTS applies recipient domains' MTA-STS policies (RFC 8461);
	// MTASTSPort is their policy hosts' HTTPS port, 443 except in tests.
	MTASTS     bool `toml:"mta_sts"`
	MTASTSPort int  `toml:"mta_sts_port"`
	// DANE checks MX hosts' TLSA records (RFC 7672) when the [dns]
	// resolver validates DNSSEC.
	DANE bool `toml:"dane"`
	// TLSReports sends a daily TLS-RPT report (RFC 8460) of our outbound
	// TLS results to each recipient domain that publishes an address.
	TLSReports bool `toml:"tls_reports"`
}

func defaultOutbound() Outbound {
	return Outbound{
		Port:             25,
		RelayTLS:         "starttls",
		FirstRetry:       Duration{5 * time.Minute},
		MaxRetryInterval: Duration{2 * time.Hour},
		MaxAge:           Duration{120 * time.Hour}, // RFC 5321 §4.5.4.1: at least 4-5 days
		DelayWarning:     Duration{4 * time.Hour},
		MaxPerDomain:     10,
		MaxConnections:   100,
		ConnectTimeout:   Duration{30 * time.Second},
		CommandTimeout:   Duration{5 * time.Minute}, // RFC 5321 §4.5.3.2
		MTASTS:           true,
		MTASTSPort:       443,
		DANE:             true,
		TLSReports:       true,
	}
}

func (o Outbound) validate() error {
	if o.Port <= 0 || o.Port > 65535 {
		return fmt.Errorf("outbound.port: %d is not a TCP port", o.Port)
	}
	if o.MTASTSPort <= 0 || o.MTASTSPort > 65535 {
		return fmt.Errorf("outbound.mta_sts_port: %d is not a TCP port", o.MTASTSPort)
	}
	if o.RelayHost != "" {
		if _, port, err := net.SplitHostPort(o.RelayHost); err != nil || port == "" {
			return fmt.Errorf("outbound.relay_host: %q is not host:port", o.RelayHost)
		}
	}
	if (o.RelayUsername == "") != (o.RelayPassword == "") {
		return fmt.Errorf("outbound.relay_username and outbound.relay_password: set both or neither")
	}
	switch o.RelayTLS {
	case "starttls", "implicit":
	case "none":
		if o.RelayUsername != "" {
			return fmt.Errorf("outbound.relay_tls: \"none\" would send relay_password in the clear")
		}
	default:
		return fmt.Errorf("outbound.relay_tls: %q is not starttls, implicit or none", o.RelayTLS)
	}
	positive := []struct {
		key string
		v   int64
	}{
		{"outbound.first_retry", int64(o.FirstRetry.Duration)},
		{"outbound.max_retry_interval", int64(o.MaxRetryInterval.Duration)},
		{"outbound.max_age", int64(o.MaxAge.Duration)},
		{"outbound.delay_warning", int64(o.DelayWarning.Duration)},
		{"outbound.max_per_domain", int64(o.MaxPerDomain)},
		{"outbound.max_connections", int64(o.MaxConnections)},
		{"outbound.connect_timeout", int64(o.ConnectTimeout.Duration)},
		{"outbound.command_timeout", int64(o.CommandTimeout.Duration)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("%s: must be greater than zero", p.key)
		}
	}
	return nil
}

// Secret is a config string that `postern check` must not print.
type Secret string

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// MarshalText hides the value (it is only ever marshalled for display).
func (s Secret) MarshalText() ([]byte, error) {
	if s == "" {
		return []byte{}, nil
	}
	return []byte("(hidden)"), nil
}

// DNS configures the resolver of the outbound queue ([dns]).
type DNS struct {
	// Servers ("host:port") replace the system resolver when set.
	Servers []string `toml:"servers"`
}

func (d DNS) validate() error {
	for i, s := range d.Servers {
		host, port, err := net.SplitHostPort(s)
		if err != nil || net.ParseIP(host) == nil || port == "" {
			return fmt.Errorf("dns.servers[%d]: %q is not ip:port", i, s)
		}
	}
	return nil
}
