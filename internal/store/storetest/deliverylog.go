package storetest

import (
	"errors"
	"testing"
	"time"

	"postern/internal/store"
)

// The delivery log: a delivery's rows are written with it (a row tied to
// a target only when that copy is stored, a row tied to a queued copy with
// its queue id), the queue's outcomes and actions add rows of the same
// message, and searches and traces find them before and after IndexLog.
func testDeliveryLog(t *testing.T, e *env) {
	a := e.setup()
	now := time.Now()
	out, err := e.s.Deliver(e.ctx, store.Delivery{Blob: e.body("Subject: x\r\n\r\nx\r\n", "x", "Subject: x"), InternalDate: now,
		Targets: []store.DeliveryTarget{{AccountID: a.ID}},
		Queue: []store.QueuedCopy{{NewQueueMessage: store.NewQueueMessage{Sender: "alice@example.org",
			Recipients: []store.NewQueueRecipient{{Rcpt: "bob@remote.test"}}}}},
		Log: []store.LogEvent{
			{Kind: store.LogAccepted, TxnID: "tx1", MessageID: "<m1@example.org>", Source: "submission", Sender: "Alice@example.org"},
			{Kind: store.LogDelivered, TxnID: "tx1", Rcpt: "alice@example.org", Detail: "INBOX", Target: 1},
			{Kind: store.LogQueued, TxnID: "tx1", Rcpt: "bob@remote.test", Queue: 1},
		}})
	if err != nil {
		t.Fatal(err)
	}
	qid := out.QueueIDs[0]
	q, _ := e.s.QueueMessage(e.ctx, qid)
	if _, err := e.s.QueueUpdate(e.ctx, qid, []store.QueueUpdate{{RecipientID: q.Recipients[0].ID, Status: store.QueuePending,
		Error: "451 later", NextAttempt: now.Add(time.Hour)}}, false); err != nil {
		t.Fatal(err)
	}
	if err := e.s.QueueHold(e.ctx, qid, true); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AppendLog(e.ctx, []store.LogEvent{{Kind: store.LogRejected, TxnID: "tx2", Sender: "spam@x.test", Rcpt: "nobody@example.org", Detail: "unknown user"}}); err != nil {
		t.Fatal(err)
	}
	want := []store.LogKind{store.LogAccepted, store.LogDelivered, store.LogQueued, store.LogDeferred, store.LogHeld}
	check := func(stage string) {
		t.Helper()
		for _, key := range []string{"tx1", "<m1@example.org>", "m1@example.org", "1"} {
			if key == "1" && qid != 1 {
				continue
			}
			rows, err := e.s.TraceLog(e.ctx, key)
			if err != nil || len(rows) != len(want) {
				t.Fatalf("%s: trace %s: %v %+v", stage, key, err, rows)
			}
			for i, r := range rows {
				if r.Kind != want[i] || r.Msg != rows[0].ID {
					t.Errorf("%s: trace %s row %d: %+v", stage, key, i, r)
				}
			}
			if rows[0].Sender != "alice@example.org" || rows[0].MessageID != "m1@example.org" || rows[2].QueueID != qid ||
				rows[3].QueueID != qid || rows[3].Rcpt != "bob@remote.test" || rows[3].Detail != "451 later" {
				t.Errorf("%s: rows %+v", stage, rows)
			}
		}
		for _, q := range []store.LogQuery{{Address: "BOB@remote.test"}, {Address: "alice@example.org"}, {MessageID: "m1@example.org"},
			{TxnID: "tx1"}, {QueueID: qid}, {TxnID: "tx1", Address: "bob@remote.test"}} {
			rows, err := e.s.SearchLog(e.ctx, q)
			if err != nil || len(rows) == 0 || rows[0].Kind != store.LogHeld {
				t.Errorf("%s: search %+v: %v %+v", stage, q, err, rows)
			}
		}
		if rows, _ := e.s.SearchLog(e.ctx, store.LogQuery{Address: "nobody@example.org"}); len(rows) != 1 || rows[0].Kind != store.LogRejected {
			t.Errorf("%s: refusal %+v", stage, rows)
		}
		if rows, _ := e.s.SearchLog(e.ctx, store.LogQuery{TxnID: "tx1", Address: "nobody@example.org"}); len(rows) != 0 {
			t.Errorf("%s: both keys must match: %+v", stage, rows)
		}
	}
	check("before IndexLog")
	if n, err := e.s.IndexLog(e.ctx, 2); err != nil || n != 2 {
		t.Fatalf("IndexLog: %d %v", n, err)
	}
	check("half indexed")
	if n, err := e.s.IndexLog(e.ctx, 100); err != nil || n != 4 {
		t.Fatalf("IndexLog: %d %v", n, err)
	}
	check("indexed")
	if _, err := e.s.TraceLog(e.ctx, "nothing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	counts, err := e.s.LogCounts(e.ctx, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, c := range counts {
		total += c.N
	}
	if total != 6 {
		t.Errorf("counts %+v", counts)
	}
	if n, err := e.s.PruneLog(e.ctx, time.Now().Add(time.Hour), 100); err != nil || n != 6 {
		t.Errorf("prune: %d %v", n, err)
	}
	if _, err := e.s.TraceLog(e.ctx, "tx1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after prune: %v", err)
	}
}
