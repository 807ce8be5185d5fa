package admin

import (
	"slices"
	"testing"
	"time"

	"postern/internal/store"
)

// enqueue puts a message for rcpts into the queue, as submission does.
func (h *harness) enqueue(rcpts ...string) int64 {
	h.t.Helper()
	body := "From: <alice@example.org>\r\nSubject: a long\r\n subject\r\n\r\nbody text\r\n"
	rp := "Return-Path: <alice@example.org>\r\n"
	msg := store.NewQueueMessage{Sender: "alice@example.org"}
	for _, r := range rcpts {
		msg.Recipients = append(msg.Recipients, store.NewQueueRecipient{Rcpt: r})
	}
	// Due in an hour, so that a retry has something to bring forward.
	out, err := h.st.Deliver(h.ctx, store.Delivery{Blob: store.NewBlob{Body: store.BytesBody(rp + body)}, InternalDate: time.Now().Add(time.Hour),
		Queue: []store.QueuedCopy{{Skip: int64(len(rp)), NewQueueMessage: msg}}})
	if err != nil {
		h.t.Fatal(err)
	}
	return out.QueueIDs[0]
}

func TestQueue(t *testing.T) {
	h := newHarness(t)
	if list, err := h.svc.QueueList(h.ctx); err != nil || len(list) != 0 {
		t.Fatalf("empty queue: %+v %v", list, err)
	}
	one := h.enqueue("bob@remote.test", "carol@remote.test")
	two := h.enqueue("dave@remote.test")

	list, err := h.svc.QueueList(h.ctx)
	if err != nil || len(list) != 2 || list[0].ID != one || len(list[0].Recipients) != 2 {
		t.Fatalf("queue list: %+v %v", list, err)
	}
	e, err := h.svc.QueueShow(h.ctx, one)
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := []string{"From: <alice@example.org>", "Subject: a long", " subject"}
	if e.ID != one || e.Sender != "alice@example.org" || !slices.Equal(e.Header, wantHeader) {
		t.Errorf("queue show: %+v header %q", e.QueueMessage, e.Header)
	}
	h.wantNoAudit("reads")

	if err := h.svc.QueueHold(h.ctx, one); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("queue.hold", qid(one))
	if e, _ := h.svc.QueueShow(h.ctx, one); !e.Held {
		t.Error("not held")
	}
	n, err := h.svc.QueueRetry(h.ctx, one)
	if err != nil || n != 2 {
		t.Errorf("retry: %d %v", n, err)
	}
	h.wantAudit("queue.retry", qid(one), "recipients", 2)
	if err := h.svc.QueueRelease(h.ctx, one); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("queue.release", qid(one))
	if e, _ := h.svc.QueueShow(h.ctx, one); e.Held || e.Recipients[0].NextAttempt.After(time.Now()) {
		t.Errorf("after release and retry: held %v, next %v", e.Held, e.Recipients[0].NextAttempt)
	}
	n, err = h.svc.QueueRetryAll(h.ctx)
	if err != nil || n != 3 {
		t.Errorf("retry all: %d %v", n, err)
	}
	h.wantAudit("queue.retry", "all", "recipients", 3)

	if err := h.svc.QueueDrop(h.ctx, two); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("queue.drop", qid(two))
	missing := qid(two)
	wantErr(t, h.svc.QueueDrop(h.ctx, two), KindNotFound, "id", "queue entry "+missing+" does not exist")
	wantErr(t, h.svc.QueueHold(h.ctx, two), KindNotFound, "id", "queue entry "+missing+" does not exist")
	wantErr(t, h.svc.QueueRelease(h.ctx, two), KindNotFound, "id", "does not exist")
	_, err = h.svc.QueueRetry(h.ctx, two)
	wantErr(t, err, KindNotFound, "id", "does not exist")
	_, err = h.svc.QueueShow(h.ctx, two)
	wantErr(t, err, KindNotFound, "id", "does not exist")
	for _, bad := range []int64{0, -3} {
		wantErr(t, h.svc.QueueDrop(h.ctx, bad), KindInvalid, "id", "is not a queue id")
		_, err := h.svc.QueueRetry(h.ctx, bad)
		wantErr(t, err, KindInvalid, "id", "is not a queue id")
		_, err = h.svc.QueueShow(h.ctx, bad)
		wantErr(t, err, KindInvalid, "id", "is not a queue id")
	}
	h.wantNoAudit("refused queue changes")
	if list, _ := h.svc.QueueList(h.ctx); len(list) != 1 {
		t.Errorf("queue after drop: %+v", list)
	}
}
