package store

import (
	"context"
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
	Messages    int64
}

// DMARCCounts keeps the counts.
type DMARCCounts interface {
	// AddDMARCCounts adds to the counts, in one transaction.
	AddDMARCCounts(ctx context.Context, counts []DMARCCount) error
	// DMARCCounts returns the counts of the days from since on, by day,
	// domain, source.
	DMARCCounts(ctx context.Context, since time.Time) ([]DMARCCount, error)
}
