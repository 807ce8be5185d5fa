// Package dmarcrpt sends DMARC aggregate reports (RFC 7489 §7.2): once a
// day, for each domain whose mail we evaluated (store.DMARCCounts) and
// whose record asks for reports (rua=mailto:), the XML of Appendix C,
// gzipped, mailed from our report address through the queue, DKIM-signed,
// never twice for a day.
package dmarcrpt

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dmarc"

	"postern/internal/reports"
	"postern/internal/store"
)

// Feedback is an aggregate report (RFC 7489 Appendix C) in the schema the
// received ones are read with, under its root element.
type Feedback struct {
	XMLName xml.Name `xml:"feedback"`
	reports.Feedback
}

// Meta is what a report says of itself and its author.
type Meta struct {
	Org, Email, ReportID string
	Day                  time.Time
}

// Published describes rec as found at domain.
func Published(domain string, rec *dmarc.Record) reports.PolicyPublished {
	p := reports.PolicyPublished{Domain: domain, ADKIM: "r", ASPF: "r", P: string(rec.Policy), Pct: "100", Fo: failureOptions(rec.FailureOptions)}
	if rec.DKIMAlignment != "" {
		p.ADKIM = string(rec.DKIMAlignment)
	}
	if rec.SPFAlignment != "" {
		p.ASPF = string(rec.SPFAlignment)
	}
	// RFC 7489 §6.3: sp defaults to p.
	p.SP = p.P
	if rec.SubdomainPolicy != "" {
		p.SP = string(rec.SubdomainPolicy)
	}
	if rec.Percent != nil {
		p.Pct = strconv.Itoa(*rec.Percent)
	}
	return p
}

func failureOptions(fo dmarc.FailureOptions) string {
	var opts []string
	for _, o := range []struct {
		bit  dmarc.FailureOptions
		name string
	}{{dmarc.FailureAll, "0"}, {dmarc.FailureAny, "1"}, {dmarc.FailureDKIM, "d"}, {dmarc.FailureSPF, "s"}} {
		if fo&o.bit != 0 {
			opts = append(opts, o.name)
		}
	}
	if len(opts) == 0 {
		return "0" // RFC 7489 §6.3: the default
	}
	return strings.Join(opts, ":")
}

// Build makes the report of one UTC day from its counts (the rows of the
// author domains under policy).
func Build(m Meta, policy reports.PolicyPublished, rows []store.DMARCCount) Feedback {
	begin := time.Date(m.Day.Year(), m.Day.Month(), m.Day.Day(), 0, 0, 0, 0, time.UTC)
	f := Feedback{Feedback: reports.Feedback{Version: "1.0", Metadata: reports.ReportMetadata{OrgName: m.Org, Email: m.Email, ReportID: m.ReportID,
		DateRange: reports.DateRange{Begin: begin.Unix(), End: begin.Add(24*time.Hour - time.Second).Unix()}},
		Policy: policy}}
	for _, r := range rows {
		rec := reports.Record{
			Row: reports.Row{SourceIP: r.SourceIP, Count: r.Messages,
				PolicyEvaluated: reports.PolicyEvaluated{Disposition: r.Disposition, DKIM: r.DKIM, SPF: r.SPF}},
			Identifiers: reports.Identifiers{HeaderFrom: r.HeaderFrom},
		}
		if r.SPFScope == "mfrom" {
			rec.Identifiers.EnvelopeFrom = r.SPFDomain
		}
		if reason := overrideReason(policy, r); reason != "" {
			rec.Row.PolicyEvaluated.Reasons = []reports.Reason{{Type: reason}}
		}
		for _, d := range store.ParseDKIMResults(r.DKIMResults) {
			rec.AuthResults.DKIM = append(rec.AuthResults.DKIM, reports.DKIMResult{Domain: d.Domain, Selector: d.Selector, Result: d.Result})
		}
		// Appendix C: there is always an SPF result; a row counted before
		// the results were kept has none to tell.
		spf := reports.SPFResult{Domain: r.SPFDomain, Scope: r.SPFScope, Result: r.SPFResult}
		if spf.Result == "" {
			spf.Result = "none"
		}
		if spf.Scope == "" {
			spf.Scope = "mfrom"
		}
		rec.AuthResults.SPF = []reports.SPFResult{spf}
		f.Records = append(f.Records, rec)
	}
	return f
}

// overrideReason explains a failed row whose disposition is milder than
// the policy: the pct sample (RFC 7489 §6.6.4) is the only way the checks
// soften a policy.
func overrideReason(p reports.PolicyPublished, r store.DMARCCount) string {
	if r.DKIM == "pass" || r.SPF == "pass" {
		return ""
	}
	want := p.P
	if !strings.EqualFold(r.HeaderFrom, p.Domain) {
		want = p.SP
	}
	if pct, err := strconv.Atoi(p.Pct); err == nil && pct < 100 && severity(r.Disposition) < severity(want) {
		return "sampled_out"
	}
	return ""
}

func severity(disposition string) int {
	return map[string]int{"quarantine": 1, "reject": 2}[disposition]
}

// Marshal is the report's XML document.
func (f Feedback) Marshal() ([]byte, error) {
	out, err := xml.MarshalIndent(f, "", " ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// FileName is the attachment's name (RFC 7489 §7.2.1.1):
// receiver!policy-domain!begin!end.xml.gz.
func (f Feedback) FileName() string {
	return fmt.Sprintf("%s!%s!%d!%d.xml.gz", f.Metadata.OrgName, f.Policy.Domain, f.Metadata.DateRange.Begin, f.Metadata.DateRange.End)
}

// Messages is the number of messages the report counts.
func (f Feedback) Messages() int64 {
	n, _ := f.Totals()
	return n
}
