package store

import (
	"context"
	"time"
)

// MTASTSPolicy is a recipient domain's MTA-STS policy as last fetched
// (RFC 8461 §5.1: cached for its max_age, replaced when the domain's
// record names a new id).
type MTASTSPolicy struct {
	Domain string
	// ID is the id of the _mta-sts record the policy was fetched under.
	ID string
	// Body is the policy file as served.
	Body      string
	FetchedAt time.Time
	ExpiresAt time.Time
}

// MTASTSCache is the durable cache of MTA-STS policies.
type MTASTSCache interface {
	// MTASTSPolicy returns the cached policy of domain, ErrNotFound when
	// there is none (expired ones are returned: the caller decides).
	MTASTSPolicy(ctx context.Context, domain string) (MTASTSPolicy, error)
	// PutMTASTSPolicy stores or replaces the policy of p.Domain.
	PutMTASTSPolicy(ctx context.Context, p MTASTSPolicy) error
}

// TLSResult is a count of outbound TLS sessions with one outcome, for
// TLS-RPT (RFC 8460 §4.3, §4.4). A success has ResultType "".
type TLSResult struct {
	// Day is the UTC day, "2006-01-02".
	Day          string
	PolicyDomain string
	// PolicyType is "sts", "tlsa" or "no-policy-found"; PolicyString the
	// policy's lines joined by "\n".
	PolicyType   string
	PolicyString string
	MXHost       string
	ReceivingIP  string
	ResultType   string
	Sessions     int64
}

// TLSResults is the storage of outbound TLS results and of which daily
// reports were sent.
type TLSResults interface {
	// AddTLSResult adds r.Sessions to the count of r's day, domain, policy,
	// host, address and result.
	AddTLSResult(ctx context.Context, r TLSResult) error
	// TLSResults lists the counts of one day, every domain.
	TLSResults(ctx context.Context, day string) ([]TLSResult, error)
	// MarkTLSReportSent records that the report of domain for day went out;
	// false when it already had.
	MarkTLSReportSent(ctx context.Context, day, domain string) (bool, error)
	// DeleteTLSResultsBefore forgets the counts of days before day.
	DeleteTLSResultsBefore(ctx context.Context, day string) error
}

// ReportKind is the kind of an aggregate report we received.
type ReportKind string

// The report kinds.
const (
	ReportTLS   ReportKind = "tls"   // TLS-RPT (RFC 8460)
	ReportDMARC ReportKind = "dmarc" // DMARC aggregate (RFC 7489 §7.2)
)

// Report is one aggregate report received for one of our domains.
type Report struct {
	ID   int64
	Kind ReportKind
	// Domain is our domain the report is about (the policy domain).
	Domain   string
	OrgName  string
	ReportID string
	Begin    time.Time
	End      time.Time
	// Received is when it arrived; From the envelope sender.
	Received time.Time
	From     string
	// Sessions (TLS) or messages (DMARC) counted in the report, and how
	// many of them failed.
	Total, Failed int64
	// JSON is the parsed report, the same shape for every reader.
	JSON string
}

// Reports is the storage of received aggregate reports.
type Reports interface {
	// AddReport stores r; a report already stored (same kind, organisation
	// and report id) is not stored twice and gives ErrExists.
	AddReport(ctx context.Context, r Report) (int64, error)
	// Reports lists the reports of kind, newest first, of the given domains
	// (nil: every domain), at most limit.
	Reports(ctx context.Context, kind ReportKind, domains []string, limit int) ([]Report, error)
}
