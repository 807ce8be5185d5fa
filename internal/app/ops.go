package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"

	"postern/internal/admin"
	"postern/internal/adminops"
	"postern/internal/autoconfig"
	"postern/internal/health"
)

// autoconfigSettings are what clients are told: the hostname from the
// config, and the port of each listener that is on (as bound, once it is).
func (a *App) autoconfigSettings() autoconfig.Settings {
	cfg := a.cfg
	port := func(name, addr string) int {
		if b := a.Addr(name); b != nil {
			return portOf(b.String())
		}
		return portOf(addr)
	}
	return autoconfig.Settings{
		Hostname: cfg.Hostname,
		IMAPS:    port("imaps", cfg.Listen.IMAPS), IMAP: port("imap", cfg.Listen.IMAP),
		POP3S: port("pop3s", cfg.Listen.POP3S), POP3: port("pop3", cfg.Listen.POP3),
		Submissions: port("submissions", cfg.Listen.Submissions), Submission: port("submission", cfg.Listen.Submission),
		MTASTSMode: cfg.MTASTS.Mode, MTASTSMaxAge: cfg.MTASTS.MaxAge.Duration,
	}
}

// portOf is the port of a "host:port" listen address, 0 when off.
func portOf(addr string) int {
	if addr == "" {
		return 0
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// readyChecks are /readyz's conditions: the store answers and every
// configured listener is bound.
func (a *App) readyChecks() map[string]health.Check {
	return map[string]health.Check{
		"store": a.backend.Store.Ping,
		"listeners": func(context.Context) error {
			for _, l := range a.lns {
				if l.ln == nil {
					return fmt.Errorf("%s not bound", l.name)
				}
			}
			return nil
		},
	}
}

// AdminOps are the handlers of this package's operations views that the
// admin listener mounts (the lead's wiring, with the admin API's
// authentication in front of the /admin/api ones):
//
//	/metrics                              Metrics
//	/healthz, /readyz                     Healthz, Readyz
//	GET  /admin/api/log                   LogSearch
//	GET  /admin/api/log/trace             LogTrace
//	GET  /admin/api/queue                 Queue.List()
//	GET  /admin/api/queue/summary         Queue.Summary()
//	GET  /admin/api/queue/{id}            Queue.Show()
//	POST /admin/api/queue/{id}/{action}   Queue.Action()
//	GET  /admin/api/dashboard             Dashboard
type AdminOps struct {
	Metrics, Healthz, Readyz http.Handler
	LogSearch, LogTrace      http.Handler
	Queue                    *adminops.Queue
	Dashboard                http.Handler
}

// AdminOps builds the handlers; version is the binary's.
func (a *App) AdminOps(version string) AdminOps {
	st := a.backend.Store
	svc := admin.New(st, a.logger.With("component", "admin"), admin.Options{Hostname: a.cfg.Hostname, MTASTSMode: a.cfg.MTASTS.Mode})
	db := a.cfg.DatabasePath()
	dash := adminops.NewDashboard(adminops.DashboardOptions{
		Version: version, Services: a.listenerStates, QueueCounts: st.QueueCounts, Log: a.dlog,
		BodyDir:       a.cfg.BlobDir(),
		DatabaseFiles: []string{db, db + "-wal", filepath.Join(filepath.Dir(db), "text.db"), filepath.Join(filepath.Dir(db), "text.db-wal")},
		Certificates:  a.certs.leaves, Logger: a.logger.With("component", "dashboard"),
	})
	return AdminOps{
		Metrics: a.metrics.Handler(), Healthz: health.Healthz(), Readyz: health.Readyz(a.readyChecks()),
		LogSearch: a.dlog.SearchHandler(), LogTrace: a.dlog.TraceHandler(),
		Queue: adminops.NewQueue(svc, a.logger.With("component", "admin")), Dashboard: dash.Handler(),
	}
}

// listenerStates lists the listeners for the dashboard.
func (a *App) listenerStates() []adminops.Service {
	out := make([]adminops.Service, 0, len(a.lns))
	for _, l := range a.lns {
		if l.unix {
			continue // the control socket is no service of the mail system
		}
		s := adminops.Service{Name: l.name, Addr: l.addr, Port: portOf(l.addr), Up: l.ln != nil}
		if l.ln != nil {
			s.Addr = l.ln.Addr().String()
			s.Port = portOf(s.Addr)
		}
		out = append(out, s)
	}
	return out
}

// leaves are the certificates being served, for their expiry.
func (h *certHolder) leaves() []*x509.Certificate {
	c := h.cert.Load()
	if c == nil || len(c.Certificate) == 0 {
		return nil
	}
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil
		}
	}
	return []*x509.Certificate{leaf}
}
