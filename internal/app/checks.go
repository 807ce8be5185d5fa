package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"postern/internal/authcheck"
	"postern/internal/config"
	"postern/internal/resolve"
	"postern/internal/store"
)

// tallyFlush is how often the DMARC counts go to the database.
const tallyFlush = time.Minute

// newVerdictCounter counts the inbound checks' verdicts in reg as
// postern_inbound_verdicts_total{action}, across reloads.
func newVerdictCounter(reg prometheus.Registerer) func(authcheck.Action) {
	verdicts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postern_inbound_verdicts_total",
		Help: "Messages on port 25 by the inbound checks' verdict: accept, junk (DMARC quarantine), defer (DNS failure), reject."},
		[]string{"action"})
	var byAction [authcheck.Reject + 1]prometheus.Counter
	for a := range byAction {
		byAction[a] = verdicts.WithLabelValues(authcheck.Action(a).String())
	}
	reg.MustRegister(verdicts)
	return func(a authcheck.Action) { byAction[a].Inc() }
}

// newChecker builds the inbound checks of port 25 from [checks] and
// [dns]; nil when they are off.
func newChecker(cfg *config.Config, isLocal func(context.Context, string) (bool, error), onVerdict func(authcheck.Action)) *authcheck.Checker {
	c := cfg.Checks
	if !c.Enabled {
		return nil
	}
	res := resolve.New(resolve.Options{Servers: cfg.DNS.Servers, MaxEntries: c.DNSCacheEntries})
	return authcheck.New(authcheck.Options{
		Resolver: res, Hostname: cfg.Hostname, IsLocal: isLocal,
		Budget: c.DNSTimeout.Duration, MaxSignatures: c.MaxDKIMSignatures,
		Skip:             map[string]bool{"spf": !c.SPF, "dkim": !c.DKIM, "dmarc": !c.DMARC, "arc": !c.ARC, "iprev": !c.IPRev},
		AcceptTempErrors: c.DNSFailure == "accept",
		OnVerdict:        onVerdict,
	})
}

// flushTally writes the DMARC counts every tallyFlush, and once more when
// ctx ends.
func flushTally(ctx context.Context, t *authcheck.Tally, st store.DMARCCounts, log *slog.Logger) {
	tick := time.NewTicker(tallyFlush)
	defer tick.Stop()
	for {
		done := false
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		writeTally(ctx, t, st, log)
		if done {
			return
		}
	}
}

// writeTally writes the DMARC counts taken from t.
func writeTally(ctx context.Context, t *authcheck.Tally, st store.DMARCCounts, log *slog.Logger) {
	rows, dropped := t.Take()
	if dropped > 0 {
		log.Warn("DMARC counts dropped: too many distinct sources", "dropped", dropped)
	}
	if len(rows) > 0 {
		out := make([]store.DMARCCount, 0, len(rows))
		for c, n := range rows {
			out = append(out, store.DMARCCount{Day: c.Day, HeaderFrom: c.HeaderFrom, SourceIP: c.SourceIP,
				Disposition: c.Disposition, DKIM: c.DKIM, SPF: c.SPF, SPFDomain: c.SPFDomain, SPFScope: c.SPFScope,
				SPFResult: c.SPFResult, DKIMResults: c.DKIMResults, Messages: n})
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := st.AddDMARCCounts(wctx, out); err != nil {
			log.Error("writing DMARC counts", "rows", len(out), "err", err)
		}
		cancel()
	}
}
