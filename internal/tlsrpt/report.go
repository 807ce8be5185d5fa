// Package tlsrpt is SMTP TLS Reporting (RFC 8460): the daily aggregate
// reports of our outbound TLS results, built from the counts the queue
// keeps (store.TLSResults) and sent to the addresses a recipient domain
// publishes in _smtp._tls; and the parser of the reports other senders
// send us.
package tlsrpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"postern/internal/store"
)

// Report is an aggregate report (RFC 8460 §4.4).
type Report struct {
	OrganizationName string    `json:"organization-name"`
	DateRange        DateRange `json:"date-range"`
	ContactInfo      string    `json:"contact-info"`
	ReportID         string    `json:"report-id"`
	Policies         []Policy  `json:"policies"`
}

// DateRange is the report's period.
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// Policy is the results under one policy of one domain.
type Policy struct {
	Policy         PolicyDesc      `json:"policy"`
	Summary        Summary         `json:"summary"`
	FailureDetails []FailureDetail `json:"failure-details,omitempty"`
}

// PolicyDesc names the policy applied.
type PolicyDesc struct {
	PolicyType   string   `json:"policy-type"`
	PolicyString []string `json:"policy-string,omitempty"`
	PolicyDomain string   `json:"policy-domain"`
	MXHost       []string `json:"mx-host,omitempty"`
}

// Summary counts sessions.
type Summary struct {
	Success int64 `json:"total-successful-session-count"`
	Failure int64 `json:"total-failure-session-count"`
}

// FailureDetail counts one kind of failure with one host.
type FailureDetail struct {
	ResultType          string `json:"result-type"`
	SendingMTAIP        string `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname string `json:"receiving-mx-hostname,omitempty"`
	ReceivingMXHelo     string `json:"receiving-mx-helo,omitempty"`
	ReceivingIP         string `json:"receiving-ip,omitempty"`
	FailedSessionCount  int64  `json:"failed-session-count"`
	AdditionalInfo      string `json:"additional-information,omitempty"`
	FailureReasonCode   string `json:"failure-reason-code,omitempty"`
}

// Build makes the report of one policy domain for one UTC day from its
// counts (every result of the day's rows for that domain).
func Build(day time.Time, domain, org, contact string, rows []store.TLSResult) Report {
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	r := Report{
		OrganizationName: org, ContactInfo: contact,
		DateRange: DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
		ReportID:  fmt.Sprintf("%s_%s@%s", start.Format("2006-01-02T15:04:05Z"), domain, org),
		Policies:  []Policy{},
	}
	index := map[string]int{}
	for _, row := range rows {
		if !strings.EqualFold(row.PolicyDomain, domain) {
			continue
		}
		key := row.PolicyType + "\x00" + row.PolicyString
		i, ok := index[key]
		if !ok {
			i = len(r.Policies)
			index[key] = i
			p := Policy{Policy: PolicyDesc{PolicyType: row.PolicyType, PolicyDomain: domain}}
			if row.PolicyString != "" {
				p.Policy.PolicyString = strings.Split(row.PolicyString, "\n")
			}
			r.Policies = append(r.Policies, p)
		}
		p := &r.Policies[i]
		if row.MXHost != "" && !contains(p.Policy.MXHost, row.MXHost) {
			p.Policy.MXHost = append(p.Policy.MXHost, row.MXHost)
		}
		if row.ResultType == "" {
			p.Summary.Success += row.Sessions
			continue
		}
		p.Summary.Failure += row.Sessions
		p.FailureDetails = append(p.FailureDetails, FailureDetail{ResultType: row.ResultType,
			ReceivingMXHostname: row.MXHost, ReceivingIP: row.ReceivingIP, FailedSessionCount: row.Sessions})
	}
	return r
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Limits on a received report: RFC 8460 sets none; a busy sender's daily
// report is some kilobytes.
const (
	MaxReportSize = 1 << 20
	maxPolicies   = 1000
	maxDetails    = 10000
)

// Parse reads a JSON report and checks what a stored report needs.
func Parse(data []byte) (Report, error) {
	var r Report
	if len(data) > MaxReportSize {
		return r, errors.New("TLS report too large")
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("TLS report: %w", err)
	}
	switch {
	case r.ReportID == "" || len(r.ReportID) > 500:
		return r, errors.New("TLS report without a valid report-id")
	case r.OrganizationName == "" || len(r.OrganizationName) > 500:
		return r, errors.New("TLS report without a valid organization-name")
	case len(r.Policies) == 0 || len(r.Policies) > maxPolicies:
		return r, errors.New("TLS report with no or too many policies")
	case !r.DateRange.End.After(r.DateRange.Start):
		return r, errors.New("TLS report with an empty date-range")
	}
	details := 0
	for _, p := range r.Policies {
		details += len(p.FailureDetails)
		if p.Policy.PolicyDomain == "" || p.Summary.Success < 0 || p.Summary.Failure < 0 {
			return r, errors.New("TLS report with a bad policy")
		}
	}
	if details > maxDetails {
		return r, errors.New("TLS report with too many failure details")
	}
	return r, nil
}

// Totals sums the successful and failed sessions of every policy.
func (r Report) Totals() (success, failure int64) {
	for _, p := range r.Policies {
		success += p.Summary.Success
		failure += p.Summary.Failure
	}
	return success, failure
}
