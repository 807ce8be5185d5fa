package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"postern/internal/dkim"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// relaySamples is how many of the messages the sink receives it keeps
// whole, to check their DKIM signatures after a run.
const relaySamples = 16

// openDKIM is a private OpenDKIM milter signing a domain's mail with one
// key. OpenDKIM 2.11 signs ed25519-sha256 (opendkim -V lists it), but its
// SignatureAlgorithm is one per filter: a key of the other type fails to
// load and the message is tempfailed. Signing as Postern does therefore
// takes two filters, chained in smtpd_milters.
type openDKIM struct {
	milter string            // Postfix's name of its socket: "unix:PATH" or "inet:IP:PORT"
	pid    int               // the filter's process: its CPU is part of Postfix's signing cost
	txt    map[string]string // selector._domainkey.domain -> key record
}

// startOpenDKIMs starts one filter per key of a fresh Postern-style key
// set (Ed25519 and RSA-2048), so the mail they pass carries both
// signatures.
func startOpenDKIMs(b *testing.B, domain string) []*openDKIM {
	keys, err := dkim.GenerateKeys(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var ds []*openDKIM
	for _, k := range keys {
		ds = append(ds, startOpenDKIM(b, domain, k))
	}
	return ds
}

// startOpenDKIM runs opendkim in the foreground with its own config
// (one domain, one key) in a temporary directory. It needs root, to hand
// the key to the opendkim user the filter switches to.
func startOpenDKIM(b *testing.B, domain string, key store.DKIMKey) *openDKIM {
	bin, err := exec.LookPath("opendkim")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/opendkim"); err != nil {
			b.Fatal("opendkim is not installed: run scripts/deps.sh")
		}
	}
	// Not b.TempDir: the filter runs as user opendkim and must traverse it.
	dir, err := os.MkdirTemp("", "postern-bench-opendkim-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	d := &openDKIM{txt: dkimTXT(b, []store.DKIMKey{key}, domain)}
	path := filepath.Join(dir, "dkim.key")
	if err := os.WriteFile(path, []byte(key.PrivateKeyPEM), 0o600); err != nil {
		b.Fatal(err)
	}
	// The key and the directory (where the filter makes its socket) are
	// the opendkim user's.
	if out, err := exec.Command("chown", "opendkim:opendkim", path, dir).CombinedOutput(); err != nil {
		b.Fatalf("chown: %v\n%s", err, out)
	}
	sock, dial := milterSocket(b, dir)
	// Signing only (Mode s) for mail from loopback (InternalHosts), with
	// Postern's canonicalisation and From oversigned as Postern does.
	conf := fmt.Sprintf(`Syslog no
Background no
UserID opendkim:opendkim
Mode s
Socket %s
UMask 0111
InternalHosts 127.0.0.1
Domain %s
Selector %s
KeyFile %s
SignatureAlgorithm %s
Canonicalization relaxed/relaxed
OversignHeaders From
# The key is the opendkim user's alone, but under /tmp, which anyone may
# write: the default check of every directory up the path refuses it.
RequireSafeKeys false
`, sock, domain, key.Selector, path, key.Algorithm)
	if err := os.WriteFile(filepath.Join(dir, "opendkim.conf"), []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	d.pid = runOpenDKIM(b, bin, dir)
	waitMilter(b, dial)
	d.milter = "unix:" + dial[1]
	if dial[0] == "tcp" {
		d.milter = "inet:" + dial[1]
	}
	return d
}

// milterSocket returns OpenDKIM's Socket setting and the network and
// address to dial it: a Unix socket in dir (Debian's default), or a
// loopback TCP port when POSTERN_MILTER_INET is set. Over TCP one run was
// five times slower at a fraction of the CPU (59 against 313 msgs/s, p50
// 134 ms against 25 ms per transaction), presumably Nagle and delayed ACKs
// on the milter protocol's small unanswered writes (the macros sent before
// each header): a Unix socket keeps that artefact out of the comparison.
func milterSocket(b *testing.B, dir string) (string, [2]string) {
	if os.Getenv("POSTERN_MILTER_INET") != "" {
		addr := freePort(b)
		_, port, _ := net.SplitHostPort(addr)
		return "inet:" + port + "@127.0.0.1", [2]string{"tcp", addr}
	}
	path := filepath.Join(dir, "opendkim.sock")
	return "local:" + path, [2]string{"unix", path}
}

// waitMilter waits up to 20 s for the filter to accept connections.
func waitMilter(b *testing.B, dial [2]string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout(dial[0], dial[1], time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("opendkim did not listen on %s", dial[1])
}

// runOpenDKIM starts the filter and stops it (SIGTERM, then SIGKILL after
// 10 s) at cleanup.
func runOpenDKIM(b *testing.B, bin, dir string) int {
	logf, err := os.Create(filepath.Join(dir, "opendkim.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-x", filepath.Join(dir, "opendkim.conf"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if b.Failed() {
			log, _ := os.ReadFile(logf.Name())
			b.Logf("opendkim output:\n%s", log)
		}
	})
	return cmd.Process.Pid
}

// dkimTXT maps each key's DNS name to its TXT record, for verifying.
func dkimTXT(b *testing.B, keys []store.DKIMKey, domain string) map[string]string {
	txt := map[string]string{}
	for _, k := range keys {
		v, err := dkim.TXTRecord(k)
		if err != nil {
			b.Fatal(err)
		}
		txt[dkim.RecordName(k, domain)] = v
	}
	return txt
}

// posternTXT reads a Postern data directory's active DKIM keys of domain.
func posternTXT(b *testing.B, dir, domain string) map[string]string {
	st, err := sqlstore.OpenDir(context.Background(), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	keys, err := st.DKIMKeys(context.Background(), domain, true)
	if err != nil {
		b.Fatal(err)
	}
	return dkimTXT(b, keys, domain)
}

// checkSigned fails the benchmark unless every message the sink kept
// carries a valid ed25519-sha256 and a valid rsa-sha256 signature by a key
// of txt, or, with txt nil, carries no signature at all: so a signing
// variant cannot pass by relaying unsigned mail.
func checkSigned(b *testing.B, sk *sink, txt map[string]string) {
	sk.mu.Lock()
	samples := sk.samples
	sk.mu.Unlock()
	if len(samples) == 0 {
		b.Fatal("sink kept no sample message")
	}
	lookup := func(name string) ([]string, error) {
		if v, ok := txt[name]; ok {
			return []string{v}, nil
		}
		return nil, fmt.Errorf("no TXT record %s", name)
	}
	for i, msg := range samples {
		vs, err := msgauth.VerifyWithOptions(bytes.NewReader(msg), &msgauth.VerifyOptions{LookupTXT: lookup})
		if err != nil {
			b.Fatalf("sample %d: %v", i, err)
		}
		if txt == nil {
			if len(vs) != 0 {
				b.Fatalf("sample %d: %d DKIM signatures, want none", i, len(vs))
			}
			continue
		}
		for _, v := range vs {
			if v.Err != nil {
				b.Fatalf("sample %d: signature by %s: %v", i, v.Domain, v.Err)
			}
		}
		// Every signature verified, so their a= tags are what was signed.
		if algs := sigAlgorithms(msg); len(vs) != 2 || algs != "ed25519-sha256,rsa-sha256" {
			b.Fatalf("sample %d: %d valid signatures (%s), want ed25519-sha256 and rsa-sha256", i, len(vs), algs)
		}
	}
	b.Logf("%d sampled messages: DKIM checked (signed=%v)", len(samples), txt != nil)
}

// sigAlgorithms returns the sorted a= tags of msg's DKIM-Signature fields,
// joined by commas.
func sigAlgorithms(msg []byte) string {
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	unfolded := strings.ReplaceAll(strings.ReplaceAll(string(head), "\r\n\t", " "), "\r\n ", " ")
	var algs []string
	for _, line := range strings.Split(unfolded, "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "DKIM-Signature") {
			continue
		}
		for _, t := range strings.Split(value, ";") {
			if k, v, _ := strings.Cut(t, "="); strings.TrimSpace(k) == "a" {
				algs = append(algs, strings.Join(strings.Fields(v), ""))
			}
		}
	}
	slices.Sort(algs)
	return strings.Join(algs, ",")
}
