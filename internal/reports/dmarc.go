// Package reports takes in the aggregate reports other mail systems send
// about our domains: DMARC (RFC 7489 §7.2, XML, usually zipped or
// gzipped) and TLS-RPT (RFC 8460, gzipped JSON). It finds them in mail to
// our report addresses, parses them within limits, and stores them for
// the admin API and the CLI.
package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Feedback is a DMARC aggregate report (RFC 7489 Appendix C): the reports
// we receive and, written by dmarcrpt, the ones we send.
type Feedback struct {
	Version  string          `xml:"version" json:"version,omitempty"`
	Metadata ReportMetadata  `xml:"report_metadata" json:"report_metadata"`
	Policy   PolicyPublished `xml:"policy_published" json:"policy_published"`
	Records  []Record        `xml:"record" json:"records"`
}

// ReportMetadata says who reports which period.
type ReportMetadata struct {
	OrgName          string    `xml:"org_name" json:"org_name"`
	Email            string    `xml:"email" json:"email,omitempty"`
	ExtraContactInfo string    `xml:"extra_contact_info,omitempty" json:"extra_contact_info,omitempty"`
	ReportID         string    `xml:"report_id" json:"report_id"`
	DateRange        DateRange `xml:"date_range" json:"date_range"`
	Errors           []string  `xml:"error" json:"errors,omitempty"`
}

// DateRange is the period, in seconds since the epoch.
type DateRange struct {
	Begin int64 `xml:"begin" json:"begin"`
	End   int64 `xml:"end" json:"end"`
}

// PolicyPublished is the DMARC record the reporter found.
type PolicyPublished struct {
	Domain string `xml:"domain" json:"domain"`
	ADKIM  string `xml:"adkim" json:"adkim,omitempty"`
	ASPF   string `xml:"aspf" json:"aspf,omitempty"`
	P      string `xml:"p" json:"p"`
	SP     string `xml:"sp" json:"sp,omitempty"`
	Pct    string `xml:"pct" json:"pct,omitempty"`
	Fo     string `xml:"fo" json:"fo,omitempty"`
}

// Record is the results for one source address.
type Record struct {
	Row         Row         `xml:"row" json:"row"`
	Identifiers Identifiers `xml:"identifiers" json:"identifiers"`
	AuthResults AuthResults `xml:"auth_results" json:"auth_results"`
}

// Row counts messages from one address with one evaluation.
type Row struct {
	SourceIP        string          `xml:"source_ip" json:"source_ip"`
	Count           int64           `xml:"count" json:"count"`
	PolicyEvaluated PolicyEvaluated `xml:"policy_evaluated" json:"policy_evaluated"`
}

// PolicyEvaluated is what the reporter did with the messages.
type PolicyEvaluated struct {
	Disposition string   `xml:"disposition" json:"disposition"`
	DKIM        string   `xml:"dkim" json:"dkim"`
	SPF         string   `xml:"spf" json:"spf"`
	Reasons     []Reason `xml:"reason" json:"reasons,omitempty"`
}

// Reason is why the reporter overrode the policy.
type Reason struct {
	Type    string `xml:"type" json:"type"`
	Comment string `xml:"comment,omitempty" json:"comment,omitempty"`
}

// Identifiers are the messages' domains.
type Identifiers struct {
	EnvelopeTo   string `xml:"envelope_to,omitempty" json:"envelope_to,omitempty"`
	EnvelopeFrom string `xml:"envelope_from" json:"envelope_from,omitempty"`
	HeaderFrom   string `xml:"header_from" json:"header_from"`
}

// AuthResults are the raw SPF and DKIM results.
type AuthResults struct {
	DKIM []DKIMResult `xml:"dkim" json:"dkim,omitempty"`
	SPF  []SPFResult  `xml:"spf" json:"spf,omitempty"`
}

// DKIMResult is one signature's result.
type DKIMResult struct {
	Domain   string `xml:"domain" json:"domain"`
	Selector string `xml:"selector,omitempty" json:"selector,omitempty"`
	Result   string `xml:"result" json:"result"`
}

// SPFResult is the SPF check's result.
type SPFResult struct {
	Domain string `xml:"domain" json:"domain"`
	Scope  string `xml:"scope" json:"scope,omitempty"`
	Result string `xml:"result" json:"result"`
}

// Limits on a DMARC report: the XML (decompressed) and its records.
const (
	MaxXMLSize = 16 << 20
	maxRecords = 100000
)

// ParseDMARC parses a DMARC aggregate report.
func ParseDMARC(data []byte) (Feedback, error) {
	var f Feedback
	if len(data) > MaxXMLSize {
		return f, errors.New("DMARC report too large")
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	// Reports are UTF-8 or ASCII in practice; others are refused rather
	// than guessed.
	dec.CharsetReader = nil
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("DMARC report: %w", err)
	}
	m := f.Metadata
	switch {
	case strings.TrimSpace(m.OrgName) == "" || len(m.OrgName) > 500:
		return f, errors.New("DMARC report without a valid org_name")
	case strings.TrimSpace(m.ReportID) == "" || len(m.ReportID) > 500:
		return f, errors.New("DMARC report without a valid report_id")
	case strings.TrimSpace(f.Policy.Domain) == "":
		return f, errors.New("DMARC report without a policy domain")
	case m.DateRange.End < m.DateRange.Begin:
		return f, errors.New("DMARC report with a bad date_range")
	case len(f.Records) > maxRecords:
		return f, errors.New("DMARC report with too many records")
	}
	for _, r := range f.Records {
		if r.Row.Count < 0 {
			return f, errors.New("DMARC report with a negative count")
		}
	}
	return f, nil
}

// Totals counts the messages and those that failed DMARC (neither an
// aligned DKIM nor an aligned SPF pass, RFC 7489 §6.6.2).
func (f Feedback) Totals() (total, failed int64) {
	for _, r := range f.Records {
		total += r.Row.Count
		pe := r.Row.PolicyEvaluated
		if !strings.EqualFold(pe.DKIM, "pass") && !strings.EqualFold(pe.SPF, "pass") {
			failed += r.Row.Count
		}
	}
	return total, failed
}

// Period is the report's date range as times.
func (f Feedback) Period() (time.Time, time.Time) {
	return time.Unix(f.Metadata.DateRange.Begin, 0).UTC(), time.Unix(f.Metadata.DateRange.End, 0).UTC()
}
