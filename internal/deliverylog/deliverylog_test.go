package deliverylog_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postern/internal/deliver"
	"postern/internal/deliverylog"
	"postern/internal/msgmeta"
	"postern/internal/queue"
	"postern/internal/queue/queuetest"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// world is a real store, pipeline and queue, with local.test (alice) here
// and remote.test served by a fake MX.
type world struct {
	st   *sqlstore.Store
	p    *deliver.Pipeline
	q    *queue.Queue
	log  *deliverylog.Log
	peer *queuetest.Peer
	clk  *clock
}

func newWorld(t *testing.T, rcpt func(string) error) *world {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "local.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAccount(ctx, "alice@local.test", store.Credentials{}); err != nil {
		t.Fatal(err)
	}
	w := &world{st: st, clk: &clock{t: time.Now()}}
	w.peer = (&queuetest.Peer{Hostname: "mx.remote.test", Rcpt: rcpt}).Start(t)
	dns := queuetest.StartDNS(t)
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1")
	w.log = deliverylog.New(st, deliverylog.Options{Now: w.clk.now})
	w.p = deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: msgmeta.Parse, Log: w.log})
	w.q = queue.New(st, w.p, queue.NewResolver([]string{dns.Addr}), queue.Options{
		Hostname: "postern.local.test", Port: w.peer.Port, RootCAs: w.peer.Roots, RelayTLS: "starttls",
		FirstRetry: time.Minute, MaxRetry: time.Hour, MaxAge: 48 * time.Hour, DelayWarning: 4 * time.Hour,
		MaxPerDomain: 2, MaxConnections: 4, ConnectTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second,
	}, nil, nil)
	t.Cleanup(w.q.Close)
	w.p.SetQueue(w.q)
	return w
}

func (w *world) send(t *testing.T, id string, src deliver.Source, msgID string, rcpts ...string) deliver.Result {
	t.Helper()
	ctx := context.Background()
	tx := w.p.Begin(deliver.Envelope{ID: id, Source: src, Sender: "sender@elsewhere.test"})
	for _, r := range rcpts {
		if err := tx.AddRecipient(ctx, r, deliver.RcptOptions{}); err != nil {
			t.Fatalf("rcpt %s: %v", r, err)
		}
	}
	body := "From: sender@elsewhere.test\r\nTo: someone\r\nSubject: trace\r\nMessage-ID: <" + msgID + ">\r\n\r\nhello\r\n"
	res, err := tx.Deliver(ctx, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func kinds(steps []deliverylog.Step) string {
	var k []string
	for _, s := range steps {
		k = append(k, s.Kind+":"+s.Rcpt)
	}
	return strings.Join(k, " ")
}

func get(t *testing.T, h http.Handler, target string, into any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if into != nil && rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
			t.Fatalf("%s: %v\n%s", target, err, rec.Body)
		}
	}
	return rec.Code
}

// A message for a local and a remote recipient: accepted, delivered to the
// mailbox, queued, relayed to the fake MX with its reply; the trace finds
// it by transaction id, Message-ID and queue id, in order, with times.
func TestTraceLocalAndRelayed(t *testing.T) {
	w := newWorld(t, nil)
	res := w.send(t, "txn1", deliver.SourceSubmission, "m1@elsewhere.test", "alice@local.test", "bob@remote.test")
	if len(res.QueueIDs) != 1 || len(res.Delivered) != 1 {
		t.Fatalf("result %+v", res)
	}
	w.q.Flush(context.Background())
	if len(w.peer.Mails()) != 1 {
		t.Fatalf("peer got %d mails", len(w.peer.Mails()))
	}
	qid := res.QueueIDs[0]
	for _, key := range []string{"txn1", "<m1@elsewhere.test>", "m1@elsewhere.test", queue.FormatID(qid)} {
		var tr deliverylog.Trace
		if code := get(t, w.log.TraceHandler(), "/admin/api/log/trace?key="+url.QueryEscape(key), &tr); code != 200 {
			t.Fatalf("trace %s: %d", key, code)
		}
		want := "accepted: delivered:alice@local.test queued:bob@remote.test relayed:bob@remote.test"
		if got := kinds(tr.Steps); got != want {
			t.Fatalf("trace %s:\n got %s\nwant %s", key, got, want)
		}
		acc := tr.Steps[0]
		if acc.MessageID != "m1@elsewhere.test" || acc.Source != "submission" || acc.Sender == nil || *acc.Sender != "sender@elsewhere.test" ||
			!strings.Contains(acc.Detail, "alice@local.test") || !strings.Contains(acc.Detail, "bob@remote.test") {
			t.Errorf("accepted step %+v", acc)
		}
		if d := tr.Steps[1].Detail; d != "alice@local.test INBOX" {
			t.Errorf("delivered detail %q", d)
		}
		rel := tr.Steps[3]
		if rel.QueueID != qid || !strings.Contains(rel.Detail, "250") || !strings.Contains(rel.Detail, "127.0.0.1") {
			t.Errorf("relayed step %+v", rel)
		}
		if tr.Outcome["alice@local.test"] != "delivered" || tr.Outcome["bob@remote.test"] != "relayed" {
			t.Errorf("outcome %v", tr.Outcome)
		}
		for i := 1; i < len(tr.Steps); i++ {
			if tr.Steps[i].Time.Before(tr.Steps[i-1].Time) || tr.Steps[i].AfterMS < 0 {
				t.Errorf("steps out of order: %+v", tr.Steps)
			}
		}
	}
	if code := get(t, w.log.TraceHandler(), "/admin/api/log/trace?key=nothing", nil); code != 404 {
		t.Errorf("unknown key: %d", code)
	}
	if code := get(t, w.log.TraceHandler(), "/admin/api/log/trace", nil); code != 400 {
		t.Errorf("no key: %d", code)
	}
}

// Remote-only mail is not parsed; its Message-ID still reaches the log.
// A 4xx is deferred with the reply; the administrator's hold, release
// and drop are rows of the entry too; search finds them by address and
// queue id.
func TestDeferredAndQueueActions(t *testing.T) {
	w := newWorld(t, func(string) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	})
	ctx := context.Background()
	res := w.send(t, "txn2", deliver.SourceSubmission, "m2@elsewhere.test", "carol@remote.test")
	qid := res.QueueIDs[0]
	w.q.Flush(ctx)
	if err := w.st.QueueHold(ctx, qid, true); err != nil {
		t.Fatal(err)
	}
	if err := w.st.QueueHold(ctx, qid, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.QueueRetry(ctx, qid, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := w.st.QueueDelete(ctx, qid); err != nil {
		t.Fatal(err)
	}
	var tr deliverylog.Trace
	get(t, w.log.TraceHandler(), "/x?key=m2@elsewhere.test", &tr)
	want := "accepted: queued:carol@remote.test deferred:carol@remote.test held: released: retried: dropped:"
	if got := kinds(tr.Steps); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !strings.Contains(tr.Steps[2].Detail, "451 4.3.0 try later") {
		t.Errorf("deferred detail %q", tr.Steps[2].Detail)
	}
	// Searches find the rows before their keys are indexed (by reading
	// them) and after (through the index).
	w.send(t, "txn-other", deliver.SourceSubmission, "other@elsewhere.test", "dave@remote.test")
	for _, indexed := range []bool{false, true} {
		if indexed {
			if n, err := w.log.Index(ctx); err != nil || n != 9 {
				t.Fatalf("indexed %d rows, %v", n, err)
			}
		}
		var found struct {
			Events []deliverylog.Event `json:"events"`
		}
		if code := get(t, w.log.SearchHandler(), "/x?address=CAROL@remote.test", &found); code != 200 {
			t.Fatal(code)
		}
		if len(found.Events) != 7 || found.Events[0].Kind != "dropped" || found.Events[6].Kind != "accepted" {
			t.Errorf("indexed %v: search by address: %+v", indexed, found.Events)
		}
		get(t, w.log.SearchHandler(), "/x?queue_id="+queue.FormatID(qid)+"&limit=2", &found)
		if len(found.Events) != 2 || found.Events[0].Kind != "dropped" {
			t.Errorf("indexed %v: search by queue id: %+v", indexed, found.Events)
		}
		get(t, w.log.SearchHandler(), "/x?message_id=%3Cm2@elsewhere.test%3E&limit=1", &found)
		if len(found.Events) != 1 || found.Events[0].Kind != "dropped" || found.Events[0].Msg == 0 {
			t.Errorf("indexed %v: search by Message-ID: %+v", indexed, found.Events)
		}
		get(t, w.log.SearchHandler(), "/x?address=sender@elsewhere.test&txn=txn-other", &found)
		if len(found.Events) != 2 || found.Events[1].TxnID != "txn-other" {
			t.Errorf("indexed %v: search by sender and txn: %+v", indexed, found.Events)
		}
		get(t, w.log.SearchHandler(), "/x?address=nobody@elsewhere.test", &found)
		if len(found.Events) != 0 {
			t.Errorf("indexed %v: search for nobody: %+v", indexed, found.Events)
		}
		var tr deliverylog.Trace
		get(t, w.log.TraceHandler(), "/x?key=txn2", &tr)
		if len(tr.Steps) != 7 {
			t.Errorf("indexed %v: trace %s", indexed, kinds(tr.Steps))
		}
	}
	for _, bad := range []string{"/x?address=nobody", "/x?queue_id=-1", "/x?limit=x", "/x?since=yesterday", "/x?what=1", "/x?txn=a&txn=b"} {
		if code := get(t, w.log.SearchHandler(), bad, nil); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
}

// Refusals (no store change) are written by Run; a message every
// recipient of which is refused leaves only those rows.
func TestRejectedRecorded(t *testing.T) {
	w := newWorld(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.log.Run(ctx); close(done) }()
	tx := w.p.Begin(deliver.Envelope{ID: "txn3", Source: deliver.SourceMX, Sender: "spam@elsewhere.test"})
	if err := tx.AddRecipient(ctx, "nobody@local.test", deliver.RcptOptions{}); !errors.Is(err, deliver.ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := tx.AddRecipient(ctx, "victim@remote.test", deliver.RcptOptions{}); !errors.Is(err, deliver.ErrRelayDenied) {
		t.Fatalf("relay: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rows, err := w.st.SearchLog(ctx, store.LogQuery{TxnID: "txn3"})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 2 {
			if rows[0].Kind != store.LogRejected || rows[1].Rcpt != "nobody@local.test" || rows[0].Sender != "spam@elsewhere.test" {
				t.Errorf("rows %+v", rows)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refusals not written: %+v", rows)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}

// Rows older than the retention go; the hourly counts see the rest.
func TestRetentionAndPerHour(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	start := time.Now().Add(-40 * 24 * time.Hour)
	w.clk.set(start)
	old := deliver.New(deliver.Options{Directory: w.st, Mailstore: w.st, Parse: msgmeta.Parse, Now: w.clk.now})
	tx := old.Begin(deliver.Envelope{ID: "old", Source: deliver.SourceMX, Sender: "a@elsewhere.test"})
	if err := tx.AddRecipient(ctx, "alice@local.test", deliver.RcptOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Deliver(ctx, strings.NewReader("Subject: old\r\n\r\nold\r\n")); err != nil {
		t.Fatal(err)
	}
	w.clk.set(time.Now())
	w.send(t, "new", deliver.SourceMX, "new@elsewhere.test", "alice@local.test")
	if n, err := w.log.Index(ctx); err != nil || n != 4 {
		t.Fatalf("indexed %d, %v", n, err)
	}
	n, err := w.log.Prune(ctx)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the 2 rows of the old message", n, err)
	}
	if _, err := w.st.TraceLog(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old trace: %v", err)
	}
	if rows, _ := w.st.TraceLog(ctx, "new"); len(rows) != 2 {
		t.Errorf("new trace: %+v", rows)
	}
	hours, err := w.log.PerHour(ctx, 48)
	if err != nil || len(hours) != 48 {
		t.Fatalf("%d hours, %v", len(hours), err)
	}
	last := hours[47]
	if last.Received != 1 || last.Delivered != 1 || last.Relayed != 0 {
		t.Errorf("this hour: %+v", last)
	}
	if !hours[0].Hour.Equal(last.Hour.Add(-47 * time.Hour)) {
		t.Errorf("hours %v .. %v", hours[0].Hour, last.Hour)
	}
	// Moving the clock past the retention of the new rows prunes them too.
	w.clk.set(time.Now().Add(31 * 24 * time.Hour))
	if n, err := w.log.Prune(ctx); err != nil || n != 2 {
		t.Errorf("second prune: %d, %v", n, err)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"address=a@b", "queue_id=12&limit=5", "since=24h", "since=2026-01-02T03:04:05Z", "message_id=%3Cx%3E", "before=9", "x=1", "limit=-1"} {
		f.Add(s)
	}
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := deliverylog.ParseQuery(v, now)
		if err != nil {
			if !errors.Is(err, deliverylog.ErrBadQuery) {
				t.Fatalf("error not ErrBadQuery: %v", err)
			}
			return
		}
		if q.Limit <= 0 || q.Limit > 1000 || q.QueueID < 0 || q.Before < 0 || len(q.Address) > 998 {
			t.Fatalf("query out of bounds: %+v", q)
		}
	})
}
