package jmap

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/store"
)

func recvChange(t *testing.T, ch <-chan StateChange) StateChange {
	t.Helper()
	select {
	case sc := <-ch:
		return sc
	case <-time.After(5 * time.Second):
		t.Fatal("no StateChange")
	}
	return StateChange{}
}

func TestStoreChanges(t *testing.T) {
	hub := store.NewHub()
	var modseq atomic.Uint64
	var fail atomic.Bool
	release, entered := make(chan struct{}), make(chan struct{}, 8)
	c := &StoreChanges{Notifier: hub, Types: []string{"Email", "Mailbox"}, DeliveryTypes: []string{"EmailDelivery"},
		ModSeq: func(ctx context.Context, account int64) (uint64, error) {
			if account != 7 {
				t.Errorf("ModSeq of account %d", account)
			}
			entered <- struct{}{}
			<-release
			if fail.Load() {
				return 0, errors.New("database gone")
			}
			return modseq.Load(), nil
		}}
	ch, stop := c.Subscribe("a7")
	defer stop()

	// Events that queue while one is being read merge into the next.
	modseq.Store(12)
	hub.Publish(store.Change{Kind: store.ChangeFlags, AccountID: 7, ModSeq: 10})
	<-entered // the first is being read
	hub.Publish(store.Change{Kind: store.ChangeNewMessage, AccountID: 7, ModSeq: 11})
	hub.Publish(store.Change{Kind: store.ChangeFlags, AccountID: 7, ModSeq: 12})
	hub.Publish(store.Change{Kind: store.ChangeFlags, AccountID: 8, ModSeq: 99}) // another account
	release <- struct{}{}
	if sc := recvChange(t, ch); mustJSON(sc) != `{"@type":"StateChange","changed":{"a7":{"Email":"12","Mailbox":"12"}}}` {
		t.Fatalf("first %s", mustJSON(sc))
	}
	release <- struct{}{}
	if sc := recvChange(t, ch); mustJSON(sc) != `{"@type":"StateChange","changed":{"a7":{"Email":"12","EmailDelivery":"12","Mailbox":"12"}}}` {
		t.Fatalf("merged %s", mustJSON(sc))
	}
	// When the state cannot be read, the events' own modseq stands in.
	fail.Store(true)
	hub.Publish(store.Change{Kind: store.ChangeExpunge, AccountID: 7, ModSeq: 15})
	release <- struct{}{}
	if sc := recvChange(t, ch); mustJSON(sc) != `{"@type":"StateChange","changed":{"a7":{"Email":"15","Mailbox":"15"}}}` {
		t.Fatalf("fallback %s", mustJSON(sc))
	}
	close(release)
	fail.Store(false)
	modseq.Store(15)
	if m, err := c.CurrentState(context.Background(), "a7"); err != nil || m["Email"] != "15" || len(m) != 2 {
		t.Errorf("CurrentState %v %v", m, err)
	}
	if _, err := c.CurrentState(context.Background(), "x"); err == nil {
		t.Error("CurrentState of a bad account id")
	}
	// A bad account id gives a closed channel.
	bad, stopBad := c.Subscribe("nope")
	defer stopBad()
	if _, open := <-bad; open {
		t.Error("channel of a bad account id is open")
	}
}
