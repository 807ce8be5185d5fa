package app

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"

	"postern/internal/antispam"
	"postern/internal/config"
	"postern/internal/metrics"
	"postern/internal/store/sqlstore"
)

// newGate builds port 25's antispam gate from [antispam]; the blocklists
// are asked through [dns] servers when set.
func newGate(cfg *config.Config, st *sqlstore.Store, m *metrics.Metrics, logger *slog.Logger) *antispam.Gate {
	a := cfg.Antispam
	o := antispam.Options{
		DNSBL: a.DNSBL, Resolver: dnsblResolver(cfg.DNS.Servers), DNSBLTimeout: a.DNSBLTimeout.Duration,
		Trusted:              a.Trusted(),
		ConnectionsPerMinute: a.ConnectionsPerMinute, MessagesPerHour: a.MessagesPerHour,
		RecipientsPerHour: a.RecipientsPerHour, SenderDomainPerHour: a.SenderDomainPerHour,
		MaxTracked: a.MaxTracked, Logger: logger.With("component", "antispam"), OnRefuse: m.Rejection,
	}
	if a.Greylist.Enabled {
		o.Greylist = &antispam.GreylistOptions{Store: st, Delay: a.Greylist.Delay.Duration,
			Window: a.Greylist.Window.Duration, PassFor: a.Greylist.PassFor.Duration, AutoPass: a.Greylist.AutoPass}
	}
	return antispam.New(o)
}

func dnsblResolver(servers []string) antispam.Resolver {
	if len(servers) == 0 {
		return net.DefaultResolver
	}
	var d net.Dialer
	var n atomic.Uint32
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, servers[int(n.Add(1))%len(servers)])
	}}
}
