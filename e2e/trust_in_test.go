package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	_ "modernc.org/sqlite"

	"postern/internal/queue/queuetest"
)

// checksServer is a mail server whose inbound checks ask dnsAddr and
// defer on DNS failures, as a production server does.
func checksServer(t *testing.T, dnsAddr string, set map[string]any) *Server {
	t.Helper()
	all := map[string]any{"dns.servers": []string{dnsAddr}, "checks.dns_failure": "defer"}
	for k, v := range set {
		all[k] = v
	}
	return mailServer(t, all)
}

// wantRefusal checks that err is the SMTP reply code with its enhanced code.
func wantRefusal(t *testing.T, what string, err error, code int, enhanced smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != code || se.EnhancedCode != enhanced {
		t.Fatalf("%s: %v; want %d %d.%d.%d", what, err, code, enhanced[0], enhanced[1], enhanced[2])
	}
}

// TestInboundChecksForgedOwnDomain: the bug. Mail on port 25
// whose From is a local user and that nothing authenticates is refused;
// mail from elsewhere gets one Authentication-Results field of ours, and
// a field that claimed our name on the way in is gone.
func TestInboundChecksForgedOwnDomain(t *testing.T) {
	t.Parallel()
	d := queuetest.StartDNS(t)
	s := checksServer(t, d.Addr, nil)

	forged := uniq()
	err := sendSMTP(s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage(alice, alice, forged, "it is me, honest"))
	wantRefusal(t, "forged From of a local user", err, 550, smtp.EnhancedCode{5, 7, 1})
	if se := (*smtp.SMTPError)(nil); errors.As(err, &se) && !strings.Contains(se.Message, domain) {
		t.Errorf("reply %q does not name the domain", se.Message)
	}
	// A line that is no field before the From does not hide it.
	hidden := uniq()
	err = sendSMTP(s.Addr["smtp"], "x@remote.test", []string{alice}, "X-Junk without a colon\r\n"+testMessage(alice, alice, hidden, "it is me"))
	wantRefusal(t, "forged From after a line that is no field", err, 550, smtp.EnhancedCode{5, 7, 1})

	id := uniq()
	msg := "Authentication-Results: mx.example.test; dkim=pass header.d=example.test\r\n" +
		"Authentication-Results: other.example.net; spf=pass smtp.mailfrom=remote.test\r\n" +
		testMessage("x@remote.test", alice, id, "from elsewhere")
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{alice}, msg)

	msgs := fetchAll(t, s, alice, pass)
	if len(findByID(msgs, forged))+len(findByID(msgs, hidden)) != 0 {
		t.Errorf("a forged message was delivered")
	}
	got := findByID(msgs, id)
	if len(got) != 1 {
		t.Fatalf("the message from elsewhere: %d copies", len(got))
	}
	text := got[0].Text
	if n := strings.Count(text, "Authentication-Results: mx.example.test;"); n != 1 {
		t.Errorf("%d Authentication-Results fields of ours; want 1:\n%s", n, short(text))
	}
	if strings.Contains(text, "dkim=pass header.d=example.test") {
		t.Errorf("the field claiming our name survived:\n%s", short(text))
	}
	if !strings.Contains(text, "Authentication-Results: other.example.net;") {
		t.Errorf("another server's field was removed:\n%s", short(text))
	}
	for _, want := range []string{"spf=none smtp.mailfrom=x@remote.test", "dkim=none", "dmarc=none header.from=remote.test", "iprev=fail policy.iprev=127.0.0.1"} {
		if !strings.Contains(text, want) {
			t.Errorf("Authentication-Results lacks %q:\n%s", want, short(text))
		}
	}
	if strings.Index(text, "Authentication-Results: mx.example.test") > strings.Index(text, "Received:") {
		t.Errorf("our Authentication-Results is not on top:\n%s", short(text))
	}
}

// signedMessage signs msg with key as d=domain s=sel (go-msgauth, the
// library Postern signs with too, but with its own key here).
func signedMessage(t *testing.T, msg, domain, sel string, key ed25519.PrivateKey) string {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: sel, Signer: key,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"}})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestInboundChecksSignedMail: mail signed with a key the test DNS
// publishes passes DKIM and DMARC and says so; the same mail unsigned is
// refused under p=reject; a p=quarantine failure lands in Junk; the
// admin's trace shows the results.
func TestInboundChecksSignedMail(t *testing.T) {
	t.Parallel()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	d := queuetest.StartDNS(t)
	d.Add(t,
		`e2e._domainkey.sender.test. 300 TXT "v=DKIM1; k=ed25519; p=`+base64.StdEncoding.EncodeToString(pub)+`"`,
		`sender.test. 300 TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`_dmarc.sender.test. 300 TXT "v=DMARC1; p=reject; rua=mailto:dmarc@sender.test"`,
		`_dmarc.junk.test. 300 TXT "v=DMARC1; p=quarantine"`,
	)
	s := checksServer(t, d.Addr, nil)

	id := uniq()
	signed := signedMessage(t, testMessage("news@sender.test", alice, id, "signed"), "sender.test", "e2e", key)
	mustSend(t, s.Addr["smtp"], "bounces@sender.test", []string{alice}, signed)
	got := findByID(fetchAll(t, s, alice, pass), id)
	if len(got) != 1 {
		t.Fatalf("signed message: %d copies", len(got))
	}
	for _, want := range []string{"spf=fail", "dkim=pass header.d=sender.test header.s=e2e", "dmarc=pass (p=reject dis=none) header.from=sender.test"} {
		if !strings.Contains(got[0].Text, want) {
			t.Errorf("Authentication-Results lacks %q:\n%s", want, short(got[0].Text))
		}
	}

	unsigned := uniq()
	err := sendSMTP(s.Addr["smtp"], "bounces@sender.test", []string{alice}, testMessage("news@sender.test", alice, unsigned, "unsigned"))
	wantRefusal(t, "unsigned, p=reject", err, 550, smtp.EnhancedCode{5, 7, 1})
	tampered := strings.Replace(signed, "signed\r\n", "changed\r\n", 1)
	err = sendSMTP(s.Addr["smtp"], "bounces@sender.test", []string{alice}, tampered)
	wantRefusal(t, "body changed after signing, p=reject", err, 550, smtp.EnhancedCode{5, 7, 1})

	junk := uniq()
	mustSend(t, s.Addr["smtp"], "x@junk.test", []string{alice}, testMessage("x@junk.test", alice, junk, "quarantine me"))
	if len(findByID(fetchAll(t, s, alice, pass), junk)) != 0 {
		t.Errorf("the quarantined message is in INBOX")
	}
	if n := junkCount(t, s); n != 1 {
		t.Errorf("Junk holds %d messages; want the quarantined one", n)
	}

	m := metricsText(t, s)
	for _, want := range []string{`postern_inbound_verdicts_total{action="accept"} 1`, `postern_inbound_verdicts_total{action="junk"} 1`,
		`postern_inbound_verdicts_total{action="reject"} 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "inbound"))
		}
	}

	trace := adminTrace(t, s, id+"@e2e.test")
	for _, want := range []string{"dkim=pass(sender.test)", "dmarc=pass(sender.test)"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q: %s", want, trace)
		}
	}

	// The DMARC evaluations reach the database by shutdown at the latest.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(s.Dir, "postern.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	counts := map[string]int{}
	rows, err := db.Query(`SELECT header_from, disposition, dkim, spf, messages FROM dmarc_counts WHERE source_ip = '127.0.0.1'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var from, dis, dk, sp string
		var n int
		if err := rows.Scan(&from, &dis, &dk, &sp, &n); err != nil {
			t.Fatal(err)
		}
		counts[from+" "+dis+" dkim="+dk+" spf="+sp] += n
	}
	rows.Close()
	want := map[string]int{"sender.test none dkim=pass spf=fail": 1, "sender.test reject dkim=fail spf=fail": 2,
		"junk.test quarantine dkim=fail spf=fail": 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("dmarc_counts %q = %d; want %d (all: %v)", k, counts[k], n, counts)
		}
	}
}

func junkCount(t *testing.T, s *Server) uint32 {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr["imap"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(alice, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("Junk", nil).Wait()
	if err != nil {
		t.Fatalf("SELECT Junk: %v", err)
	}
	return sel.NumMessages
}

// adminTrace logs in to the admin API as a new server administrator and
// returns the trace of key.
func adminTrace(t *testing.T, s *Server, key string) string {
	t.Helper()
	const adminPass = "a long admin password for the trace"
	s.CLI(adminPass+"\n", "admin", "add", "root", "--role", "server", "--password-stdin").mustOK(t)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + s.Addr["admin"]
	body, _ := json.Marshal(map[string]string{"username": "root", "password": adminPass})
	resp, err := hc.Post(base+"/admin/api/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin login: %s", resp.Status)
	}
	resp, err = hc.Get(base + "/admin/api/log/trace?key=" + key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("trace: %s %s", resp.Status, b)
	}
	return string(b)
}

// TestInboundChecksDNSDown: a DNS server that never answers leaves the
// verdict open: 451 4.4.3 within the budget, never a pass, never a 5xx.
func TestInboundChecksDNSDown(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	s := checksServer(t, pc.LocalAddr().String(), map[string]any{"checks.dns_timeout": "2s"})
	id := uniq()
	start := time.Now()
	err = sendSMTP(s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, id, "no DNS"))
	wantRefusal(t, "DNS down", err, 451, smtp.EnhancedCode{4, 4, 3})
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("the refusal took %v; the budget is 2s", el)
	}
	if len(findByID(fetchAll(t, s, alice, pass), id)) != 0 {
		t.Errorf("the message was delivered")
	}
}

// startDKIMPyMilter runs Debian's dkimpy-milter in the foreground,
// signing signer.test mail from 127.0.0.1 with an RSA-2048 key as
// selector pf, and returns its Postfix milter address and the key's DNS
// record.
func startDKIMPyMilter(t *testing.T) (milter, record string) {
	t.Helper()
	bin, err := exec.LookPath("dkimpy-milter")
	if err != nil {
		t.Fatal("dkimpy-milter is not installed: run scripts/deps.sh")
	}
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "pf.key")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	addr := env.freeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf("Syslog no\nMode s\nDomain signer.test\nSelector pf\nKeyFile %s\nSocket inet:%s@%s\nPidFile %s\nInternalHosts 127.0.0.1\n",
		keyFile, port, host, filepath.Join(dir, "pid"))
	confFile := filepath.Join(dir, "dkimpy-milter.conf")
	os.WriteFile(confFile, []byte(conf), 0o600)
	var out bytes.Buffer
	cmd := exec.Command(bin, confFile)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("dkimpy-milter output:\n%s", out.String())
		}
	})
	waitFor(t, 20*time.Second, "dkimpy-milter to listen", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	rec := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	return "inet:" + addr, `"` + rec[:200] + `" "` + rec[200:] + `"`
}

// TestInboundChecksPostfixDKIMPy: mail signed by a real Postfix through
// dkimpy-milter (Python's DKIM, not go-msgauth) and relayed to port 25
// verifies, and DMARC passes on the signature alone.
func TestInboundChecksPostfixDKIMPy(t *testing.T) {
	t.Parallel()
	milter, rec := startDKIMPyMilter(t)
	d := queuetest.StartDNS(t)
	d.Add(t,
		`pf._domainkey.signer.test. 300 TXT `+rec,
		`signer.test. 300 TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`_dmarc.signer.test. 300 TXT "v=DMARC1; p=reject"`,
	)
	s := checksServer(t, d.Addr, nil)
	_, pfPort := startPostfixWith(t, fmt.Sprintf("relayhost = [127.0.0.1]:%d\nsmtpd_milters = %s\nmilter_default_action = tempfail\nsmtp_tls_security_level = none\n",
		port(t, s.Addr["smtp"]), milter))
	id := uniq()
	mustSend(t, fmt.Sprintf("127.0.0.1:%d", pfPort), "news@signer.test", []string{alice}, testMessage("news@signer.test", alice, id, "through postfix"))
	var got []popMessage
	waitFor(t, 30*time.Second, "the message relayed by Postfix", func() bool {
		got = findByID(fetchAll(t, s, alice, pass), id)
		return len(got) == 1
	})
	for _, want := range []string{"DKIM-Signature:", "dkim=pass header.d=signer.test header.s=pf", "dmarc=pass (p=reject dis=none) header.from=signer.test", "spf=fail"} {
		if !strings.Contains(got[0].Text, want) {
			t.Errorf("lacks %q:\n%s", want, short(got[0].Text))
		}
	}
}

// TestInboundChecksARCForward: mail forwarded by an alias of one Postern
// into a second carries an ARC set of the alias's domain, sealed over the
// first's results, and the second verifies the chain.
func TestInboundChecksARCForward(t *testing.T) {
	t.Parallel()
	dns := queuetest.StartDNS(t)
	b := startServer(t, Options{Hostname: "mx.remote.test", Domains: []string{"remote.test"},
		Users: map[string]string{"bob@remote.test": "bob-pass-1"},
		Set:   map[string]any{"dns.servers": []string{dns.Addr}, "checks.dns_failure": "defer"}})
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1")
	a := senderServer(t, dns.Addr, port(t, b.Addr["smtp"]), map[string]any{"checks.dns_failure": "defer"})
	for _, line := range strings.Split(a.CLI("", "dns", "example.test").mustOK(t).Stdout, "\n") {
		if strings.Contains(line, "._domainkey.example.test.") {
			dns.Add(t, line) // the keys example.test seals with
		}
	}
	a.CLI("", "alias", "add", "team@example.test", "bob@remote.test").mustOK(t)

	id := uniq()
	mustSend(t, a.Addr["smtp"], "sender@ext.test", []string{"team@example.test"}, testMessage("sender@ext.test", "team@example.test", id, "forwarded"))
	var got []popMessage
	waitFor(t, 30*time.Second, "the forwarded message", func() bool {
		got = findByID(fetchAll(t, b, "bob@remote.test", "bob-pass-1"), id)
		return len(got) == 1
	})
	text := got[0].Text
	for _, want := range []string{
		"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.test;",
		"ARC-Authentication-Results: i=1; mx.example.test;",
		"Authentication-Results: mx.remote.test;",
		"arc=pass",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("forwarded copy lacks %q:\n%s", want, short(text))
		}
	}
}
