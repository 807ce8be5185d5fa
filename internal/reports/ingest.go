package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"postern/internal/deliver"
	"postern/internal/store"
	"postern/internal/tlsrpt"
)

// Ingester parses and stores the reports of a mail.
type Ingester struct {
	st  store.Reports
	log *slog.Logger
	now func() time.Time
}

// NewIngester returns an ingester; now nil for time.Now.
func NewIngester(st store.Reports, logger *slog.Logger, now func() time.Time) *Ingester {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Ingester{st: st, log: logger.With("component", "reports"), now: now}
}

// Ingest stores the reports found in a mail from sender to a report
// address of domain; it returns how many were new. A report about another
// domain than domain or its subdomains is not stored: anyone can mail a
// report, and a domain's administrators see only their domains' reports.
// A mail with no report gives ErrNotReport.
func (in *Ingester) Ingest(ctx context.Context, sender, domain string, body io.Reader) (int, error) {
	payloads, err := Extract(body)
	if err != nil {
		return 0, err
	}
	stored := 0
	var errs []error
	for _, p := range payloads {
		rep, err := toReport(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !within(rep.Domain, domain) {
			errs = append(errs, fmt.Errorf("%s report about %s sent to %s's report address", rep.Kind, rep.Domain, domain))
			continue
		}
		rep.Received, rep.From = in.now(), sender
		id, err := in.st.AddReport(ctx, rep)
		switch {
		case errors.Is(err, store.ErrExists):
			in.log.Info("report already stored", "kind", rep.Kind, "org", rep.OrgName, "report_id", rep.ReportID)
		case err != nil:
			errs = append(errs, err)
		default:
			stored++
			in.log.Info("report received", "id", id, "kind", rep.Kind, "domain", rep.Domain, "org", rep.OrgName,
				"report_id", rep.ReportID, "total", rep.Total, "failed", rep.Failed)
		}
	}
	return stored, errors.Join(errs...)
}

func toReport(p Payload) (store.Report, error) {
	if p.Kind == store.ReportTLS {
		r, err := tlsrpt.Parse(p.Data)
		if err != nil {
			return store.Report{}, err
		}
		ok, bad := r.Totals()
		js, err := json.Marshal(r)
		return store.Report{Kind: store.ReportTLS, Domain: r.Policies[0].Policy.PolicyDomain, OrgName: r.OrganizationName,
			ReportID: r.ReportID, Begin: r.DateRange.Start, End: r.DateRange.End, Total: ok + bad, Failed: bad, JSON: string(js)}, err
	}
	f, err := ParseDMARC(p.Data)
	if err != nil {
		return store.Report{}, err
	}
	total, failed := f.Totals()
	begin, end := f.Period()
	js, err := json.Marshal(f)
	return store.Report{Kind: store.ReportDMARC, Domain: strings.ToLower(strings.TrimSpace(f.Policy.Domain)),
		OrgName: strings.TrimSpace(f.Metadata.OrgName), ReportID: strings.TrimSpace(f.Metadata.ReportID),
		Begin: begin, End: end, Total: total, Failed: failed, JSON: string(js)}, err
}

// Filter takes in the reports of mail from another MTA to a report
// address (postmaster@ one of our domains, what `postern dns` publishes
// as rua), then lets Next decide the delivery: the mail still reaches the
// postmaster's mailbox. A report that cannot be parsed is logged, never a
// reason to refuse the mail.
type Filter struct {
	Next     deliver.Filter
	Ingester *Ingester
}

// Filter implements deliver.Filter.
func (f Filter) Filter(ctx context.Context, in deliver.FilterInput) (deliver.FilterResult, error) {
	if in.Envelope.Source == deliver.SourceMX && isReportAddress(in.Recipient) {
		f.ingest(ctx, in)
	}
	return f.Next.Filter(ctx, in)
}

func (f Filter) ingest(ctx context.Context, in deliver.FilterInput) {
	rc, err := in.Message.Body.Open()
	if err != nil {
		f.Ingester.log.Warn("report mail not read", "id", in.Envelope.ID, "err", err)
		return
	}
	defer rc.Close()
	_, domain, _ := strings.Cut(in.Recipient, "@")
	n, err := f.Ingester.Ingest(ctx, in.Envelope.Sender, domain, rc)
	if err != nil && !errors.Is(err, ErrNotReport) {
		f.Ingester.log.Warn("report not parsed", "id", in.Envelope.ID, "rcpt", in.Recipient, "stored", n, "err", err)
	}
}

// within reports whether name is domain or one of its subdomains.
func within(name, domain string) bool {
	name, domain = strings.ToLower(strings.TrimSuffix(name, ".")), strings.ToLower(domain)
	return name == domain || strings.HasSuffix(name, "."+domain)
}

func isReportAddress(rcpt string) bool {
	local, _, ok := strings.Cut(strings.ToLower(rcpt), "@")
	return ok && local == "postmaster"
}
