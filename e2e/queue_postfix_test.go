package e2e

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/queue/queuetest"
)

// startPostfix runs a private Postfix (its own config and queue directory,
// SMTP on a loopback port, STARTTLS with a self-signed certificate) that
// delivers every @pf.test recipient into one Maildir, returned with the
// SMTP port. It needs root, as Postfix switches to its own users.
func startPostfix(t *testing.T) (maildir string, smtpPort int) {
	t.Helper()
	return startPostfixWith(t, "")
}

// startPostfixWith is startPostfix with more main.cf lines (a relayhost,
// milters).
func startPostfixWith(t *testing.T, extraMainCF string) (maildir string, smtpPort int) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatal("Postfix needs root (scripts/deps.sh installs it; run the e2e tests as root)")
	}
	bin, err := exec.LookPath("postfix")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/postfix"); err != nil {
			t.Fatal("postfix is not installed: run scripts/deps.sh")
		}
	}
	dir, err := os.MkdirTemp("", "postern-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // Postfix's daemons run as postfix and nobody
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"queue", "data", "mail"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	run := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("chown", "postfix", filepath.Join(dir, "data"))
	run("chown", nobody.Uid+":"+nobody.Gid, filepath.Join(dir, "mail"))
	writePEM(t, dir)
	var addr string
	for attempt := 1; ; attempt++ {
		addr = env.freeAddr(t)
		err := writeAndStartPostfix(bin, dir, addr, nobody, extraMainCF)
		if err == nil {
			break
		}
		if attempt >= 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("postfix: port collision, retrying")
	}
	smtpPort = port(t, addr)
	t.Cleanup(func() {
		exec.Command(bin, "-c", dir, "stop").Run()
		// Wait for the master to go, so its port and directory are free.
		for i := 0; i < 50 && exec.Command(bin, "-c", dir, "status").Run() == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "postfix.log"))
			t.Logf("postfix log:\n%s", tail(string(log), 8<<10))
		}
	})
	waitFor(t, 20*time.Second, "postfix to listen", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return filepath.Join(dir, "mail", "box"), smtpPort
}

// writeAndStartPostfix writes main.cf and master.cf and starts Postfix.
func writeAndStartPostfix(bin, dir, addr string, nobody *user.User, extraMainCF string) error {
	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-e2e
maillog_file = %[1]s/postfix.log
maillog_file_prefixes = %[1]s
myhostname = mx.pf.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
virtual_mailbox_domains = pf.test
virtual_mailbox_base = %[1]s/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:%[2]s
virtual_gid_maps = static:%[3]s
virtual_minimum_uid = 1
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_tls_security_level = may
smtpd_tls_chain_files = %[1]s/key.pem, %[1]s/cert.pem
smtputf8_enable = yes
`, dir, nobody.Uid, nobody.Gid) + extraMainCF
	masterCF := addr + ` inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCF), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "master.cf"), []byte(masterCF), 0o644); err != nil {
		return err
	}
	// Postfix reports start-up errors only to syslog unless it has a
	// terminal: script(1) gives it one.
	start := exec.Command(bin, "-c", dir, "start")
	if _, err := exec.LookPath("script"); err == nil {
		start = exec.Command("script", "-qec", bin+" -c "+dir+" start", "/dev/null")
	}
	if out, err := start.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postfix.log"))
		return fmt.Errorf("postfix start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

// writePEM writes a self-signed certificate for mx.pf.test.
func writePEM(t *testing.T, dir string) {
	cert, _, err := queuetest.SelfSigned("mx.pf.test")
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644)
}

// TestQueueToPostfix: Postern's queue delivers to a real Postfix found
// through MX records, over STARTTLS, with an SMTPUTF8 message too.
func TestQueueToPostfix(t *testing.T) {
	maildir, pfPort := startPostfix(t)
	dns := queuetest.StartDNS(t)
	dns.Add(t, "pf.test. MX 10 mx.pf.test.", "mx.pf.test. A 127.0.0.1")
	a := senderServer(t, dns.Addr, pfPort, nil)
	id1, id2 := uniq(), uniq()
	mustSubmit(t, a, "alice@example.test", "alice-pass-1", []string{"pat@pf.test", "sam@pf.test"}, testMessage("alice@example.test", "pat@pf.test", id1, "to postfix"))
	utf8 := strings.Replace(testMessage("alice@example.test", "pat@pf.test", id2, "Grüße"), "Subject: test", "Subject: Grüße test", 1)
	mustSubmit(t, a, "alice@example.test", "alice-pass-1", []string{"pat@pf.test"}, utf8)
	found := map[string]string{}
	waitFor(t, 30*time.Second, "Postfix to deliver both messages", func() bool {
		files, _ := filepath.Glob(filepath.Join(maildir, "new", "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			for _, id := range []string{id1, id2} {
				if strings.Contains(string(b), "END-OF-MESSAGE "+id) {
					found[id] = string(b)
				}
			}
		}
		return len(found) == 2
	})
	if !strings.Contains(found[id1], "Delivered-To: ") || !strings.Contains(found[id1], "by mx.pf.test (Postfix) with ESMTPS") {
		t.Errorf("Postfix's copy lacks its delivery headers:\n%s", tail(found[id1], 2000))
	}
	if !strings.Contains(found[id2], "Subject: Grüße test") {
		t.Errorf("the UTF-8 subject did not survive:\n%s", found[id2])
	}
	line, ok := a.WaitLog(5*time.Second, "msg=relayed", "peer=mx.pf.test")
	if !ok || !strings.Contains(line, "tls=true") {
		t.Fatalf("relayed line: %q", line)
	}
}
