// Command postern is the whole mail server and its administration tool.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"postern/internal/app"
	"strings"
)

const usageText = `Postern: one mail server (SMTP, submission, IMAP, POP3, local delivery).

Usage:
  postern [-c FILE] COMMAND [ARGS]

Commands:
  init     write a config, create the database and a self-signed certificate
  dev      run a development server on loopback with a demo account
  serve    run the server (SIGTERM/SIGINT: graceful stop, SIGHUP: reload)
  check    validate the config file and print the effective settings
  domain   add, list, delete domains; set a catch-all
  user     add, list, show, delete, disable, enable accounts; set passwords and quotas;
           import accounts from CSV (user import FILE|- [--dry-run]);
           app passwords (user app-password add|list|del)
  alias    add, list, delete aliases
  queue    list, show, retry, drop, hold, release outbound messages
  dkim     rotate or list a domain's DKIM signing keys
  sieve    list, get, put, check, activate, rename, del an account's Sieve scripts; global before/after scripts
  vacation show or set an account's vacation response (on|off, --from, --to, --subject, --text)
  admin    add, list, delete administrators of the admin API; set or clear their TOTP
  auth     show the running server's throttled login sources (status); lift one (unblock ADDRESS|IP)
  dns      print the DNS records a domain needs, in zone-file syntax;
           dns check DOMAIN compares them with what DNS publishes
  compact  reclaim the disk space of deleted mail now (--full: all of it)
  backup   copy the mail, the database and the keys to a new directory, while the server runs
  import   import maildir ACCOUNT DIR: bring an account's mail from a Maildir++ tree (Dovecot, Courier)
  reports  list the TLS-RPT and DMARC aggregate reports received about our domains
  version  print the version

Every command takes --help. The config file defaults to $POSTERN_CONFIG,
else /etc/postern/postern.toml.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError marks a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	app.Version = version
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env carries the global flags and the standard streams to a command.
type env struct {
	configPath string
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
}

type command struct {
	name string
	run  func(e *env, args []string) error
}

func commands() []command {
	return []command{
		{"init", cmdInit},
		{"dev", cmdDev},
		{"serve", cmdServe},
		{"check", cmdCheck},
		{"domain", cmdDomain},
		{"user", cmdUser},
		{"alias", cmdAlias},
		{"queue", cmdQueue},
		{"dkim", cmdDKIM},
		{"sieve", cmdSieve},
		{"vacation", cmdVacation},
		{"admin", cmdAdmin},
		{"auth", cmdAuth},
		{"dns", cmdDNS},
		{"compact", cmdCompact},
		{"backup", cmdBackup},
		{"import", cmdImport},
		{"reports", cmdReports},
		{"version", func(e *env, _ []string) error { fmt.Fprintln(e.stdout, "postern", version); return nil }},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("postern", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultConfig := os.Getenv("POSTERN_CONFIG")
	if defaultConfig == "" {
		defaultConfig = "/etc/postern/postern.toml"
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	fs.StringVar(&e.configPath, "c", defaultConfig, "config `FILE`")
	fs.Usage = func() { fmt.Fprint(stderr, usageText) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	for _, c := range commands() {
		if c.name == rest[0] {
			return exitCode(stderr, c.run(e, rest[1:]))
		}
	}
	fmt.Fprintf(stderr, "postern: unknown command %q (see postern --help)\n", rest[0])
	return 2
}

func exitCode(stderr io.Writer, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "postern: %s\n", oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// newFlags returns a flag set for a subcommand whose --help prints usage.
func newFlags(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: %s\n", usage)
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(e.stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses flags anywhere among args (so `user add X --password-stdin`
// works) and returns the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func wantArgs(fs *flag.FlagSet, args []string, n int) error {
	if len(args) != n {
		fs.Usage()
		return usageError{fmt.Sprintf("%s: expected %d argument(s), got %d", fs.Name(), n, len(args))}
	}
	return nil
}
