package sqlstore

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"postern/internal/store"
)

func queueBlob(t *testing.T, s *Store, body string) store.NewBlob {
	t.Helper()
	w, err := s.Blobs().Create()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	io.WriteString(w, body)
	key, size, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return store.NewBlob{Key: key, Size: size, Inline: w.Inline()}
}

func TestQueueLifecycle(t *testing.T) {
	for _, inline := range []bool{true, false} {
		s := openTest(t)
		if !inline {
			s.Blobs().SetInlineMax(0)
		}
		ctx := context.Background()
		t0 := time.Unix(1_700_000_000, 0)
		nb := queueBlob(t, s, "Subject: x\r\n\r\nhello\r\n")
		id, err := s.Enqueue(ctx, nb, store.NewQueueMessage{Sender: "a@x.test",
			Recipients: []store.NewQueueRecipient{{Rcpt: "b@y.test"}, {Rcpt: "c@y.test", Notify: "FAILURE"}}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		due, err := s.QueueDue(ctx, t0, 10, nil)
		if err != nil || len(due) != 1 || len(due[0].Recipients) != 2 || due[0].Size != nb.Size {
			t.Fatalf("due %+v %v", due, err)
		}
		m := due[0]
		if due, _ := s.QueueDue(ctx, t0, 10, []int64{id}); len(due) != 0 {
			t.Fatalf("excluded message is due: %+v", due)
		}
		if _, ok, _ := s.QueueNextDue(ctx, []int64{id, 99}); ok {
			t.Fatal("excluded message has a next due time")
		}
		if _, ok, _ := s.QueueNextDue(ctx, []int64{99}); !ok {
			t.Fatal("no next due time")
		}
		later := t0.Add(5 * time.Minute)
		if done, err := s.QueueUpdate(ctx, id, []store.QueueUpdate{
			{RecipientID: m.Recipients[0].ID, Status: store.QueueDelivered},
			{RecipientID: m.Recipients[1].ID, Status: store.QueuePending, NextAttempt: later, Error: "451 try later"},
		}, true); err != nil || done {
			t.Fatal(done, err)
		}
		if due, _ := s.QueueDue(ctx, t0.Add(time.Minute), 10, nil); len(due) != 0 {
			t.Fatalf("due before retry time: %+v", due)
		}
		if next, ok, err := s.QueueNextDue(ctx, nil); err != nil || !ok || !next.Equal(later) {
			t.Fatalf("next due %v %v %v", next, ok, err)
		}
		if err := s.QueueHold(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		if n, err := s.QueueRetry(ctx, 0, t0); err != nil || n != 1 {
			t.Fatalf("retry all: %d %v", n, err)
		}
		if due, _ := s.QueueDue(ctx, t0, 10, nil); len(due) != 0 {
			t.Fatal("held message is due")
		}
		if err := s.QueueHold(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		got, err := s.QueueMessage(ctx, id)
		if err != nil || !got.Warned || got.Recipients[0].Status != store.QueueDelivered ||
			got.Recipients[1].LastError != "451 try later" || got.Recipients[1].Attempts != 1 {
			t.Fatalf("message %+v %v", got, err)
		}
		rc, err := s.OpenBlob(ctx, got.BlobID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "Subject: x\r\n\r\nhello\r\n" {
			t.Fatalf("body %q", b)
		}
		if err := s.QueueDelete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.QueueMessage(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if s.BlobReferenced(ctx, nb.Key) {
			t.Fatal("body still referenced after delete")
		}
		if !inline {
			if _, err := s.Blobs().Size(nb.Key); err == nil {
				t.Fatal("body file left after delete")
			}
		}
		if _, err := s.QueueRetry(ctx, id, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("retry of dropped: %v", err)
		}
		if _, err := s.QueueUpdate(ctx, id, nil, false); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of dropped: %v", err)
		}
	}
}

// TestQueueUpdateFinishes: the last outcome removes the entry and its body
// in the same transaction.
func TestQueueUpdateFinishes(t *testing.T) {
	s := openTest(t)
	s.Blobs().SetInlineMax(0)
	ctx := context.Background()
	nb := queueBlob(t, s, "Subject: y\r\n\r\nbody\r\n")
	id, err := s.Enqueue(ctx, nb, store.NewQueueMessage{Sender: "a@x.test", Recipients: []store.NewQueueRecipient{{Rcpt: "b@y.test"}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.QueueMessage(ctx, id)
	done, err := s.QueueUpdate(ctx, id, []store.QueueUpdate{{RecipientID: m.Recipients[0].ID, Status: store.QueueFailed, Error: "550"}}, false)
	if err != nil || !done {
		t.Fatalf("done %v err %v", done, err)
	}
	if list, _ := s.QueueList(ctx); len(list) != 0 {
		t.Fatalf("left %+v", list)
	}
	if _, err := s.Blobs().Size(nb.Key); err == nil {
		t.Fatal("body file left")
	}
}
