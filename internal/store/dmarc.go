package store

import (
	"context"
	"strings"
	"time"
)

// DMARCCount is a number of received messages that shared one DMARC
// evaluation on one day: a row of an aggregate report (RFC 7489 §7.2).
type DMARCCount struct {
	Day         time.Time // midnight UTC
	HeaderFrom  string
	SourceIP    string
	Disposition string // none, quarantine, reject
	DKIM, SPF   string // the aligned results: pass or fail
	// The report's auth_results (RFC 7489 Appendix C): the SPF identity
	// checked, its scope (mfrom or helo) and result; the DKIM signatures
	// (FormatDKIMResults). Empty in rows counted before they were kept.
	SPFDomain, SPFScope, SPFResult string
	DKIMResults                    string
	Messages                       int64
}

// DMARCReportDone is a policy domain's report of one day that is done.
type DMARCReportDone struct {
	Day    time.Time
	Domain string
	// ReportID is the report sent, "" when the domain asked for none.
	ReportID string
}

// DMARCCounts keeps the counts.
type DMARCCounts interface {
	// AddDMARCCounts adds to the counts, in one transaction.
	AddDMARCCounts(ctx context.Context, counts []DMARCCount) error
	// DMARCCounts returns the counts of the days from since on, by day,
	// domain, source.
	DMARCCounts(ctx context.Context, since time.Time) ([]DMARCCount, error)
	// MarkDMARCReportDone records that the report of a policy domain for a
	// day is done; false when it already was (the report must not go again).
	MarkDMARCReportDone(ctx context.Context, done DMARCReportDone) (bool, error)
	// DMARCReportsDone returns the reports done of the days from since on.
	DMARCReportsDone(ctx context.Context, since time.Time) ([]DMARCReportDone, error)
	// DeleteDMARCCountsBefore forgets the counts and the reports done of
	// the days before day, in one transaction.
	DeleteDMARCCountsBefore(ctx context.Context, day time.Time) error
}

// DKIMResult is one DKIM signature's result, as a DMARC report tells it.
type DKIMResult struct {
	Domain, Selector, Result string
}

// maxDKIMResults bounds the signatures kept per row: the checks verify
// no more than 50.
const maxDKIMResults = 50

// FormatDKIMResults writes results as DMARCCount.DKIMResults:
// "domain/selector=result" separated by spaces. A character that would
// break the format (none in a valid domain or selector) becomes '_'.
func FormatDKIMResults(results []DKIMResult) string {
	var b strings.Builder
	for i, r := range results {
		if i == maxDKIMResults {
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(dkimToken(r.Domain) + "/" + dkimToken(r.Selector) + "=" + dkimToken(r.Result))
	}
	return b.String()
}

func dkimToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == '/' || r == '=' || r > '~' {
			return '_'
		}
		return r
	}, strings.ToLower(s))
}

// ParseDKIMResults reads DMARCCount.DKIMResults back; a malformed entry
// is skipped.
func ParseDKIMResults(s string) []DKIMResult {
	var out []DKIMResult
	for _, f := range strings.Fields(s) {
		ds, result, ok := strings.Cut(f, "=")
		domain, selector, ok2 := strings.Cut(ds, "/")
		if !ok || !ok2 || domain == "" || result == "" {
			continue
		}
		out = append(out, DKIMResult{Domain: domain, Selector: selector, Result: result})
	}
	return out
}
