package managesieve

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

// sieveConnect runs Debian's sieve-connect against the server with one
// action; the password goes through --passwordfd 3, never argv.
type sieveConnect struct {
	t    *testing.T
	bin  string
	addr string
	dir  string
}

func newSieveConnect(t *testing.T, addr string) *sieveConnect {
	t.Helper()
	bin, err := exec.LookPath("sieve-connect")
	if err != nil {
		if os.Getenv("POSTERN_REQUIRE_TOOLS") != "" {
			t.Fatalf("sieve-connect not installed (scripts/deps.sh): %v", err)
		}
		t.Skip("sieve-connect not installed; set POSTERN_REQUIRE_TOOLS to make this fatal")
	}
	return &sieveConnect{t: t, bin: bin, addr: addr, dir: t.TempDir()}
}

func (s *sieveConnect) run(password string, args ...string) (string, error) {
	s.t.Helper()
	host, port, _ := net.SplitHostPort(s.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pr, pw, err := os.Pipe()
	if err != nil {
		s.t.Fatal(err)
	}
	go func() {
		_, _ = pw.WriteString(password + "\n")
		pw.Close()
	}()
	base := []string{
		"--server", host, "--port", port, "--nosrv",
		"--user", "alice@x", "--passwordfd", "3",
		"--notlsverify",
	}
	cmd := exec.CommandContext(ctx, s.bin, append(base, args...)...)
	cmd.ExtraFiles = []*os.File{pr} // fd 3
	cmd.Dir = s.dir
	// No HOME config, no proxy surprises.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	pr.Close()
	return out.String(), err
}

func (s *sieveConnect) ok(args ...string) string {
	s.t.Helper()
	out, err := s.run("secret", args...)
	if err != nil {
		s.t.Fatalf("sieve-connect %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestSieveConnect(t *testing.T) {
	// STARTTLS with a self-signed certificate, no plaintext logins: the
	// client must upgrade, resync capabilities with its NOOP tag, then
	// AUTHENTICATE PLAIN with a literal initial response.
	// SCRAM is advertised too, as in production; Debian's Authen::SASL
	// has no SCRAM, so the client must still pick PLAIN.
	cred, err := auth.HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.New(dirOne{store.Account{ID: 1, Address: "alice@x", Credentials: cred}}, auth.Options{}, nil)
	e := startTLSServer(t, false, func(c *Config) { c.SCRAM = svc })
	sc := newSieveConnect(t, e.addr)

	script := "require \"fileinto\";\nif header :contains \"subject\" \"[list]\" {\n  fileinto \"Lists\";\n}\n"
	local := filepath.Join(sc.dir, "rules.sieve")
	if err := os.WriteFile(local, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}

	sc.ok("--upload", "--localsieve", local, "--remotesieve", "rules")
	if got, _ := e.scripts.get(1, "rules"); got != script {
		t.Fatalf("uploaded %q", got)
	}
	sc.ok("--checkscript", "--localsieve", local)
	sc.ok("--activate", "--remotesieve", "rules")
	if got := e.scripts.activeName(1); got != "rules" {
		t.Fatalf("active %q", got)
	}
	if out := sc.ok("--list"); !strings.Contains(out, `"rules" ACTIVE`) {
		t.Fatalf("--list:\n%s", out)
	}

	fetched := filepath.Join(sc.dir, "fetched.sieve")
	sc.ok("--download", "--remotesieve", "rules", "--localsieve", fetched)
	if got, err := os.ReadFile(fetched); err != nil || string(got) != script {
		t.Fatalf("downloaded %q, %v", got, err)
	}

	// The active script cannot be deleted; sieve-connect reports the NO.
	if out, err := sc.run("secret", "--delete", "--remotesieve", "rules"); err == nil && !strings.Contains(out, "ACTIVE") {
		t.Fatalf("deleting the active script:\n%s", out)
	}
	sc.ok("--deactivate")
	if got := e.scripts.activeName(1); got != "" {
		t.Fatalf("still active: %q", got)
	}
	sc.ok("--delete", "--remotesieve", "rules")
	if _, ok := e.scripts.get(1, "rules"); ok {
		t.Fatal("not deleted")
	}

	// An invalid script: the checker's message reaches the user.
	bad := filepath.Join(sc.dir, "bad.sieve")
	if err := os.WriteFile(bad, []byte("invalid;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := sc.run("secret", "--upload", "--localsieve", bad, "--remotesieve", "bad")
	if !strings.Contains(out, "line 3, column 5") {
		t.Fatalf("invalid upload:\n%s", out)
	}

	// A wrong password fails.
	if out, err := sc.run("wrong", "--list"); err == nil {
		t.Fatalf("wrong password accepted:\n%s", out)
	}
	if !strings.Contains(e.logs.String(), "mech=PLAIN tls=true") {
		t.Errorf("no TLS login in the log:\n%s", e.logs)
	}
}
