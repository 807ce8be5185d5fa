package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"postern/internal/store"
)

// cmdQueue administers the outbound queue. It writes to the database; a
// running server notices within its poll interval (a few seconds).
func cmdQueue(e *env, args []string) error {
	withID := func(fn func(ctx context.Context, qs store.QueueStore, id int64) error) func(context.Context, store.Store, []string) error {
		return func(ctx context.Context, st store.Store, a []string) error {
			qs, err := queueStore(st)
			if err != nil {
				return err
			}
			id, err := strconv.ParseInt(a[0], 10, 64)
			if err != nil || id <= 0 {
				return usageError{fmt.Sprintf("queue: %q is not a queue id", a[0])}
			}
			return describe(fn(ctx, qs, id), "queue entry "+a[0])
		}
	}
	return dispatch(e, "queue", args, []subcommand{
		{name: "list", usage: "postern -c FILE queue list", nargs: 0,
			run: func(ctx context.Context, st store.Store, _ []string) error {
				qs, err := queueStore(st)
				if err != nil {
					return err
				}
				list, err := qs.QueueList(ctx)
				for _, m := range list {
					printEntry(e.stdout, m)
				}
				if err == nil && len(list) == 0 {
					fmt.Fprintln(e.stdout, "queue is empty")
				}
				return err
			}},
		{name: "show", usage: "postern -c FILE queue show ID", nargs: 1,
			run: withID(func(ctx context.Context, qs store.QueueStore, id int64) error {
				m, err := qs.QueueMessage(ctx, id)
				if err != nil {
					return err
				}
				printEntry(e.stdout, m)
				return printHeaders(ctx, e.stdout, qs, m)
			})},
		{name: "retry", usage: "postern -c FILE queue retry ID|all", nargs: 1,
			run: func(ctx context.Context, st store.Store, a []string) error {
				qs, err := queueStore(st)
				if err != nil {
					return err
				}
				if a[0] == "all" {
					n, err := qs.QueueRetry(ctx, 0, time.Now())
					if err == nil {
						fmt.Fprintf(e.stdout, "%d recipient(s) due now\n", n)
					}
					return err
				}
				return withID(func(ctx context.Context, qs store.QueueStore, id int64) error {
					n, err := qs.QueueRetry(ctx, id, time.Now())
					if err == nil {
						fmt.Fprintf(e.stdout, "%d recipient(s) due now\n", n)
					}
					return err
				})(ctx, st, a)
			}},
		{name: "drop", usage: "postern -c FILE queue drop ID", nargs: 1,
			run: withID(func(ctx context.Context, qs store.QueueStore, id int64) error {
				return qs.QueueDelete(ctx, id)
			})},
		{name: "hold", usage: "postern -c FILE queue hold ID", nargs: 1,
			run: withID(func(ctx context.Context, qs store.QueueStore, id int64) error {
				return qs.QueueHold(ctx, id, true)
			})},
		{name: "release", usage: "postern -c FILE queue release ID", nargs: 1,
			run: withID(func(ctx context.Context, qs store.QueueStore, id int64) error {
				return qs.QueueHold(ctx, id, false)
			})},
	})
}

func queueStore(st store.Store) (store.QueueStore, error) {
	qs, ok := st.(store.QueueStore)
	if !ok {
		return nil, errors.New("this storage backend has no outbound queue")
	}
	return qs, nil
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
		if r.LastError != "" {
			fmt.Fprintf(w, "\tlast=%s", oneLine(r.LastError))
		}
		fmt.Fprintln(w)
	}
}

// printHeaders writes the header block of the queued message.
func printHeaders(ctx context.Context, w io.Writer, qs store.QueueStore, m store.QueueMessage) error {
	bs, ok := qs.(interface {
		OpenBlob(ctx context.Context, id int64) (io.ReadCloser, error)
	})
	if !ok {
		return nil
	}
	rc, err := bs.OpenBlob(ctx, m.BlobID)
	if err != nil {
		return err
	}
	defer rc.Close()
	fmt.Fprintln(w)
	sc := bufio.NewScanner(io.LimitReader(rc, 1<<20))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		fmt.Fprintln(w, line)
	}
	return nil
}
