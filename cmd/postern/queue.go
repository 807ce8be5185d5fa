package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"postern/internal/admin"
	"postern/internal/store"
)

// cmdQueue administers the outbound queue. It writes to the database; a
// running server notices within its poll interval (a few seconds).
func cmdQueue(e *env, args []string) error {
	// withID parses the queue id: a word that is not one is a mistake in
	// the command line (exit 2), not a refusal.
	// fn has the shape of a method expression such as
	// (*admin.Service).QueueDrop.
	withID := func(fn func(svc *admin.Service, ctx context.Context, id int64) error) func(context.Context, *admin.Service, []string) error {
		return func(ctx context.Context, svc *admin.Service, a []string) error {
			id, err := strconv.ParseInt(a[0], 10, 64)
			if err != nil || id <= 0 {
				return usageError{fmt.Sprintf("queue: %q is not a queue id", a[0])}
			}
			return fn(svc, ctx, id)
		}
	}
	return dispatch(e, "queue", args, []subcommand{
		{name: "list", usage: "postern -c FILE queue list", nargs: 0,
			run: func(ctx context.Context, svc *admin.Service, _ []string) error {
				list, err := svc.QueueList(ctx)
				for _, m := range list {
					printEntry(e.stdout, m)
				}
				if err == nil && len(list) == 0 {
					fmt.Fprintln(e.stdout, "queue is empty")
				}
				return err
			}},
		{name: "show", usage: "postern -c FILE queue show ID", nargs: 1,
			run: withID(func(svc *admin.Service, ctx context.Context, id int64) error {
				m, err := svc.QueueShow(ctx, id)
				if err != nil {
					return err
				}
				printEntry(e.stdout, m.QueueMessage)
				fmt.Fprintln(e.stdout)
				for _, line := range m.Header {
					fmt.Fprintln(e.stdout, line)
				}
				return nil
			})},
		{name: "retry", usage: "postern -c FILE queue retry ID|all", nargs: 1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				retry := withID(func(svc *admin.Service, ctx context.Context, id int64) error {
					n, err := svc.QueueRetry(ctx, id)
					if err == nil {
						fmt.Fprintf(e.stdout, "%d recipient(s) due now\n", n)
					}
					return err
				})
				if a[0] != "all" {
					return retry(ctx, svc, a)
				}
				n, err := svc.QueueRetryAll(ctx)
				if err == nil {
					fmt.Fprintf(e.stdout, "%d recipient(s) due now\n", n)
				}
				return err
			}},
		{name: "drop", usage: "postern -c FILE queue drop ID", nargs: 1,
			run: withID((*admin.Service).QueueDrop)},
		{name: "hold", usage: "postern -c FILE queue hold ID", nargs: 1,
			run: withID((*admin.Service).QueueHold)},
		{name: "release", usage: "postern -c FILE queue release ID", nargs: 1,
			run: withID((*admin.Service).QueueRelease)},
	})
}

// printEntry writes one entry: a line for the message, one per recipient.
func printEntry(w io.Writer, m store.QueueMessage) {
	state := "active"
	if m.Held {
		state = "held"
	}
	sender := m.Sender
	if sender == "" {
		sender = "MAILER-DAEMON"
	}
	fmt.Fprintf(w, "%d\t%s\t%d bytes\t<%s>\t%s", m.ID, m.CreatedAt.UTC().Format(time.RFC3339), m.Size, sender, state)
	if m.IsDSN {
		fmt.Fprint(w, "\tbounce")
	}
	fmt.Fprintln(w)
	for _, r := range m.Recipients {
		fmt.Fprintf(w, "\t%s\t%s\tattempts=%d", r.Rcpt, r.Status, r.Attempts)
		if r.Status == store.QueuePending {
			fmt.Fprintf(w, "\tnext=%s", r.NextAttempt.UTC().Format(time.RFC3339))
		}
		if r.LastPeer != "" {
			fmt.Fprintf(w, "\tpeer=%s tls=%s", r.LastPeer, r.LastTLS)
		}
		if r.LastError != "" {
			fmt.Fprintf(w, "\tlast=%s", oneLine(r.LastError))
		}
		fmt.Fprintln(w)
	}
}
