// Package bench holds benchmarks of the real postern binary on loopback.
// They print figures (b.ReportMetric); compare them with Postfix + Dovecot and
// maddy through ../shared/bench (make bench-compare), never in a pass/fail test.
package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// postern builds the binary once per run.
func postern(b *testing.B) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "postern-bench-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "postern")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/postern").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return binPath
}

type server struct {
	b                      *testing.B
	dir, cfg               string
	cmd                    *exec.Cmd
	smtp, pop3, imap, subm string
	http                   string // "" unless a benchmark turns it on
	// appPass is bench1's app password where a benchmark logs in thousands
	// of times (startIMAPServer): it is checked by a digest and never
	// rehashed, where a password login upgrades the cheap hash to the
	// full argon2id cost at the first login.
	appPass string
	// cpuProfile, when set, is where `postern serve` writes its CPU
	// profile (POSTERN_CPUPROFILE), for a benchmark with several servers.
	cpuProfile string
	// stop ends the server (once; cleanup does it anyway), so that its
	// background work leaves the next measurement alone.
	stop func()
}

func freePort(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *server) run(args ...string) string {
	cmd := exec.Command(postern(s.b), append([]string{"-c", s.cfg}, args...)...)
	cmd.Stdin = strings.NewReader("benchpass\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.b.Fatalf("postern %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// startServer initialises a data dir with users bench1..benchN and serves.
func startServer(b *testing.B, users int) *server {
	s := initServer(b, nil)
	s.run("domain", "add", "bench.test")
	for i := 1; i <= users; i++ {
		s.run("user", "add", fmt.Sprintf("bench%d@bench.test", i), "--password-stdin")
	}
	s.serve(s.smtp, s.pop3)
	return s
}

// initServer runs `postern init --dev` in a temp dir, gives every listener
// a free loopback port (the TLS-only ones, HTTP and the admin API off), and
// lets edit change the config text further before it is written.
func initServer(b *testing.B, edit func(text string) string) *server {
	dir := b.TempDir()
	out, err := exec.Command(postern(b), "init", "--dir", dir, "--hostname", "mx.bench.test", "--dev").CombinedOutput()
	if err != nil {
		b.Fatalf("init: %v\n%s", err, out)
	}
	s := &server{b: b, dir: dir, cfg: filepath.Join(dir, "postern.toml"),
		smtp: freePort(b), pop3: freePort(b), imap: freePort(b), subm: freePort(b)}
	raw, err := os.ReadFile(s.cfg)
	if err != nil {
		b.Fatal(err)
	}
	text := setListen(string(raw), map[string]string{
		"smtp": s.smtp, "submission": s.subm, "submissions": "", "imap": s.imap,
		"imaps": "", "pop3": s.pop3, "pop3s": "", "managesieve": "", "http": "",
		// Off too: its default port, 8081, may be another server's.
		"admin": "",
	})
	if edit != nil {
		text = edit(text)
	}
	if err := os.WriteFile(s.cfg, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	return s
}

// serve starts `postern serve` (passing POSTERN_CPUPROFILE on), stops it at
// cleanup (showing its log if the benchmark failed), and waits for ports.
func (s *server) serve(ports ...string) {
	b := s.b
	s.cmd = exec.Command(postern(b), "-c", s.cfg, "serve")
	if s.cpuProfile != "" {
		s.cmd.Env = append(os.Environ(), "POSTERN_CPUPROFILE="+s.cpuProfile)
	}
	logf, err := os.Create(filepath.Join(s.dir, "serve.log"))
	if err != nil {
		b.Fatal(err)
	}
	s.cmd.Stderr, s.cmd.Stdout = logf, logf
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s.stop = sync.OnceFunc(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		_ = s.cmd.Wait()
		logf.Close()
		if b.Failed() {
			log, _ := os.ReadFile(logf.Name())
			b.Logf("serve.log:\n%s", log)
		}
	})
	b.Cleanup(s.stop)
	for _, p := range ports {
		waitPort(b, p)
	}
}

// setListen rewrites the [listen] table of a config written by init.
func setListen(text string, keys map[string]string) string {
	lines := strings.Split(text, "\n")
	in := false
	for i, ln := range lines {
		t := strings.TrimSpace(ln)
		if strings.HasPrefix(t, "[") {
			in = t == "[listen]"
			continue
		}
		if !in {
			continue
		}
		k, _, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		if v, found := keys[strings.TrimSpace(k)]; found {
			lines[i] = fmt.Sprintf("%s = %q", strings.TrimSpace(k), v)
		}
	}
	return strings.Join(lines, "\n")
}

func waitPort(b *testing.B, addr string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("server did not listen on %s", addr)
}

// procStats reads CPU seconds (user+system) and RSS/peak RSS in KiB.
func procStats(pid int) (cpu float64, rssKiB, peakKiB int64) {
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(raw)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseFloat(fields[11], 64)
		st, _ := strconv.ParseFloat(fields[12], 64)
		cpu = (ut + st) / 100 // USER_HZ is 100 on Linux
	}
	if f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			v, _ := strconv.ParseInt(fields[1], 10, 64)
			switch fields[0] {
			case "VmRSS:":
				rssKiB = v
			case "VmHWM:":
				peakKiB = v
			}
		}
	}
	return cpu, rssKiB, peakKiB
}
