package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"

	"github.com/BurntSushi/toml"

	"postern/internal/admin"
	"postern/internal/app"
	"postern/internal/config"
)

const configHeader = `# Postern configuration. Every key is described in the README
# ("Config reference"). Paths are relative to this file's directory.
`

func cmdInit(e *env, args []string) error {
	fs := newFlags(e, "init", "postern init --dir DIR --hostname HOST [--dev]")
	dir := fs.String("dir", "", "data and config `DIR` (created if missing)")
	hostname := fs.String("hostname", "", "the server's fully qualified host `NAME`")
	dev := fs.Bool("dev", false, "development settings: 127.0.0.1, dev ports, plaintext auth on loopback")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0); err != nil {
		return err
	}
	if *dir == "" || *hostname == "" {
		fs.Usage()
		return usageError{"init: --dir and --hostname are required"}
	}
	path, err := initDir(*dir, *hostname, *dev)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", path)
	return nil
}

// initDir writes DIR/postern.toml, the database and a self-signed
// certificate, and returns the config path. An existing config is an error.
func initDir(dir, hostname string, dev bool) (string, error) {
	path := filepath.Join(dir, "postern.toml")
	if _, err := os.Stat(path); err == nil {
		return "", fmt.Errorf("%s already exists", path)
	}
	cfg := config.Default()
	cfg.Hostname = hostname
	if dev {
		cfg.Listen = config.DevListen()
		cfg.Auth.AllowPlaintextLoopback = true
		// A dev server may have no DNS: its mail is checked, and delivered
		// with temperror results rather than deferred forever.
		cfg.Checks.DNSFailure = "accept"
	}
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(configHeader)
	if err := toml.NewEncoder(&b).Encode(cfg); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o640); err != nil {
		return "", err
	}
	loaded, err := config.Load(path)
	if err != nil {
		return "", err
	}
	if err := app.GenerateSelfSigned(hostname, loaded.Path(loaded.TLS.Cert), loaded.Path(loaded.TLS.Key)); err != nil {
		return "", fmt.Errorf("generating certificate: %w", err)
	}
	backend, err := app.OpenBackend(context.Background(), loaded, discardLogger())
	if err != nil {
		return "", err
	}
	return path, backend.Close()
}

func cmdCheck(e *env, args []string) error {
	fs := newFlags(e, "check", "postern -c FILE check")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0); err != nil {
		return err
	}
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "# %s is valid; effective settings:\n", e.configPath)
	return toml.NewEncoder(e.stdout).Encode(cfg)
}

func cmdServe(e *env, args []string) error {
	fs := newFlags(e, "serve", "postern -c FILE serve")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0); err != nil {
		return err
	}
	return serve(e, e.configPath, nil)
}

// serve runs the server until SIGTERM or SIGINT; ready, if set, is called
// once every listener is open.
func serve(e *env, path string, ready func(*config.Config)) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	logger, level := newLogger(e, cfg)
	raiseOpenFiles(logger)
	if path := os.Getenv("POSTERN_CPUPROFILE"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	backend, err := app.OpenBackend(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer backend.Close()
	a, err := app.New(cfg, backend, logger, level)
	if err != nil {
		return err
	}
	if err := a.Listen(); err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	// Start-up work (the auth service's dummy argon2id hash, migrations)
	// leaves garbage that would sit in RSS until the scavenger gets to it.
	debug.FreeOSMemory()
	logger.Info("postern started", "version", version, "hostname", cfg.Hostname, "config", path, "pid", os.Getpid())
	if ready != nil {
		ready(cfg)
	}
	return a.Run(ctx, reload)
}

// startCPUProfile writes a pprof CPU profile of the whole run, for
// developers measuring where time goes (make bench). SIGUSR1 closes the
// profile so far and starts the next one in PATH.1, PATH.2, ...: a
// benchmark compares the cost of its first and last windows that way.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		for part := 1; ; part++ {
			select {
			case <-done:
				return
			case <-usr1:
			}
			mu.Lock()
			pprof.StopCPUProfile()
			f.Close()
			next, err := os.Create(fmt.Sprintf("%s.%d", path, part))
			if err == nil {
				if err = pprof.StartCPUProfile(next); err != nil {
					next.Close()
				}
			}
			f = next
			mu.Unlock()
			if err != nil {
				slog.Error("cpu profile", "err", err)
				return
			}
		}
	}()
	return func() {
		signal.Stop(usr1)
		close(done)
		mu.Lock()
		defer mu.Unlock()
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func newLogger(e *env, cfg *config.Config) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(app.ParseLevel(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(e.stderr, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(e.stderr, opts)
	}
	return slog.New(h), level
}

func discardLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

const (
	devDomain  = "example.test"
	devAccount = "demo@example.test"
)

func cmdDev(e *env, args []string) error {
	fs := newFlags(e, "dev", "postern dev [--dir DIR]")
	dir := fs.String("dir", "postern-dev", "data and config `DIR`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0); err != nil {
		return err
	}
	path := filepath.Join(*dir, "postern.toml")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if _, err := initDir(*dir, "mail.example.test", true); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created %s\n", path)
	}
	password, err := devSetup(e, path)
	if err != nil {
		return err
	}
	shown := false
	err = serve(e, path, func(cfg *config.Config) {
		printDevBanner(e, path, cfg, password)
		shown = true
	})
	if err != nil && password != "" && !shown {
		// The account exists now: its password must not be lost with the
		// failed start.
		fmt.Fprintf(e.stdout, "account: %s  password: %s  (shown once; the server did not start)\n", devAccount, password)
	}
	return err
}

// devSetup creates the demo domain and account when missing and returns
// the account's new password ("" when the account already existed).
func devSetup(e *env, path string) (string, error) {
	de := *e // dev's config is the one in --dir, whatever -c says
	de.configPath = path
	var password string
	err := withService(&de, func(ctx context.Context, svc *admin.Service) error {
		if _, err := svc.AddDomain(ctx, devDomain); err != nil && admin.KindOf(err) != admin.KindExists {
			return err
		}
		_, err := svc.Account(ctx, devAccount)
		if admin.KindOf(err) != admin.KindNotFound {
			return err
		}
		_, password, err = svc.AddAccount(ctx, devAccount, admin.NewPassword{Generate: true})
		return err
	})
	return password, err
}

func printDevBanner(e *env, path string, cfg *config.Config, password string) {
	l := cfg.Listen
	fmt.Fprintf(e.stdout, "\nPostern dev server (config %s)\n", path)
	fmt.Fprintf(e.stdout, "  SMTP %s  submission %s  submissions %s\n", l.SMTP, l.Submission, l.Submissions)
	fmt.Fprintf(e.stdout, "  IMAP %s  IMAPS %s  POP3 %s  POP3S %s  ManageSieve %s\n", l.IMAP, l.IMAPS, l.POP3, l.POP3S, l.ManageSieve)
	if l.HTTP != "" {
		fmt.Fprintf(e.stdout, "  Webmail http://%s/\n", l.HTTP)
		fmt.Fprintf(e.stdout, "  JMAP http://%s/.well-known/jmap\n", l.HTTP)
	}
	if l.Admin != "" {
		scheme := "https"
		if config.IsLoopback(l.Admin) {
			scheme = "http"
		}
		fmt.Fprintf(e.stdout, "  Admin API %s://%s/admin/api/  (create an administrator: postern -c %s admin add NAME --role server)\n",
			scheme, l.Admin, path)
	}
	if password != "" {
		fmt.Fprintf(e.stdout, "  account: %s  password: %s  (shown once)\n\n", devAccount, password)
	} else {
		fmt.Fprintf(e.stdout, "  account: %s (password set earlier; reset with: postern -c %s user passwd %s)\n\n",
			devAccount, path, devAccount)
	}
}
