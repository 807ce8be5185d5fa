package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"postern/internal/admin"
	"postern/internal/app"
	"postern/internal/authcheck"
	"postern/internal/config"
	"postern/internal/store"
)

// cmdReports is `postern reports`: the aggregate reports other mail
// systems sent about our domains (TLS-RPT, DMARC).
func cmdReports(e *env, args []string) error {
	var domain string
	var asJSON bool
	var limit int
	list := func(kind store.ReportKind) func(ctx context.Context, _ *admin.Service, _ []string) error {
		return func(ctx context.Context, _ *admin.Service, _ []string) error {
			return listReports(e, kind, domain, limit, asJSON)
		}
	}
	flags := func(fs *flag.FlagSet) {
		fs.StringVar(&domain, "domain", "", "only the reports about this domain")
		fs.BoolVar(&asJSON, "json", false, "print each report in full, one JSON object a line")
		fs.IntVar(&limit, "limit", 50, "at most this many, newest first")
	}
	return dispatch(e, "reports", args, []subcommand{
		{name: "tls", usage: "postern -c FILE reports tls [--domain D] [--limit N] [--json]   (TLS-RPT, RFC 8460)", nargs: 0,
			flags: flags, run: list(store.ReportTLS)},
		{name: "dmarc", usage: "postern -c FILE reports dmarc [--domain D] [--limit N] [--json]   (DMARC aggregate, RFC 7489)", nargs: 0,
			flags: flags, run: list(store.ReportDMARC)},
		{name: "dmarc-sent", usage: "postern -c FILE reports dmarc-sent [--days N]   (the DMARC reports we send)", nargs: 0,
			flags: func(fs *flag.FlagSet) { fs.IntVar(&limit, "days", 14, "the last N days, today included") },
			run:   func(ctx context.Context, _ *admin.Service, _ []string) error { return listDMARCSent(e, limit) }},
	})
}

func listReports(e *env, kind store.ReportKind, domain string, limit int, asJSON bool) error {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	backend, err := app.OpenBackend(ctx, cfg, discardLogger())
	if err != nil {
		return err
	}
	defer backend.Close()
	var domains []string
	if domain != "" {
		domains = []string{domain}
	}
	list, err := backend.Store.Reports(ctx, kind, domains, limit)
	if err != nil {
		return err
	}
	for _, r := range list {
		if asJSON {
			line, _ := json.Marshal(map[string]any{"id": r.ID, "kind": r.Kind, "domain": r.Domain, "org_name": r.OrgName,
				"report_id": r.ReportID, "begin": r.Begin, "end": r.End, "received": r.Received, "from": r.From,
				"total": r.Total, "failed": r.Failed, "report": json.RawMessage(r.JSON)})
			fmt.Fprintln(e.stdout, string(line))
			continue
		}
		fmt.Fprintf(e.stdout, "%d\t%s\t%s\t%s\t%s..%s\ttotal=%d failed=%d\t%s\n", r.ID, r.Received.Format("2006-01-02T15:04Z"),
			r.Domain, r.OrgName, r.Begin.Format("2006-01-02T15:04Z"), r.End.Format("2006-01-02T15:04Z"), r.Total, r.Failed, r.ReportID)
	}
	return nil
}

// listDMARCSent prints, per day and domain, the DMARC aggregate report we
// sent ("sent" and its id), that none was asked ("not asked"), or that
// the day's report is still to come ("pending") with the messages counted.
func listDMARCSent(e *env, days int) error {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	backend, err := app.OpenBackend(ctx, cfg, discardLogger())
	if err != nil {
		return err
	}
	defer backend.Close()
	y, m, d := time.Now().UTC().Date()
	since := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1-max(days, 1))
	done, err := backend.Store.DMARCReportsDone(ctx, since)
	if err != nil {
		return err
	}
	counts, err := backend.Store.DMARCCounts(ctx, since)
	if err != nil {
		return err
	}
	isDone := map[string]bool{}
	for _, r := range done {
		isDone[r.Day.Format(time.DateOnly)+" "+r.Domain] = true
		status := "not asked"
		if r.ReportID != "" {
			status = "sent " + r.ReportID
		}
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", r.Day.Format(time.DateOnly), r.Domain, status)
	}
	type key struct{ day, domain string }
	pending := map[key]int64{}
	var order []key
	for _, c := range counts {
		k := key{c.Day.Format(time.DateOnly), strings.ToLower(c.HeaderFrom)}
		// A subdomain's mail is reported under its organisational domain.
		if isDone[k.day+" "+k.domain] || isDone[k.day+" "+authcheck.OrgDomain(k.domain)] {
			continue
		}
		if _, ok := pending[k]; !ok {
			order = append(order, k)
		}
		pending[k] += c.Messages
	}
	for _, k := range order {
		fmt.Fprintf(e.stdout, "%s\t%s\tpending\tmessages=%d\n", k.day, k.domain, pending[k])
	}
	return nil
}
