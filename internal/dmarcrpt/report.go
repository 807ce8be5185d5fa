// Package dmarcrpt sends DMARC aggregate reports (RFC 7489 §7.2): once a
// day, for each domain whose mail we evaluated (store.DMARCCounts) and
// whose record asks for reports (rua=mailto:), the XML of Appendix C,
// gzipped, mailed from our report address through the queue, DKIM-signed,
// never twice for a day.
package dmarcrpt

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dmarc"

	"postern/internal/store"
)

// Feedback is an aggregate report (RFC 7489 Appendix C).
type Feedback struct {
	XMLName  xml.Name        `xml:"feedback"`
	Version  string          `xml:"version"`
	Metadata Metadata        `xml:"report_metadata"`
	Policy   PolicyPublished `xml:"policy_published"`
	Records  []Record        `xml:"record"`
}

// Metadata names the report and its author.
type Metadata struct {
	OrgName   string    `xml:"org_name"`
	Email     string    `xml:"email"`
	ReportID  string    `xml:"report_id"`
	DateRange DateRange `xml:"date_range"`
}

// DateRange is the period, in Unix seconds, both ends included.
type DateRange struct {
	Begin int64 `xml:"begin"`
	End   int64 `xml:"end"`
}

// PolicyPublished is the DMARC record as found when the report was made.
type PolicyPublished struct {
	Domain string `xml:"domain"`
	ADKIM  string `xml:"adkim"`
	ASPF   string `xml:"aspf"`
	P      string `xml:"p"`
	SP     string `xml:"sp"`
	Pct    int    `xml:"pct"`
	FO     string `xml:"fo"`
}

// Record is one row of counts with what produced it.
type Record struct {
	Row         Row         `xml:"row"`
	Identifiers Identifiers `xml:"identifiers"`
	AuthResults AuthResults `xml:"auth_results"`
}

// Row is a source and what DMARC made of its messages.
type Row struct {
	SourceIP        string          `xml:"source_ip"`
	Count           int64           `xml:"count"`
	PolicyEvaluated PolicyEvaluated `xml:"policy_evaluated"`
}

// PolicyEvaluated is the disposition and the aligned results.
type PolicyEvaluated struct {
	Disposition string   `xml:"disposition"`
	DKIM        string   `xml:"dkim"`
	SPF         string   `xml:"spf"`
	Reasons     []Reason `xml:"reason,omitempty"`
}

// Reason tells why the disposition is not the policy's.
type Reason struct {
	Type    string `xml:"type"`
	Comment string `xml:"comment,omitempty"`
}

// Identifiers are the domains the message named.
type Identifiers struct {
	EnvelopeFrom string `xml:"envelope_from"`
	HeaderFrom   string `xml:"header_from"`
}

// AuthResults are the raw results, whatever their alignment.
type AuthResults struct {
	DKIM []DKIMAuth `xml:"dkim,omitempty"`
	SPF  []SPFAuth  `xml:"spf"`
}

// DKIMAuth is one signature's result.
type DKIMAuth struct {
	Domain   string `xml:"domain"`
	Selector string `xml:"selector,omitempty"`
	Result   string `xml:"result"`
}

// SPFAuth is the SPF result of the identity checked.
type SPFAuth struct {
	Domain string `xml:"domain"`
	Scope  string `xml:"scope"`
	Result string `xml:"result"`
}

// Meta is what a report says of itself and its author.
type Meta struct {
	Org, Email, ReportID string
	Day                  time.Time
}

// Published describes rec as found at domain.
func Published(domain string, rec *dmarc.Record) PolicyPublished {
	p := PolicyPublished{Domain: domain, ADKIM: "r", ASPF: "r", P: string(rec.Policy), Pct: 100, FO: failureOptions(rec.FailureOptions)}
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
		p.Pct = *rec.Percent
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
func Build(m Meta, policy PolicyPublished, rows []store.DMARCCount) Feedback {
	begin := time.Date(m.Day.Year(), m.Day.Month(), m.Day.Day(), 0, 0, 0, 0, time.UTC)
	f := Feedback{Version: "1.0", Metadata: Metadata{OrgName: m.Org, Email: m.Email, ReportID: m.ReportID,
		DateRange: DateRange{Begin: begin.Unix(), End: begin.Add(24*time.Hour - time.Second).Unix()}},
		Policy: policy}
	for _, r := range rows {
		rec := Record{
			Row: Row{SourceIP: r.SourceIP, Count: r.Messages,
				PolicyEvaluated: PolicyEvaluated{Disposition: r.Disposition, DKIM: r.DKIM, SPF: r.SPF}},
			Identifiers: Identifiers{HeaderFrom: r.HeaderFrom},
		}
		if r.SPFScope == "mfrom" {
			rec.Identifiers.EnvelopeFrom = r.SPFDomain
		}
		if reason := overrideReason(policy, r); reason != "" {
			rec.Row.PolicyEvaluated.Reasons = []Reason{{Type: reason}}
		}
		for _, d := range store.ParseDKIMResults(r.DKIMResults) {
			rec.AuthResults.DKIM = append(rec.AuthResults.DKIM, DKIMAuth{Domain: d.Domain, Selector: d.Selector, Result: d.Result})
		}
		// Appendix C: there is always an SPF result; a row counted before
		// the results were kept has none to tell.
		spf := SPFAuth{Domain: r.SPFDomain, Scope: r.SPFScope, Result: r.SPFResult}
		if spf.Result == "" {
			spf.Result = "none"
		}
		if spf.Scope == "" {
			spf.Scope = "mfrom"
		}
		rec.AuthResults.SPF = []SPFAuth{spf}
		f.Records = append(f.Records, rec)
	}
	return f
}

// overrideReason explains a failed row whose disposition is milder than
// the policy: the pct sample (RFC 7489 §6.6.4) is the only way the checks
// soften a policy.
func overrideReason(p PolicyPublished, r store.DMARCCount) string {
	if r.DKIM == "pass" || r.SPF == "pass" {
		return ""
	}
	want := p.P
	if !strings.EqualFold(r.HeaderFrom, p.Domain) {
		want = p.SP
	}
	if severity(r.Disposition) < severity(want) && p.Pct < 100 {
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
	var n int64
	for _, r := range f.Records {
		n += r.Row.Count
	}
	return n
}
