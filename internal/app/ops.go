package app

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"postern/internal/autoconfig"
	"postern/internal/config"
	"postern/internal/health"
)

// autoconfigSettings are what clients are told, from the config: the
// hostname and the port of each listener that is on.
func autoconfigSettings(cfg *config.Config) autoconfig.Settings {
	return autoconfig.Settings{
		Hostname: cfg.Hostname,
		IMAPS:    portOf(cfg.Listen.IMAPS), IMAP: portOf(cfg.Listen.IMAP),
		POP3S: portOf(cfg.Listen.POP3S), POP3: portOf(cfg.Listen.POP3),
		Submissions: portOf(cfg.Listen.Submissions), Submission: portOf(cfg.Listen.Submission),
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
