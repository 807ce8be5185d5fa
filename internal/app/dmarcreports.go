package app

import (
	"context"
	"log/slog"

	"postern/internal/authcheck"
	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/dkim"
	"postern/internal/dmarcrpt"
	"postern/internal/resolve"
	"postern/internal/store"
)

// newDMARCReports builds the daily DMARC aggregate report sender ([checks]
// dmarc_reports), nil when off or when nothing counts DMARC evaluations.
// Reports go through the pipeline from the null sender, signed as the
// TLS reports are.
func newDMARCReports(cfg *config.Config, st store.DMARCCounts, signer *dkim.Signer, p *deliver.Pipeline,
	tally *authcheck.Tally, logger *slog.Logger) *dmarcrpt.Sender {
	c := cfg.Checks
	if !c.Enabled || !c.DMARC || !c.DMARCReports {
		return nil
	}
	from := c.DMARCReportFrom
	if from == "" {
		from = "postmaster@" + cfg.Hostname
	}
	return dmarcrpt.NewSender(st, resolve.New(resolve.Options{Servers: cfg.DNS.Servers, MaxEntries: 1000}), p, dmarcrpt.Options{
		Organization: cfg.Hostname, Contact: "postmaster@" + cfg.Hostname, From: from,
		Sign:  reportSigner(cfg.Hostname, signer, logger),
		Flush: func(ctx context.Context) { writeTally(ctx, tally, st, logger) },
	}, logger, nil)
}

// runDMARCReports sends the daily reports until ctx ends.
func (a *App) runDMARCReports(ctx context.Context) {
	if a.dmarcReports != nil {
		a.dmarcReports.Run(ctx)
	}
}
