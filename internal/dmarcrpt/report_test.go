package dmarcrpt

import (
	"bytes"
	"encoding/xml"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dmarc"

	"postern/internal/reports"
	"postern/internal/store"
)

var testDay = time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)

func sampleRows() []store.DMARCCount {
	return []store.DMARCCount{
		{Day: testDay, HeaderFrom: "example.com", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "pass",
			SPFDomain: "example.com", SPFScope: "mfrom", SPFResult: "pass",
			DKIMResults: store.FormatDKIMResults([]store.DKIMResult{{Domain: "example.com", Selector: "s1", Result: "pass"},
				{Domain: "esp.example.net", Selector: "k", Result: "fail"}}), Messages: 5},
		{Day: testDay, HeaderFrom: "news.example.com", SourceIP: "2001:db8::1", Disposition: "none", DKIM: "fail", SPF: "fail",
			SPFDomain: "mx.forger.test", SPFScope: "helo", SPFResult: "softfail", Messages: 2},
		{Day: testDay, HeaderFrom: "example.com", SourceIP: "203.0.113.9", Disposition: "reject", DKIM: "fail", SPF: "fail",
			SPFDomain: "forger.test", SPFScope: "mfrom", SPFResult: "fail", Messages: 1},
	}
}

// TestBuildXML: the report parses back with encoding/xml and holds every
// element RFC 7489 Appendix C requires.
func TestBuildXML(t *testing.T) {
	pct := 50
	rec := &dmarc.Record{Policy: dmarc.PolicyReject, SubdomainPolicy: dmarc.PolicyQuarantine, Percent: &pct,
		DKIMAlignment: dmarc.AlignmentStrict, FailureOptions: dmarc.FailureDKIM | dmarc.FailureSPF}
	f := Build(Meta{Org: "mx.receiver.test", Email: "postmaster@mx.receiver.test", ReportID: "r-1", Day: testDay.Add(13 * time.Hour)},
		Published("example.com", rec), sampleRows())
	doc, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(doc, []byte("<?xml")) {
		t.Errorf("no XML declaration: %.60s", doc)
	}
	// What we send is what we accept from others.
	if back, err := reports.ParseDMARC(doc); err != nil || back.Metadata.ReportID != "r-1" || len(back.Records) != len(f.Records) {
		t.Errorf("ParseDMARC of our own report: %v, %+v", err, back.Metadata)
	}
	// Parsed into structures of the test's own, by the element names of
	// Appendix C, not with Feedback's tags.
	var got struct {
		XMLName  xml.Name `xml:"feedback"`
		Version  string   `xml:"version"`
		Metadata struct {
			OrgName  string `xml:"org_name"`
			Email    string `xml:"email"`
			ReportID string `xml:"report_id"`
			Begin    int64  `xml:"date_range>begin"`
			End      int64  `xml:"date_range>end"`
		} `xml:"report_metadata"`
		Policy struct {
			Domain string `xml:"domain"`
			ADKIM  string `xml:"adkim"`
			ASPF   string `xml:"aspf"`
			P      string `xml:"p"`
			SP     string `xml:"sp"`
			Pct    string `xml:"pct"`
			FO     string `xml:"fo"`
		} `xml:"policy_published"`
		Records []struct {
			SourceIP    string   `xml:"row>source_ip"`
			Count       int64    `xml:"row>count"`
			Disposition string   `xml:"row>policy_evaluated>disposition"`
			DKIM        string   `xml:"row>policy_evaluated>dkim"`
			SPF         string   `xml:"row>policy_evaluated>spf"`
			Reasons     []string `xml:"row>policy_evaluated>reason>type"`
			HeaderFrom  string   `xml:"identifiers>header_from"`
			EnvFrom     *string  `xml:"identifiers>envelope_from"`
			DKIMAuth    []struct {
				Domain   string `xml:"domain"`
				Selector string `xml:"selector"`
				Result   string `xml:"result"`
			} `xml:"auth_results>dkim"`
			SPFAuth []struct {
				Domain string `xml:"domain"`
				Scope  string `xml:"scope"`
				Result string `xml:"result"`
			} `xml:"auth_results>spf"`
		} `xml:"record"`
	}
	if err := xml.Unmarshal(doc, &got); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	m := got.Metadata
	if got.Version != "1.0" || m.OrgName != "mx.receiver.test" || m.Email != "postmaster@mx.receiver.test" || m.ReportID != "r-1" ||
		m.Begin != testDay.Unix() || m.End != testDay.Add(24*time.Hour).Unix()-1 {
		t.Errorf("report_metadata %+v (version %q)", m, got.Version)
	}
	p := got.Policy
	if p.Domain != "example.com" || p.ADKIM != "s" || p.ASPF != "r" || p.P != "reject" || p.SP != "quarantine" || p.Pct != "50" || p.FO != "d:s" {
		t.Errorf("policy_published %+v", p)
	}
	if len(got.Records) != 3 {
		t.Fatalf("%d records:\n%s", len(got.Records), doc)
	}
	r0, r1, r2 := got.Records[0], got.Records[1], got.Records[2]
	if r0.SourceIP != "192.0.2.1" || r0.Count != 5 || r0.Disposition != "none" || r0.DKIM != "pass" || r0.SPF != "pass" ||
		r0.HeaderFrom != "example.com" || r0.EnvFrom == nil || *r0.EnvFrom != "example.com" || len(r0.Reasons) != 0 {
		t.Errorf("record 0 %+v", r0)
	}
	if len(r0.DKIMAuth) != 2 || r0.DKIMAuth[0].Domain != "example.com" || r0.DKIMAuth[0].Selector != "s1" || r0.DKIMAuth[0].Result != "pass" ||
		r0.DKIMAuth[1].Domain != "esp.example.net" || r0.DKIMAuth[1].Result != "fail" {
		t.Errorf("record 0 dkim %+v", r0.DKIMAuth)
	}
	if len(r0.SPFAuth) != 1 || r0.SPFAuth[0].Domain != "example.com" || r0.SPFAuth[0].Scope != "mfrom" || r0.SPFAuth[0].Result != "pass" {
		t.Errorf("record 0 spf %+v", r0.SPFAuth)
	}
	// A subdomain failing under sp=quarantine with dis=none: sampled out.
	if r1.SourceIP != "2001:db8::1" || r1.Count != 2 || r1.HeaderFrom != "news.example.com" || len(r1.DKIMAuth) != 0 ||
		len(r1.SPFAuth) != 1 || r1.SPFAuth[0].Scope != "helo" || r1.SPFAuth[0].Result != "softfail" ||
		len(r1.Reasons) != 1 || r1.Reasons[0] != "sampled_out" || r1.EnvFrom == nil || *r1.EnvFrom != "" {
		t.Errorf("record 1 %+v", r1)
	}
	if r2.Disposition != "reject" || r2.DKIM != "fail" || r2.SPF != "fail" || len(r2.Reasons) != 0 || r2.SPFAuth[0].Domain != "forger.test" {
		t.Errorf("record 2 %+v", r2)
	}
	if n := f.Messages(); n != 8 {
		t.Errorf("Messages %d; want 8", n)
	}
	if name := f.FileName(); name != "mx.receiver.test!example.com!1772582400!1772668799.xml.gz" {
		t.Errorf("file name %q", name)
	}
}

func TestPublishedDefaults(t *testing.T) {
	p := Published("example.org", &dmarc.Record{Policy: dmarc.PolicyNone})
	if p != (reports.PolicyPublished{Domain: "example.org", ADKIM: "r", ASPF: "r", P: "none", SP: "none", Pct: "100", Fo: "0"}) {
		t.Errorf("defaults %+v", p)
	}
}
