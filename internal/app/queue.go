package app

import (
	"context"
	"log/slog"
	"time"

	"postern/internal/config"
	"postern/internal/dane"
	"postern/internal/mtasts"
	"postern/internal/queue"
)

// newQueue builds the outbound queue from [outbound] and [dns].
func newQueue(cfg *config.Config, backend *Backend, bouncer queue.Bouncer, logger *slog.Logger) *queue.Queue {
	o := cfg.Outbound
	resolver := queue.NewResolver(cfg.DNS.Servers)
	opts := queue.Options{
		Hostname: cfg.Hostname, Port: o.Port,
		RelayHost: o.RelayHost, RelayUsername: o.RelayUsername, RelayPassword: string(o.RelayPassword), RelayTLS: o.RelayTLS,
		FirstRetry: o.FirstRetry.Duration, MaxRetry: o.MaxRetryInterval.Duration, MaxAge: o.MaxAge.Duration,
		DelayWarning: o.DelayWarning.Duration, MaxPerDomain: o.MaxPerDomain, MaxConnections: o.MaxConnections,
		ConnectTimeout: o.ConnectTimeout.Duration, CommandTimeout: o.CommandTimeout.Duration,
		TLSResults: backend.Store,
	}
	if o.MTASTS {
		opts.STS = mtasts.New(resolver, backend.Store, mtasts.Options{Port: o.MTASTSPort}, logger, time.Now)
	}
	if o.DANE {
		opts.DANE = dane.NewResolver(cfg.DNS.Servers, logger)
	}
	return queue.New(backend.Store, bouncer, resolver, opts, logger, time.Now)
}

// Queue is the outbound queue (the Enqueuer for submission).
func (a *App) Queue() *queue.Queue { return a.queue }

// runQueue starts the queue runner; the returned func stops it and waits.
// It runs on its own context so that it outlives the servers' shutdown
// grace: submission may still hand it messages then.
func (a *App) runQueue() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.queue.Run(ctx)
	}()
	return func() { cancel(); <-done }
}
