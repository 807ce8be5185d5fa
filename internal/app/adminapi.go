package app

import (
	"crypto/tls"
	"log/slog"
	"net/http"

	"postern/internal/admin"
	"postern/internal/adminapi"
	"postern/internal/auth"
	"postern/internal/config"
	"postern/internal/store"
	"postern/internal/webmail"
)

// Version is the binary's version, shown on the admin dashboard; the
// command sets it.
var Version = "dev"

// newAdminAPI builds the admin listener's server: the admin API, the
// operations views behind its login (ops), and metrics and health, which
// need none.
func newAdminAPI(cfg *config.Config, st store.Store, authSvc *auth.Service, tlsCfg *tls.Config, logger *slog.Logger, ops AdminOps, assets *webmail.Assets) *adminapi.Server {
	return adminapi.New(adminapi.Options{
		Admin: admin.New(st, logger.With("component", "admin"), admin.Options{Hostname: cfg.Hostname,
			MTASTSMode: cfg.MTASTS.Mode, DNS: admin.NewDNSLookup(cfg.DNS.Servers)}),
		Auth:  authSvc,
		TLS:   tlsCfg,
		Extra: map[string]http.Handler{"/metrics": ops.Metrics, "/healthz": ops.Healthz, "/readyz": ops.Readyz},
		Protected: map[string]http.Handler{
			"GET /admin/api/log":                  ops.LogSearch,
			"GET /admin/api/log/trace":            ops.LogTrace,
			"GET /admin/api/queue":                ops.Queue.List(),
			"GET /admin/api/queue/summary":        ops.Queue.Summary(),
			"GET /admin/api/queue/{id}":           ops.Queue.Show(),
			"POST /admin/api/queue/{id}/{action}": ops.Queue.Action(),
			"GET /admin/api/dashboard":            ops.Dashboard,
			"POST /admin/api/reports/tls/send":    ops.Reports.SendTLS(),
			"POST /admin/api/reports/dmarc/send":  ops.Reports.SendDMARC(),
			"GET /admin/api/reports/tls/outbound": ops.Reports.Outbound(),
		},
		Scoped: map[string]http.Handler{
			"GET /admin/api/reports/tls":   ops.Reports.List(store.ReportTLS),
			"GET /admin/api/reports/dmarc": ops.Reports.List(store.ReportDMARC),
		},
		Assets: assets,
		Logger: logger.With("svc", "admin"),
	})
}
