package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"time"

	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/queue"
)

// newQueue builds the outbound queue from [outbound] and [dns].
func newQueue(cfg *config.Config, backend *Backend, dlv *deliver.Deliverer, logger *slog.Logger) *queue.Queue {
	o := cfg.Outbound
	return queue.New(backend.Store, backend.Blobs, localBounces{dlv}, queue.NewResolver(cfg.DNS.Servers), queue.Options{
		Hostname: cfg.Hostname, Port: o.Port,
		RelayHost: o.RelayHost, RelayUsername: o.RelayUsername, RelayPassword: string(o.RelayPassword), RelayTLS: o.RelayTLS,
		FirstRetry: o.FirstRetry.Duration, MaxRetry: o.MaxRetryInterval.Duration, MaxAge: o.MaxAge.Duration,
		DelayWarning: o.DelayWarning.Duration, MaxPerDomain: o.MaxPerDomain, MaxConnections: o.MaxConnections,
		ConnectTimeout: o.ConnectTimeout.Duration, CommandTimeout: o.CommandTimeout.Duration,
	}, logger, time.Now)
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

// localBounces delivers DSNs to senders whose domain is local.
type localBounces struct{ d *deliver.Deliverer }

func (l localBounces) DeliverLocal(ctx context.Context, rcpt string, body []byte) (bool, error) {
	addr, err := deliver.ParseAddress(rcpt)
	if err != nil {
		return false, nil
	}
	if local, err := l.d.IsLocalDomain(ctx, addr.Domain); err != nil || !local {
		return false, err
	}
	res, err := l.d.Resolve(ctx, addr)
	if err != nil {
		return true, err // an unknown local sender: the bounce has nowhere to go
	}
	accts := res.Accounts
	if len(accts) == 0 {
		// The sender is an alias that only forwards: a bounce is not
		// forwarded on (that is how bounce loops start).
		return true, nil
	}
	// RFC 5321 §4.4: the final delivery adds Return-Path; a DSN's is empty.
	r := io.MultiReader(bytes.NewReader([]byte("Return-Path: <>\r\n")), bytes.NewReader(body))
	_, err = l.d.Deliver(ctx, deliver.Message{From: "", Accounts: accts, Body: r, InternalDate: time.Now()})
	return true, err
}
