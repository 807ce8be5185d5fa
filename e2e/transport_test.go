package e2e

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"postern/internal/queue/queuetest"
)

// trustRoots writes the certificates to a PEM file and makes it the only
// trusted roots of the servers started after (Go reads SSL_CERT_FILE).
func trustRoots(t *testing.T, certs ...tls.Certificate) {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	}
	path := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", path)
	t.Setenv("SSL_CERT_DIR", t.TempDir())
}

// TestOutboundMTASTSAndTLSReport: the real binary, a test DNS, an HTTPS
// policy server and two MX hosts. remote.test (enforce) has an MX whose
// certificate names another host: the message is deferred and never
// sent. good.test (enforce) has a valid MX: delivered. The TLS-RPT report
// of the day, sent on an administrator's request, reaches remote.test's
// report address with the failure in it.
func TestOutboundMTASTSAndTLSReport(t *testing.T) {
	bad := (&queuetest.Peer{Hostname: "other.name"}).Start(t)
	good := (&queuetest.Peer{Hostname: "mx.good.test", Listen: "127.0.0.2:" + strconv.Itoa(bad.Port)}).Start(t)
	policyCert, _, err := queuetest.SelfSigned("mta-sts.remote.test,mta-sts.good.test")
	if err != nil {
		t.Fatal(err)
	}
	policies := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.TrimPrefix(r.Host, "mta-sts.")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "version: STSv1\r\nmode: enforce\r\nmx: mx.%s\r\nmax_age: 86400\r\n", host)
	}))
	policies.TLS = &tls.Config{Certificates: []tls.Certificate{policyCert}}
	policies.StartTLS()
	defer policies.Close()
	_, policyPort, _ := net.SplitHostPort(policies.Listener.Addr().String())
	trustRoots(t, bad.Cert, good.Cert, policyCert)

	dns := queuetest.StartDNS(t)
	dns.Add(t,
		"remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1", "mta-sts.remote.test. A 127.0.0.1",
		`_mta-sts.remote.test. TXT "v=STSv1; id=1"`, `_smtp._tls.remote.test. TXT "v=TLSRPTv1; rua=mailto:tls-reports@good.test"`,
		"good.test. MX 10 mx.good.test.", "mx.good.test. A 127.0.0.2", "mta-sts.good.test. A 127.0.0.1",
		`_mta-sts.good.test. TXT "v=STSv1; id=7"`)
	port, _ := strconv.Atoi(policyPort)
	s := senderServer(t, dns.Addr, bad.Port, map[string]any{"outbound.mta_sts_port": port})

	mustSubmit(t, s, "alice@example.test", "alice-pass-1", []string{"bob@remote.test"},
		"From: alice@example.test\r\nTo: bob@remote.test\r\nSubject: secret\r\n\r\nover verified TLS only\r\n")
	mustSubmit(t, s, "alice@example.test", "alice-pass-1", []string{"carol@good.test"},
		"From: alice@example.test\r\nTo: carol@good.test\r\nSubject: hi\r\n\r\nhello\r\n")
	if _, ok := s.WaitLog(20*time.Second, "msg=deferred", "rcpt=bob@remote.test", "status=4.7.5", "MTA-STS"); !ok {
		t.Fatalf("no deferral for the bad certificate:\n%s", s.Logs())
	}
	if _, ok := s.WaitLog(20*time.Second, "msg=relayed", "rcpt=carol@good.test", "tls_verified=true"); !ok {
		t.Fatalf("not relayed to good.test:\n%s", s.Logs())
	}
	if m := bad.Mails(); len(m) != 0 {
		t.Fatalf("the MX with the bad certificate got %d messages", len(m))
	}
	if n := bad.Sessions(); n != 1 {
		t.Fatalf("the bad MX saw %d sessions, want 1 (no clear-text retry)", n)
	}

	ac := adminLogin(t, s, "root")
	var outbound struct {
		Results []struct {
			PolicyDomain string `json:"policy_domain"`
			Result       string
			Sessions     int64
		}
	}
	if code := ac.call("GET", "/admin/api/reports/tls/outbound", nil, &outbound); code != 200 {
		t.Fatalf("outbound results: %d", code)
	}
	counts := map[string]int64{}
	for _, r := range outbound.Results {
		counts[r.PolicyDomain+" "+r.Result] += r.Sessions
	}
	if counts["remote.test certificate-host-mismatch"] < 1 || counts["good.test success"] < 1 {
		t.Fatalf("outbound results %+v", outbound.Results)
	}
	var sent struct {
		Sent []struct {
			Domain string   `json:"domain"`
			To     []string `json:"to"`
		} `json:"sent"`
		Error string `json:"error"`
	}
	day := time.Now().UTC().Format("2006-01-02")
	if code := ac.call("POST", "/admin/api/reports/tls/send?day="+day, nil, &sent); code != 200 || len(sent.Sent) != 1 || sent.Sent[0].Domain != "remote.test" {
		t.Fatalf("send: %d %+v", code, sent)
	}
	waitFor(t, 20*time.Second, "the TLS report at good.test", func() bool { return len(good.Mails()) == 2 })
	if rm := good.Mails()[1].Body; !bytes.HasPrefix(rm, []byte("DKIM-Signature:")) || !bytes.Contains(rm[:400], []byte("d=example.test")) {
		t.Fatalf("report mail not DKIM-signed by example.test:\n%.400s", rm)
	}
	report := tlsReportOf(t, good.Mails()[1])
	if !strings.Contains(report, `"policy-domain":"remote.test"`) || !strings.Contains(report, `"result-type":"certificate-host-mismatch"`) ||
		!strings.Contains(report, `"total-failure-session-count":1`) {
		t.Fatalf("report %s", report)
	}
}

// tlsReportOf returns the JSON of the application/tlsrpt+gzip part.
func tlsReportOf(t *testing.T, m queuetest.Mail) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if mt != "multipart/report" || params["report-type"] != "tlsrpt" || m.From != "" {
		t.Fatalf("report mail from <%s>, %s %v", m.From, mt, params)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no application/tlsrpt+gzip part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "application/tlsrpt+gzip") {
			zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, p))
			if err != nil {
				t.Fatal(err)
			}
			js, _ := io.ReadAll(zr)
			return string(js)
		}
	}
}

const e2eDMARC = `<?xml version="1.0" encoding="UTF-8"?>
<feedback><report_metadata><org_name>receiver.test</org_name><email>dmarc@receiver.test</email>
<report_id>e2e-1</report_id><date_range><begin>1764892800</begin><end>1764979199</end></date_range></report_metadata>
<policy_published><domain>example.test</domain><p>quarantine</p></policy_published>
<record><row><source_ip>192.0.2.1</source_ip><count>4</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
<identifiers><header_from>example.test</header_from></identifiers><auth_results><spf><domain>example.test</domain><result>pass</result></spf></auth_results></record>
<record><row><source_ip>203.0.113.9</source_ip><count>2</count><policy_evaluated><disposition>quarantine</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
<identifiers><header_from>example.test</header_from></identifiers><auth_results><spf><domain>forger.test</domain><result>fail</result></spf></auth_results></record>
</feedback>`

// TestReceivedDMARCReport: a zipped DMARC aggregate report mailed to
// postmaster@ over port 25 is stored and shown by the admin API (to a
// server administrator and the domain's, not another domain's) and the
// CLI; the mail still reaches the postmaster's mailbox.
func TestReceivedDMARCReport(t *testing.T) {
	s := startServer(t, Options{Hostname: "mx.example.test", Domains: []string{"example.test", "other.test"},
		Users: map[string]string{"alice@example.test": "alice-pass-1"}, Set: map[string]any{"auth.allow_plaintext_loopback": true}})
	body := reportMail(t, "postmaster@example.test", e2eDMARC)
	for range 2 { // the second is the same report again: stored once
		if err := sendMX(s.Addr["smtp"], "dmarc@receiver.test", "postmaster@example.test", body); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := s.WaitLog(10*time.Second, "msg=\"report already stored\"", "report_id=e2e-1"); !ok {
		t.Fatalf("no report stored:\n%s", s.Logs())
	}
	type listing struct {
		Reports []struct {
			Domain, OrgName string
			ReportID        string `json:"report_id"`
			Total, Failed   int64
			Report          json.RawMessage
		}
	}
	var all listing
	root := adminLogin(t, s, "root")
	if code := root.call("GET", "/admin/api/reports/dmarc", nil, &all); code != 200 || len(all.Reports) != 1 {
		t.Fatalf("server admin: %d %+v", code, all)
	}
	r := all.Reports[0]
	if r.Domain != "example.test" || r.ReportID != "e2e-1" || r.Total != 6 || r.Failed != 2 || !bytes.Contains(r.Report, []byte("203.0.113.9")) {
		t.Fatalf("report %+v", r)
	}
	var mine, theirs listing
	own := adminLogin(t, s, "exadmin", "example.test")
	if code := own.call("GET", "/admin/api/reports/dmarc", nil, &mine); code != 200 || len(mine.Reports) != 1 {
		t.Fatalf("domain admin: %d %+v", code, mine)
	}
	other := adminLogin(t, s, "otheradmin", "other.test")
	if code := other.call("GET", "/admin/api/reports/dmarc", nil, &theirs); code != 200 || len(theirs.Reports) != 0 {
		t.Fatalf("other domain's admin: %d %+v", code, theirs)
	}
	if code := other.call("GET", "/admin/api/reports/dmarc?domain=example.test", nil, nil); code != 403 {
		t.Fatalf("other domain's admin asking for example.test: %d", code)
	}
	if out := s.CLI("", "reports", "dmarc"); out.Code != 0 || !strings.Contains(out.Stdout, "example.test\treceiver.test") || !strings.Contains(out.Stdout, "total=6 failed=2") {
		t.Fatalf("CLI: %+v", out)
	}
	if n, _ := firstMessage(t, s, "alice@example.test", "alice-pass-1"); n != 2 {
		t.Fatalf("postmaster's mailbox has %d messages, want the 2 report mails", n)
	}
}

// reportMail is a DMARC report mail as the big receivers send it: the
// XML zipped, base64, in a multipart/mixed.
func reportMail(t *testing.T, to, xml string) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := newZip(&z)
	f, _ := zw.Create("receiver.test!example.test!1764892800!1764979199.xml")
	f.Write([]byte(xml))
	zw.Close()
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: dmarc@receiver.test\r\nTo: %s\r\nSubject: Report Domain: example.test Submitter: receiver.test Report-ID: e2e-1\r\n", to)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nDMARC aggregate report.\r\n--zz\r\n")
	b.WriteString("Content-Type: application/zip; name=\"receiver.test!example.test!1764892800!1764979199.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(z.Bytes())
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--zz--\r\n")
	return b.Bytes()
}

func newZip(w io.Writer) *zip.Writer { return zip.NewWriter(w) }

// sendMX sends one message over port 25 in clear text, as another MTA.
func sendMX(addr, from, to string, body []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("mta.receiver.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// TestOutboundDANEAndREQUIRETLS: with a validating resolver (the test DNS
// server sets the AD bit), a TLSA record matching the MX's key gets the
// message over TLS whatever name its certificate has, one that matches
// nothing defers it; a REQUIRETLS message submitted over STARTTLS reaches
// the DANE-verified MX with the parameter, and bounces (5.7.30) for a
// domain with neither DANE nor MTA-STS.
func TestOutboundDANEAndREQUIRETLS(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "other.name", RequireTLS: true}).Start(t)
	wrong := (&queuetest.Peer{Hostname: "mx.wrong.test", Listen: "127.0.0.2:" + strconv.Itoa(peer.Port)}).Start(t)
	dns := queuetest.StartDNS(t)
	dns.SetValidating(true)
	sum := sha256.Sum256(peer.Cert.Leaf.RawSubjectPublicKeyInfo)
	dns.Add(t,
		"dane.test. MX 10 mx.dane.test.", "mx.dane.test. A 127.0.0.1",
		fmt.Sprintf("_%d._tcp.mx.dane.test. TLSA 3 1 1 %x", peer.Port, sum),
		"wrong.test. MX 10 mx.wrong.test.", "mx.wrong.test. A 127.0.0.2",
		fmt.Sprintf("_%d._tcp.mx.wrong.test. TLSA 3 1 1 %s", peer.Port, strings.Repeat("00", 32)),
		"plain.test. MX 10 mx.plain.test.", "mx.plain.test. A 127.0.0.1")
	s := senderServer(t, dns.Addr, peer.Port, nil)

	mustSubmit(t, s, "alice@example.test", "alice-pass-1", []string{"bob@dane.test"},
		"From: alice@example.test\r\nTo: bob@dane.test\r\nSubject: dane\r\n\r\nhello\r\n")
	mustSubmit(t, s, "alice@example.test", "alice-pass-1", []string{"carol@wrong.test"},
		"From: alice@example.test\r\nTo: carol@wrong.test\r\nSubject: dane\r\n\r\nhello\r\n")
	if _, ok := s.WaitLog(20*time.Second, "msg=relayed", "rcpt=bob@dane.test", "tls_verified=true"); !ok {
		t.Fatalf("not relayed over DANE:\n%s", s.Logs())
	}
	if _, ok := s.WaitLog(20*time.Second, "msg=deferred", "rcpt=carol@wrong.test", "status=4.7.5", "DANE"); !ok {
		t.Fatalf("TLSA mismatch not deferred:\n%s", s.Logs())
	}
	if len(wrong.Mails()) != 0 || wrong.Sessions() != 1 {
		t.Fatalf("the mismatching MX got %d mails in %d sessions", len(wrong.Mails()), wrong.Sessions())
	}
	if _, ok := s.WaitLog(time.Second, "DANE on"); !ok {
		t.Fatalf("no DANE on line:\n%s", s.Logs())
	}

	for _, port := range []string{"submissions", "smtp"} {
		if s.Addr[port] == "" {
			t.Fatalf("no %s listener", port)
		}
		var c *smtp.Client
		var err error
		if port == "submissions" {
			c, err = smtp.DialTLS(s.Addr[port], &tls.Config{InsecureSkipVerify: true})
		} else {
			c, err = smtp.DialStartTLS(s.Addr[port], &tls.Config{InsecureSkipVerify: true})
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Hello("client.example.net"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Extension("REQUIRETLS"); !ok {
			t.Fatalf("REQUIRETLS not offered on %s", port)
		}
		c.Close()
	}
	for _, to := range []string{"dave@dane.test", "erin@plain.test"} {
		c, err := smtp.DialStartTLS(s.Addr["submission"], &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Extension("REQUIRETLS"); !ok {
			t.Fatal("REQUIRETLS not offered after STARTTLS")
		}
		if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "alice-pass-1")); err != nil {
			t.Fatal(err)
		}
		if err := c.SendMail("alice@example.test", []string{to}, strings.NewReader("From: alice@example.test\r\nTo: "+to+"\r\nSubject: tls only\r\n\r\nsecret\r\n")); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// SendMail has no MAIL parameters: the REQUIRETLS ones go by hand.
	waitFor(t, 20*time.Second, "the plain REQUIRETLS-less mails", func() bool { return len(peer.Mails()) == 3 })
	for _, to := range []string{"frank@dane.test", "gina@plain.test"} {
		c, err := smtp.DialStartTLS(s.Addr["submission"], &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "alice-pass-1")); err != nil {
			t.Fatal(err)
		}
		if err := c.Mail("alice@example.test", &smtp.MailOptions{RequireTLS: true}); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt(to, nil); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "From: alice@example.test\r\nTo: "+to+"\r\nSubject: tls only\r\n\r\nsecret\r\n")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		c.Quit()
	}
	waitFor(t, 20*time.Second, "the REQUIRETLS mail at dane.test", func() bool { return len(peer.Mails()) == 4 })
	if m := peer.Mails()[3]; !m.RequireTLS || !m.TLS || m.To[0] != "frank@dane.test" {
		t.Fatalf("REQUIRETLS mail arrived as %+v", m)
	}
	if _, ok := s.WaitLog(20*time.Second, "msg=bounced", "rcpt=gina@plain.test", "status=5.7.30"); !ok {
		t.Fatalf("REQUIRETLS to a domain without DANE or MTA-STS not bounced:\n%s", s.Logs())
	}
	for _, m := range peer.Mails() {
		if m.To[0] == "gina@plain.test" {
			t.Fatal("the REQUIRETLS message went to plain.test's MX")
		}
	}
}

// TestOutboundDANEThroughUnbound: the binary's [dns] server is Debian's
// unbound, validating a signed root zone of our own (its trust anchor):
// DANE turns on by itself, a TLSA record matching the MX's key gets the
// message, one matching nothing defers it, and MTA-STS and address lookups
// of names the zone lacks get validated denials. An MX host that is an
// alias into an unsigned zone (an insecure delegation from the signed
// root) has insecure addresses: DANE does not apply to it (RFC 7672
// §2.2.2), so its TLSA record, secure but matching nothing, neither
// defers the message nor is claimed as verified.
func TestOutboundDANEThroughUnbound(t *testing.T) {
	peer := (&queuetest.Peer{Hostname: "other.name"}).Start(t)
	wrong := (&queuetest.Peer{Hostname: "mx.wrong.test", Listen: "127.0.0.2:" + strconv.Itoa(peer.Port)}).Start(t)
	aliased := (&queuetest.Peer{Hostname: "host.plain.test", Listen: "127.0.0.3:" + strconv.Itoa(peer.Port)}).Start(t)
	plain := queuetest.StartDNS(t)
	plain.Add(t, "host.plain.test. 300 IN A 127.0.0.3")
	z := queuetest.StartSignedDNS(t, ".")
	sum := sha256.Sum256(peer.Cert.Leaf.RawSubjectPublicKeyInfo)
	z.Add(t,
		"dane.test. 300 IN MX 10 mx.dane.test.", "mx.dane.test. 300 IN A 127.0.0.1",
		fmt.Sprintf("_%d._tcp.mx.dane.test. 300 IN TLSA 3 1 1 %x", peer.Port, sum),
		"wrong.test. 300 IN MX 10 mx.wrong.test.", "mx.wrong.test. 300 IN A 127.0.0.2",
		fmt.Sprintf("_%d._tcp.mx.wrong.test. 300 IN TLSA 3 1 1 %s", peer.Port, strings.Repeat("00", 32)),
		"plain.test. 300 IN NS ns.plain.test.", "ns.plain.test. 300 IN A 127.0.0.1",
		"alias.test. 300 IN MX 10 mx.alias.test.", "mx.alias.test. 300 IN CNAME host.plain.test.",
		fmt.Sprintf("_%d._tcp.mx.alias.test. 300 IN TLSA 3 1 1 %s", peer.Port, strings.Repeat("00", 32)))
	resolver := queuetest.StartUnbound(t, z, queuetest.PlainZone{Origin: "plain.test.", Addr: plain.Addr})
	s := senderServer(t, resolver, peer.Port, nil)

	mustSubmit(t, s, "alice@example.test", "alice-pass-1", []string{"bob@dane.test"},
		"From: alice@example.test\r\nTo: bob@dane.test\r\nSubject: dane\r\n\r\nhello\r\n")
	mustSubmit(t, s, "alice@example.test", "alice-pass-1", []string{"carol@wrong.test"},
		"From: alice@example.test\r\nTo: carol@wrong.test\r\nSubject: dane\r\n\r\nhello\r\n")
	if _, ok := s.WaitLog(30*time.Second, "msg=relayed", "rcpt=bob@dane.test", "tls_verified=true"); !ok {
		t.Fatalf("not relayed over DANE:\n%s", s.Logs())
	}
	if _, ok := s.WaitLog(30*time.Second, "msg=deferred", "rcpt=carol@wrong.test", "status=4.7.5", "DANE"); !ok {
		t.Fatalf("TLSA mismatch not deferred:\n%s", s.Logs())
	}
	if len(wrong.Mails()) != 0 {
		t.Fatalf("the mismatching MX got %d mails", len(wrong.Mails()))
	}
	mustSubmit(t, s, "alice@example.test", "alice-pass-1", []string{"dave@alias.test"},
		"From: alice@example.test\r\nTo: dave@alias.test\r\nSubject: dane\r\n\r\nhello\r\n")
	line, ok := s.WaitLog(30*time.Second, "msg=relayed", "rcpt=dave@alias.test")
	if !ok {
		t.Fatalf("not relayed to the MX with insecure addresses:\n%s", s.Logs())
	}
	t.Logf("relay line: %s", line)
	if strings.Contains(line, "tls_verified=true") || len(aliased.Mails()) != 1 {
		t.Fatalf("MX with insecure addresses: %q, %d mails there", line, len(aliased.Mails()))
	}
	if _, ok := s.WaitLog(time.Second, "DANE on"); !ok {
		t.Fatalf("no DANE on line:\n%s", s.Logs())
	}
}
