package app

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"postern/internal/adminapi"
	"postern/internal/adminops"
	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/dkim"
	"postern/internal/dmarcrpt"
	"postern/internal/queue"
	"postern/internal/reports"
	"postern/internal/store"
	"postern/internal/tlsrpt"
)

// reportFilter takes in the aggregate reports mailed to our postmasters
// before the filter decides their delivery.
func reportFilter(next deliver.Filter, st store.Reports, logger *slog.Logger) deliver.Filter {
	return reports.Filter{Next: next, Ingester: reports.NewIngester(st, logger, nil)}
}

// newTLSReports builds the daily TLS-RPT sender ([outbound] tls_reports),
// nil when off. Reports go through the pipeline from the null sender.
func newTLSReports(cfg *config.Config, st store.TLSResults, signer *dkim.Signer, p *deliver.Pipeline, logger *slog.Logger) *tlsrpt.Sender {
	if !cfg.Outbound.TLSReports {
		return nil
	}
	return tlsrpt.NewSender(st, queue.NewResolver(cfg.DNS.Servers), p, tlsrpt.Options{
		Organization: cfg.Hostname, Contact: "postmaster@" + cfg.Hostname, From: "MAILER-DAEMON@" + cfg.Hostname,
		Sign: reportSigner(cfg.Hostname, signer, logger),
	}, logger, nil)
}

// reportSigner signs report mails with the keys of our host name's domain,
// or of its parent (mx.example.org signs as example.org).
func reportSigner(hostname string, signer *dkim.Signer, logger *slog.Logger) func(context.Context, []byte) []byte {
	domains := []string{hostname}
	if _, parent, ok := strings.Cut(hostname, "."); ok && strings.Contains(parent, ".") {
		domains = append(domains, parent)
	}
	return func(ctx context.Context, msg []byte) []byte {
		for _, d := range domains {
			sig, err := signer.Sign(ctx, d, msg)
			if err != nil {
				logger.Warn("report mail not signed", "domain", d, "err", err)
				continue
			}
			if len(sig) > 0 {
				return append(sig, msg...)
			}
		}
		return msg
	}
}

// runTLSReports sends the daily reports until ctx ends.
func (a *App) runTLSReports(ctx context.Context) {
	if a.tlsReports != nil {
		a.tlsReports.Run(ctx)
	}
}

// reportHandlers are the admin API's handlers of reports.
func (a *App) reportHandlers() *adminops.Reports {
	o := adminops.ReportsOptions{Store: a.backend.Store, Results: a.backend.Store, Who: adminapi.AdministratorFrom, Logger: a.logger.With("component", "admin")}
	if a.tlsReports != nil {
		o.SendTLS = func(ctx context.Context, day time.Time) (any, error) {
			sent, err := a.tlsReports.SendDay(ctx, day)
			if sent == nil {
				sent = []tlsrpt.Sent{}
			}
			return sent, err
		}
	}
	if a.dmarcReports != nil {
		o.SendDMARC = func(ctx context.Context, day time.Time) (any, error) {
			send := a.dmarcReports.SendPending
			if !day.IsZero() {
				send = func(ctx context.Context) ([]dmarcrpt.Sent, error) { return a.dmarcReports.SendDay(ctx, day) }
			}
			sent, err := send(ctx)
			if sent == nil {
				sent = []dmarcrpt.Sent{}
			}
			return sent, err
		}
	}
	return adminops.NewReports(o)
}
