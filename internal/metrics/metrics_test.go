package metrics_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"postern/internal/deliver"
	"postern/internal/metrics"
	"postern/internal/msgmeta"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, rec.Body)
	}
	return fams
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name, label, lv string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	for _, mt := range f.Metric {
		match := label == ""
		for _, l := range mt.Label {
			if l.GetName() == label && l.GetValue() == lv {
				match = true
			}
		}
		if !match {
			continue
		}
		switch {
		case mt.Counter != nil:
			return mt.Counter.GetValue()
		case mt.Gauge != nil:
			return mt.Gauge.GetValue()
		case mt.Histogram != nil:
			return float64(mt.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, lv)
	return 0
}

// Message events counted where the store commits them (a real delivery
// through the pipeline, a refusal, queue outcomes), commit latency,
// connections, auth failures, queue depth and the Go runtime, all in an
// exposition the client library's parser reads.
func TestExposition(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := metrics.New(st)
	st.SetObserver(m)
	if _, err := st.AddDomain(ctx, "local.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAccount(ctx, "alice@local.test", store.Credentials{}); err != nil {
		t.Fatal(err)
	}
	p := deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: msgmeta.Parse})
	tx := p.Begin(deliver.Envelope{ID: "t1", Source: deliver.SourceSubmission, Sender: "alice@local.test"})
	for _, r := range []string{"alice@local.test", "bob@remote.test", "carol@remote.test"} {
		if err := tx.AddRecipient(ctx, r, deliver.RcptOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := tx.Deliver(ctx, strings.NewReader("Subject: x\r\n\r\nx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	qm, err := st.QueueMessage(ctx, res.QueueIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.QueueUpdate(ctx, qm.ID, []store.QueueUpdate{
		{RecipientID: qm.Recipients[0].ID, Status: store.QueueDelivered, Error: "250 ok", Peer: "mx"},
		{RecipientID: qm.Recipients[1].ID, Status: store.QueuePending, Error: "451 later", NextAttempt: time.Now().Add(time.Hour)},
	}, false); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendLog(ctx, []store.LogEvent{{Kind: store.LogRejected, Rcpt: "x@local.test"}}); err != nil {
		t.Fatal(err)
	}
	m.AuthFailure()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := m.Listener(ln, "imap")
	defer cl.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
	}()
	if c, err := cl.Accept(); err == nil {
		c.Close()
	}

	fams := scrape(t, m)
	for event, want := range map[string]float64{"received": 1, "delivered": 1, "relayed": 1, "deferred": 1, "bounced": 0, "rejected": 1} {
		if got := value(t, fams, "postern_messages_total", "event", event); got != want {
			t.Errorf("messages %s = %v, want %v", event, got, want)
		}
	}
	if got := value(t, fams, "postern_delivery_latency_seconds", "destination", "local"); got != 1 {
		t.Errorf("local latency samples %v", got)
	}
	if got := value(t, fams, "postern_delivery_latency_seconds", "destination", "remote"); got != 1 {
		t.Errorf("remote latency samples %v", got)
	}
	if got := value(t, fams, "postern_store_commit_seconds", "", ""); got < 4 {
		t.Errorf("commits observed %v", got)
	}
	if got := value(t, fams, "postern_connections_total", "protocol", "imap"); got != 1 {
		t.Errorf("imap connections %v", got)
	}
	if got := value(t, fams, "postern_auth_failures_total", "", ""); got != 1 {
		t.Errorf("auth failures %v", got)
	}
	if got := value(t, fams, "postern_queue_messages", "state", "deferred"); got != 1 {
		t.Errorf("deferred queue %v", got)
	}
	if got := value(t, fams, "postern_queue_messages", "state", "held"); got != 0 {
		t.Errorf("held queue %v", got)
	}
	if err := st.QueueHold(ctx, qm.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := value(t, scrape(t, m), "postern_queue_messages", "state", "held"); got != 1 {
		t.Errorf("held queue after hold %v", got)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}
