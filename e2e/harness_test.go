package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// testEnv is what TestMain prepares once for every test: the binary built
// from this tree and a registry of handed-out ports, so that parallel
// servers in this process never pick the same one.
type testEnv struct {
	bin string

	mu    sync.Mutex
	ports map[string]bool
}

// env is set once by TestMain before any test runs and only read after.
var env *testEnv

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "postern-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "postern")
	args := []string{"build", "-o", bin}
	if os.Getenv("POSTERN_E2E_RACE") != "" {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "postern/cmd/postern")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building cmd/postern failed:", err)
		return 1
	}
	env = &testEnv{bin: bin, ports: map[string]bool{}}
	return m.Run()
}

// freeAddr returns a loopback address whose port was free a moment ago and
// has not been handed out before in this process.
func (e *testEnv) freeAddr(t testing.TB) string {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		addr := l.Addr().String()
		l.Close()
		e.mu.Lock()
		used := e.ports[addr]
		e.ports[addr] = true
		e.mu.Unlock()
		if !used {
			return addr
		}
	}
	t.Fatalf("no free port after 50 tries")
	return ""
}

// logBuffer collects a server's stdout and stderr; both pipes write to it
// from their own goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Options describe the server a test wants.
type Options struct {
	Hostname string
	// Domains are added with `domain add` before serve starts.
	Domains []string
	// Users (address → password) are added with `user add --password-stdin`.
	Users map[string]string
	// Set overrides config keys, by dotted path: "auth.allow_plaintext_loopback".
	Set map[string]any
	// Dev runs `postern dev --dir DIR` instead of `postern -c CONFIG serve`.
	Dev bool
}

// Server is one running postern on loopback ports with its own data dir.
type Server struct {
	t      testing.TB
	Dir    string // data dir, where postern init wrote the config
	Config string // path of postern.toml
	// Addr maps a [listen] key (smtp, pop3, ...) to its "host:port"; keys
	// switched off are absent.
	Addr map[string]string
	logs *logBuffer // stderr: the slog records
	out  *logBuffer // stdout
	dev  bool

	mu sync.Mutex
	// secrets are the passwords given to the server; none may be logged.
	secrets []string
	cmd     *exec.Cmd
	done    chan struct{}
	werr    error
}

// startServer initialises a data dir, configures it, adds domains and users
// through the CLI, starts serve and waits for its ports. Cleanup stops it.
func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Hostname == "" {
		opts.Hostname = defaultHostname
	}
	dir := t.TempDir()
	s := &Server{t: t, Dir: dir, Config: filepath.Join(dir, "postern.toml"), logs: &logBuffer{}, out: &logBuffer{}, dev: opts.Dev}
	runCLI(t, "", "init", "--dir", dir, "--hostname", opts.Hostname, "--dev").mustOK(t)
	for _, d := range opts.Domains {
		s.CLI("", "domain", "add", d).mustOK(t)
	}
	users := make([]string, 0, len(opts.Users))
	for u := range opts.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		s.AddUser(u, opts.Users[u])
	}
	t.Cleanup(func() {
		s.Stop()
		// With POSTERN_E2E_RACE=1 the binary has the race detector on.
		if strings.Contains(s.logs.String(), "WARNING: DATA RACE") {
			t.Errorf("the server reported a data race")
		}
		s.checkLogHygiene()
		if t.Failed() {
			t.Logf("server stdout:\n%s\nserver log (%s):\n%s", tail(s.out.String(), 4<<10), dir, tail(s.logs.String(), 64<<10))
		}
	})
	for attempt := 1; ; attempt++ {
		s.configure(opts.Set)
		err := s.startProcess()
		if err == nil {
			return s
		}
		if attempt >= 3 || !strings.Contains(s.logs.String(), "address already in use") {
			t.Fatalf("starting server: %v", err)
		}
		t.Logf("port collision, retrying (attempt %d)", attempt)
	}
}

// configure rewrites postern.toml: every [listen] key gets a fresh loopback
// port, then the overrides are applied.
func (s *Server) configure(set map[string]any) {
	t := s.t
	t.Helper()
	cfg := map[string]any{}
	if _, err := toml.DecodeFile(s.Config, &cfg); err != nil {
		t.Fatalf("reading config written by init: %v", err)
	}
	listen, _ := cfg["listen"].(map[string]any)
	if listen == nil {
		listen = map[string]any{}
	}
	for _, k := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "managesieve", "http"} {
		listen[k] = ""
	}
	s.Addr = map[string]string{}
	for k := range listen {
		// No test here speaks HTTP; the web tests start their own.
		if k == "http" {
			continue
		}
		listen[k] = env.freeAddr(t)
		s.Addr[k] = listen[k].(string)
	}
	cfg["listen"] = listen
	// The daily DMARC reports would look up every counted domain's record
	// after ten minutes; a test that wants them sets the key.
	setPath(cfg, "checks.dmarc_reports", false)
	for key, v := range set {
		setPath(cfg, key, v)
		if strings.HasPrefix(key, "listen.") {
			name := strings.TrimPrefix(key, "listen.")
			if str, _ := v.(string); str != "" {
				s.Addr[name] = str
			} else {
				delete(s.Addr, name)
			}
		}
	}
	writeTOML(t, s.Config, cfg)
}

// Edit changes keys of postern.toml in place (the ports stay), for a test
// that then reloads or restarts the server.
func (s *Server) Edit(set map[string]any) {
	t := s.t
	t.Helper()
	cfg := map[string]any{}
	if _, err := toml.DecodeFile(s.Config, &cfg); err != nil {
		t.Fatalf("reading config: %v", err)
	}
	for key, v := range set {
		setPath(cfg, key, v)
	}
	writeTOML(t, s.Config, cfg)
}

func setPath(cfg map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	m := cfg
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = v
}

func writeTOML(t testing.TB, path string, cfg map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		t.Fatalf("encoding config: %v", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startProcess starts `postern -c CONFIG serve` and waits until every
// listener accepts connections.
func (s *Server) startProcess() error {
	cmd := exec.Command(env.bin, "-c", s.Config, "serve")
	if s.dev {
		cmd = exec.Command(env.bin, "dev", "--dir", s.Dir)
	}
	cmd.Stdout, cmd.Stderr = s.out, s.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done, s.werr = cmd, done, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.werr = err
		s.mu.Unlock()
		close(done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for name, addr := range s.Addr {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				return fmt.Errorf("serve exited before listening on %s (%s): %v", name, addr, s.exitErr())
			default:
			}
			if time.Now().After(deadline) {
				s.Kill()
				return fmt.Errorf("listener %s (%s) not up after 30s", name, addr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func (s *Server) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.werr
}

// Running reports whether the serve process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the serve process.
func (s *Server) Signal(sig os.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// Wait waits up to d for the process to exit and returns its exit error;
// ok is false on timeout.
func (s *Server) Wait(d time.Duration) (err error, ok bool) {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return nil, true
	}
	select {
	case <-done:
		return s.exitErr(), true
	case <-time.After(d):
		return nil, false
	}
}

// Stop sends SIGTERM, waits up to 15 s, then SIGKILLs. It returns the exit
// error of a graceful stop, or an error saying it had to kill.
func (s *Server) Stop() error {
	if !s.Running() {
		return s.exitErr()
	}
	s.Signal(syscall.SIGTERM)
	if err, ok := s.Wait(15 * time.Second); ok {
		return err
	}
	s.Kill()
	return errors.New("server did not exit within 15s of SIGTERM; killed")
}

// Kill kills the process with SIGKILL (a crash) and waits for it.
func (s *Server) Kill() {
	if !s.Running() {
		return
	}
	s.Signal(syscall.SIGKILL)
	s.Wait(10 * time.Second)
}

// Restart starts serve again on the same data dir and ports after a Stop or
// Kill.
func (s *Server) Restart() {
	s.t.Helper()
	if s.Running() {
		s.t.Fatalf("Restart while running")
	}
	fmt.Fprintf(s.logs, "\n----- e2e: restart -----\n")
	if err := s.startProcess(); err != nil {
		s.t.Fatalf("restart: %v", err)
	}
}

// Logs returns everything serve has written to stderr so far.
func (s *Server) Logs() string { return s.logs.String() }

// Stdout returns everything serve has written to stdout so far.
func (s *Server) Stdout() string { return s.out.String() }

// WaitLog waits up to d for a log line containing every one of parts and
// returns it.
func (s *Server) WaitLog(d time.Duration, parts ...string) (string, bool) {
	deadline := time.Now().Add(d)
	for {
		for _, line := range strings.Split(s.Logs(), "\n") {
			if containsAll(line, parts) {
				return line, true
			}
		}
		if time.Now().After(deadline) {
			return "", false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// CLI runs `postern -c CONFIG args...` with stdin.
func (s *Server) CLI(stdin string, args ...string) cliResult {
	s.t.Helper()
	return runCLI(s.t, stdin, append([]string{"-c", s.Config}, args...)...)
}

// AddUser adds an account through the CLI.
func (s *Server) AddUser(addr, pass string) {
	s.t.Helper()
	s.AddSecret(pass)
	s.CLI(pass+"\n", "user", "add", addr, "--password-stdin").mustOK(s.t)
}

// AddSecret records a password the log must never contain.
func (s *Server) AddSecret(secret string) {
	s.mu.Lock()
	s.secrets = append(s.secrets, secret)
	s.mu.Unlock()
}

// checkLogHygiene fails the test if the log holds a password or message
// body text (every test body ends with an END-OF-MESSAGE trailer), or a
// line that is not a slog record.
func (s *Server) checkLogHygiene() {
	logs := s.Logs()
	s.mu.Lock()
	secrets := append([]string(nil), s.secrets...)
	s.mu.Unlock()
	for _, sec := range secrets {
		if strings.Contains(logs, sec) {
			s.t.Errorf("server log contains a password")
		}
	}
	if strings.Contains(logs, "END-OF-MESSAGE") {
		s.t.Errorf("server log contains message body text")
	}
	for _, l := range strings.Split(logs, "\n") {
		if l == "" || strings.HasPrefix(l, "----- e2e:") {
			continue
		}
		if !strings.HasPrefix(l, "time=") || !strings.Contains(l, " level=") || !strings.Contains(l, " msg=") {
			s.t.Errorf("server log line is not a slog text record: %q", short(l))
			return
		}
	}
}

type cliResult struct {
	Args           []string
	Stdout, Stderr string
	Code           int // exit code; -1 if killed by the timeout
}

// runCLI runs the binary with a 60 s limit.
func runCLI(t testing.TB, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliResult{Args: args, Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("running postern %v: %v", args, err)
	}
	return r
}

func (r cliResult) mustOK(t testing.TB) cliResult {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("postern %s: exit %d, stderr: %s", strings.Join(r.Args, " "), r.Code, r.Stderr)
	}
	return r
}

// mustFail asserts a non-zero exit with exactly one non-empty line on
// stderr, and returns that line.
func (r cliResult) mustFail(t testing.TB) string {
	t.Helper()
	if r.Code == 0 {
		t.Errorf("postern %s: exit 0, want non-zero (stdout %q)", strings.Join(r.Args, " "), r.Stdout)
		return ""
	}
	msg := strings.TrimRight(r.Stderr, "\n")
	if msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("postern %s: stderr should be one line, got %q", strings.Join(r.Args, " "), r.Stderr)
	}
	return msg
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// countFiles counts regular files under dir (0 if it does not exist),
// leaving out tmp/ directories where bodies are still being written.
func countFiles(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "tmp" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return n
}

// defaultHostname is the server's hostname (and its certificate's name)
// unless a test sets another.
const defaultHostname = "mx.example.test"
