package jmap

import (
	"context"
	"log/slog"
	"strconv"

	"postern/internal/store"
)

// StoreChanges is the Changes of a store: every store.Change of an account
// becomes a StateChange giving each of Types the account's modseq as its
// state, in decimal, the state strings of internal/jmapmail (every change
// in an account moves them all). Events that queue up while one is being
// turned into a StateChange are merged into the next, so a burst of
// deliveries costs one notification.
type StoreChanges struct {
	Notifier store.Notifier
	// ModSeq reads the account's modseq (store.Mailstore.AccountModSeq).
	ModSeq func(ctx context.Context, accountID int64) (uint64, error)
	// Types are the data types whose state moves with every change
	// (e.g. Mailbox, Email, Thread).
	Types []string
	// DeliveryTypes are added when a message arrived (e.g. EmailDelivery,
	// RFC 8621 §1.5).
	DeliveryTypes []string
	Logger        *slog.Logger
}

// pushBuffer bounds the StateChanges waiting for a slow reader; past it
// the store's events wait in the notifier and merge into the next one.
const pushBuffer = 8

// Subscribe implements Changes.
func (c *StoreChanges) Subscribe(accountID string) (<-chan StateChange, func()) {
	out := make(chan StateChange, pushBuffer)
	id, ok := ParseAccountID(accountID)
	if !ok {
		close(out)
		return out, func() {}
	}
	events, cancel := c.Notifier.Subscribe(id)
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		for {
			var ev store.Change
			select {
			case <-ctx.Done():
				return
			case ev = <-events:
			}
			delivered := ev.Kind == store.ChangeNewMessage
			modseq := ev.ModSeq
			for more := true; more; {
				select {
				case next := <-events:
					delivered = delivered || next.Kind == store.ChangeNewMessage
					modseq = max(modseq, next.ModSeq)
				default:
					more = false
				}
			}
			states, err := c.states(ctx, id, delivered)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				c.log().Warn("jmap: reading the account state for push", "account", accountID, "err", err)
				states = c.statesAt(modseq, delivered)
			}
			select {
			case out <- StateChange{Changed: map[string]map[string]string{accountID: states}}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, stop
}

// CurrentState returns the state of every type of an account, for a
// WebSocket client's pushState (RFC 8887 §4.3.5).
func (c *StoreChanges) CurrentState(ctx context.Context, accountID string) (map[string]string, error) {
	id, ok := ParseAccountID(accountID)
	if !ok {
		return nil, store.ErrNotFound
	}
	return c.states(ctx, id, false)
}

func (c *StoreChanges) states(ctx context.Context, account int64, delivered bool) (map[string]string, error) {
	modseq, err := c.ModSeq(ctx, account)
	if err != nil {
		return nil, err
	}
	return c.statesAt(modseq, delivered), nil
}

func (c *StoreChanges) statesAt(modseq uint64, delivered bool) map[string]string {
	state := strconv.FormatUint(modseq, 10)
	m := make(map[string]string, len(c.Types)+len(c.DeliveryTypes))
	for _, t := range c.Types {
		m[t] = state
	}
	if delivered {
		for _, t := range c.DeliveryTypes {
			m[t] = state
		}
	}
	return m
}

func (c *StoreChanges) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
