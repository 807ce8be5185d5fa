package metrics_test

import (
	"testing"

	"postern/internal/metrics"
)

// Every refusal reason of the port-25 gate is a series from the start,
// and each refusal counts once under its reason.
func TestRejectionsByReason(t *testing.T) {
	m := metrics.New(nil)
	m.Rejection("dnsbl")
	m.Rejection("greylist")
	m.Rejection("greylist")
	fams := scrape(t, m)
	for reason, want := range map[string]float64{"dnsbl": 1, "greylist": 2, "rate_connections": 0, "rate_sender_domain": 0} {
		if got := value(t, fams, "postern_smtp_rejections_total", "reason", reason); got != want {
			t.Errorf("rejections %s = %v, want %v", reason, got, want)
		}
	}
}
