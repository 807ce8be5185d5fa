package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/queue/queuetest"
)

// dmarcFeedback is what the e2e test reads of a DMARC aggregate report,
// by the element names of RFC 7489 Appendix C.
type dmarcFeedback struct {
	OrgName  string `xml:"report_metadata>org_name"`
	ReportID string `xml:"report_metadata>report_id"`
	Begin    int64  `xml:"report_metadata>date_range>begin"`
	Domain   string `xml:"policy_published>domain"`
	P        string `xml:"policy_published>p"`
	Records  []struct {
		SourceIP    string   `xml:"row>source_ip"`
		Count       int64    `xml:"row>count"`
		Disposition string   `xml:"row>policy_evaluated>disposition"`
		DKIM        string   `xml:"row>policy_evaluated>dkim"`
		SPF         string   `xml:"row>policy_evaluated>spf"`
		HeaderFrom  string   `xml:"identifiers>header_from"`
		DKIMDomains []string `xml:"auth_results>dkim>domain"`
		SPFDomain   string   `xml:"auth_results>spf>domain"`
		SPFResult   string   `xml:"auth_results>spf>result"`
	} `xml:"record"`
}

// TestDMARCAggregateReportSent: mail from sender.test arrives on port 25
// (two signed and aligned, one forged and quarantined); sender.test's
// record asks for reports at the sink MTA's domain, which consents
// (RFC 7489 §7.1). On the administrator's request one gzipped XML report
// reaches the sink, signed, from the null sender, with the counts of what
// was sent; unverified.test's external address gets nothing; a second
// request sends nothing.
func TestDMARCAggregateReportSent(t *testing.T) {
	sink := (&queuetest.Peer{Hostname: "mx.sink.test"}).Start(t)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	dns := queuetest.StartDNS(t)
	dns.Add(t,
		`e2e._domainkey.sender.test. 300 TXT "v=DKIM1; k=ed25519; p=`+base64.StdEncoding.EncodeToString(pub)+`"`,
		`sender.test. 300 TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.sender.test. 300 TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@sink.test!10m"`,
		`sender.test._report._dmarc.sink.test. 300 TXT "v=DMARC1"`,
		`_dmarc.unverified.test. 300 TXT "v=DMARC1; p=none; rua=mailto:dmarc@sink.test"`,
		"sink.test. MX 10 mx.sink.test.", "mx.sink.test. A 127.0.0.1",
	)
	s := senderServer(t, dns.Addr, sink.Port, map[string]any{"checks.dmarc_reports": true})

	const rcpt = "alice@example.test"
	for range 2 {
		msg := signedMessage(t, testMessage("news@sender.test", rcpt, uniq(), "signed"), "sender.test", "e2e", key)
		mustSend(t, s.Addr["smtp"], "bounces@sender.test", []string{rcpt}, msg)
	}
	mustSend(t, s.Addr["smtp"], "x@forger.test", []string{rcpt}, testMessage("news@sender.test", rcpt, uniq(), "forged"))
	mustSend(t, s.Addr["smtp"], "x@unverified.test", []string{rcpt}, testMessage("x@unverified.test", rcpt, uniq(), "hello"))

	ac := adminLogin(t, s, "root")
	type sentReport struct {
		Domain   string   `json:"domain"`
		ReportID string   `json:"report_id"`
		Rows     int      `json:"rows"`
		Messages int64    `json:"messages"`
		To       []string `json:"to"`
	}
	var resp struct {
		Sent  []sentReport `json:"sent"`
		Error string       `json:"error"`
	}
	today := time.Now().UTC().Format("2006-01-02")
	if code := ac.call("POST", "/admin/api/reports/dmarc/send?day="+today, nil, &resp); code != 200 || resp.Error != "" ||
		len(resp.Sent) != 1 || resp.Sent[0].Domain != "sender.test" || resp.Sent[0].Messages != 3 || resp.Sent[0].Rows != 2 {
		t.Fatalf("send: %d %+v", code, resp)
	}
	reportID := resp.Sent[0].ReportID
	waitFor(t, 20*time.Second, "the DMARC report at the sink", func() bool { return len(sink.Mails()) >= 1 })
	m := sink.Mails()[0]
	if m.From != "" || len(m.To) != 1 || m.To[0] != "dmarc@sink.test" {
		t.Fatalf("report mail from <%s> to %v", m.From, m.To)
	}
	if !bytes.HasPrefix(m.Body, []byte("DKIM-Signature:")) || !bytes.Contains(m.Body[:400], []byte("d=example.test")) {
		t.Fatalf("report mail not DKIM-signed by example.test:\n%.400s", m.Body)
	}
	f := dmarcReportOf(t, m.Body, "sender.test", reportID)
	if f.OrgName != "mx.example.test" || f.ReportID != reportID || f.Domain != "sender.test" || f.P != "quarantine" ||
		f.Begin != time.Now().UTC().Truncate(24*time.Hour).Unix() {
		t.Fatalf("report %+v", f)
	}
	got := map[string]int64{}
	for _, r := range f.Records {
		if r.SourceIP != "127.0.0.1" || r.HeaderFrom != "sender.test" {
			t.Errorf("record %+v", r)
		}
		got[r.Disposition+" dkim="+r.DKIM+" spf="+r.SPF+" auth="+strings.Join(r.DKIMDomains, ",")+"/"+r.SPFDomain+"="+r.SPFResult] += r.Count
	}
	want := map[string]int64{"none dkim=pass spf=pass auth=sender.test/sender.test=pass": 2,
		"quarantine dkim=fail spf=fail auth=/forger.test=none": 1}
	if !maps.Equal(got, want) {
		t.Fatalf("records %v; want %v", got, want)
	}
	if _, ok := s.WaitLog(5*time.Second, `msg="DMARC report sent"`, "domain=sender.test", "report_id="+reportID, "rows=2", "to=dmarc@sink.test"); !ok {
		t.Errorf("no log line of the report sent:\n%s", s.Logs())
	}
	if _, ok := s.WaitLog(5*time.Second, "domain=unverified.test", "external destination not verified"); !ok {
		t.Errorf("no log line of the unverified destination:\n%s", s.Logs())
	}

	out := s.CLI("", "reports", "dmarc-sent")
	out.mustOK(t)
	if line := today + "\tsender.test\tsent " + reportID; !strings.Contains(out.Stdout, line) ||
		!strings.Contains(out.Stdout, today+"\tunverified.test\tnot asked") {
		t.Errorf("reports dmarc-sent lacks %q and unverified.test:\n%s", line, out.Stdout)
	}

	// Asked again, for the day and for the days due: nothing goes.
	for _, path := range []string{"/admin/api/reports/dmarc/send?day=" + today, "/admin/api/reports/dmarc/send"} {
		resp.Sent, resp.Error = nil, ""
		if code := ac.call("POST", path, nil, &resp); code != 200 || len(resp.Sent) != 0 || resp.Error != "" {
			t.Fatalf("%s again: %d %+v", path, code, resp)
		}
	}
	time.Sleep(2 * time.Second) // time for a wrongly queued second report to arrive
	if n := len(sink.Mails()); n != 1 {
		t.Fatalf("the sink got %d mails; want the one report", n)
	}
}

// dmarcReportOf checks the report mail's form (RFC 7489 §7.2.1.1) and
// returns its report.
func dmarcReportOf(t *testing.T, raw []byte, domain, reportID string) dmarcFeedback {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if subj := msg.Header.Get("Subject"); subj != "Report Domain: "+domain+" Submitter: mx.example.test Report-ID: <"+reportID+">" {
		t.Errorf("Subject %q", subj)
	}
	if from := msg.Header.Get("From"); !strings.Contains(from, "<postmaster@mx.example.test>") {
		t.Errorf("From %q", from)
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no application/gzip part: %v", err)
		}
		if !strings.HasPrefix(p.Header.Get("Content-Type"), "application/gzip") {
			continue
		}
		begin := time.Now().UTC().Truncate(24 * time.Hour)
		wantName := "mx.example.test!" + domain + "!" + strconv.FormatInt(begin.Unix(), 10) + "!" + strconv.FormatInt(begin.Unix()+86399, 10) + ".xml.gz"
		if fn := p.FileName(); fn != wantName {
			t.Errorf("attachment %q; want %q", fn, wantName)
		}
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, p))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		var f dmarcFeedback
		if err := xml.Unmarshal(doc, &f); err != nil {
			t.Fatalf("%v:\n%s", err, doc)
		}
		return f
	}
}
