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
)

// newAdminAPI builds the admin listener's server. Handlers of other
// packages that need no login (metrics, health) go in extra by path.
func newAdminAPI(cfg *config.Config, st store.Store, authSvc *auth.Service, tlsCfg *tls.Config, logger *slog.Logger, extra map[string]http.Handler) *adminapi.Server {
	return adminapi.New(adminapi.Options{
		Admin:  admin.New(st, logger.With("component", "admin"), admin.Options{Hostname: cfg.Hostname}),
		Auth:   authSvc,
		TLS:    tlsCfg,
		Extra:  extra,
		Logger: logger.With("svc", "admin"),
	})
}
