package queue

import (
	"bytes"
	"context"
	"errors"

	"postern/internal/store"
)

// record stores the outcomes of one attempt, logs one line per recipient,
// sends the failure and delay DSNs due, and removes a finished entry.
// The DSNs go out before the outcomes are committed: a crash in between
// repeats a DSN rather than losing it.
func (q *Queue) record(ctx context.Context, env envelope, due []store.QueueRecipient, outcomes map[int64]outcome) {
	shutdown := ctx.Err() != nil
	ctx = context.WithoutCancel(ctx)
	now := q.now()
	m := env.m
	age := now.Sub(m.CreatedAt)
	var updates []store.QueueUpdate
	var failed, delayed []dsnRecipient
	for _, r := range due {
		o := outcomes[r.ID]
		if o.status == store.QueuePending && shutdown {
			continue // interrupted, not refused: due again at once after restart
		}
		u := store.QueueUpdate{RecipientID: r.ID, Status: o.status, Error: o.diag, Peer: o.peer, TLS: o.tlsState()}
		if o.status == store.QueuePending {
			if age >= q.opts.MaxAge {
				u.Status = store.QueueFailed
				o.code = "4.4.7" // RFC 3463: delivery time expired
				o.diag = "gave up after " + age.Round(1e9).String() + "; last error: " + o.diag
				u.Error = o.diag
			} else {
				u.NextAttempt = now.Add(backoff(q.opts.FirstRetry, q.opts.MaxRetry, r.Attempts))
				// The "delayed" DSN goes out with an attempt: bring the
				// next one forward to when it is due, not a backoff later.
				if due := m.CreatedAt.Add(q.opts.DelayWarning); !m.Warned && notifies(r.Notify, "DELAY") &&
					due.After(now) && u.NextAttempt.After(due) {
					u.NextAttempt = due
				}
			}
		}
		q.logOutcome(env.id, r, u, o)
		dr := dsnRecipient{rcpt: r.Rcpt, orcpt: r.ORcpt, status: o.code, diag: o.diag, remoteMTA: hostOf(o.peer), lastAttempt: now}
		switch {
		case u.Status == store.QueueFailed && notifies(r.Notify, "FAILURE"):
			failed = append(failed, dr)
		case u.Status == store.QueuePending && notifies(r.Notify, "DELAY"):
			delayed = append(delayed, dr)
		}
		updates = append(updates, u)
	}
	if len(failed) > 0 {
		q.bounce(ctx, env, failed, false)
	}
	warn := !m.Warned && len(delayed) > 0 && age >= q.opts.DelayWarning
	if warn {
		q.bounce(ctx, env, delayed, true)
	}
	if len(updates) == 0 {
		return
	}
	done, err := q.st.QueueUpdate(ctx, m.ID, updates, warn)
	if errors.Is(err, store.ErrNotFound) {
		q.log.Info("entry dropped during the attempt", "queue_id", env.id)
		return
	}
	if err != nil {
		q.log.Error("recording delivery outcome failed", "queue_id", env.id, "err", err)
		return
	}
	if done {
		q.log.Info("removed", "queue_id", env.id)
	}
}

func (q *Queue) logOutcome(id string, r store.QueueRecipient, u store.QueueUpdate, o outcome) {
	attrs := []any{"queue_id", id, "rcpt", r.Rcpt, "attempt", r.Attempts + 1}
	if o.peer != "" {
		attrs = append(attrs, "peer", o.peer, "tls", o.tls, "tls_verified", o.verified)
	}
	switch u.Status {
	case store.QueueDelivered:
		q.log.Info("relayed", append(attrs, "reply", o.diag)...)
	case store.QueueFailed:
		q.log.Info("bounced", append(attrs, "status", o.code, "reason", o.diag)...)
	default:
		q.log.Info("deferred", append(attrs, "status", o.code, "reason", o.diag, "next_attempt", u.NextAttempt.UTC().Format("2006-01-02T15:04:05Z"))...)
	}
}

func hostOf(peer string) string {
	if i := bytes.IndexByte([]byte(peer), '['); i > 0 {
		return peer[:i]
	}
	return peer
}

// bounce sends a failure (or delay) DSN for rcpts to the sender of the
// message: never to the null sender, and never for a DSN (RFC 3461 §6.2,
// RFC 5321 §6.1: no bounces of bounces).
func (q *Queue) bounce(ctx context.Context, env envelope, rcpts []dsnRecipient, delayed bool) {
	m := env.m
	kind := "failure"
	if delayed {
		kind = "delay"
	}
	if m.Sender == "" || m.IsDSN {
		q.log.Info("dsn suppressed", "queue_id", env.id, "kind", kind, "reason", "null sender or bounce of a bounce")
		return
	}
	body := buildDSN(dsnInfo{
		hostname: q.opts.Hostname, queueID: env.id, sender: m.Sender, envID: m.EnvID,
		arrival: m.CreatedAt, delayed: delayed, retryTill: m.CreatedAt.Add(q.opts.MaxAge),
		rcpts: rcpts, headers: env.head, now: q.now(),
	})
	where, err := q.bouncer.Bounce(ctx, m.Sender, body)
	if err != nil {
		q.log.Error("dsn lost", "queue_id", env.id, "kind", kind, "to", m.Sender, "err", err)
		return
	}
	q.log.Info("dsn sent", "queue_id", env.id, "kind", kind, "to", m.Sender, "where", where)
}

// tlsState names how the attempt's connection was protected, "" without
// a connection.
func (o outcome) tlsState() string {
	switch {
	case o.peer == "":
		return ""
	case o.verified:
		return "tls-verified"
	case o.tls:
		return "tls"
	}
	return "none"
}
