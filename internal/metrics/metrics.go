// Package metrics is Postern's Prometheus exposition, served at /metrics
// on the admin listener (the lead mounts Handler there). The servers do
// not import Prometheus: the store reports its commits and the delivery
// log rows it commits (sqlstore.Observer, which Metrics implements), so
// every message event is counted once, where it becomes durable; the
// listeners are wrapped (Listener) to count connections by protocol; auth
// calls AuthFailure (auth.Options.OnFailure); the queue depth is read from
// the store at each scrape.
package metrics

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"postern/internal/antispam"
	"postern/internal/store"
)

// QueueCounter reads the queue's size by state (sqlstore.Store.QueueCounts).
type QueueCounter interface {
	QueueCounts(ctx context.Context) (map[string]int64, error)
}

// Metrics holds the collectors of one server.
type Metrics struct {
	reg          *prometheus.Registry
	conns        *prometheus.CounterVec
	authFailures prometheus.Counter
	messages     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	commit       prometheus.Histogram
	commitOps    prometheus.Histogram
	rejections   *prometheus.CounterVec
}

// messageEvents are the delivery log kinds counted as messages_total,
// under the names of the dashboard.
var messageEvents = map[store.LogKind]string{
	store.LogAccepted:  "received",
	store.LogDelivered: "delivered",
	store.LogRelayed:   "relayed",
	store.LogDeferred:  "deferred",
	store.LogBounced:   "bounced",
	store.LogRejected:  "rejected",
}

// queueScrapeTimeout bounds the queue count at a scrape.
const queueScrapeTimeout = 5 * time.Second

// New registers every collector; queue may be nil (no queue depth).
func New(queue QueueCounter) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.conns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postern_connections_total",
		Help: "Connections accepted, by listener (protocol)."}, []string{"protocol"})
	m.authFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "postern_auth_failures_total",
		Help: "Failed logins, all protocols."})
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postern_messages_total",
		Help: "Message events: received, delivered (local mailbox), relayed (remote MX), deferred, bounced, rejected."}, []string{"event"})
	for _, e := range messageEvents {
		m.messages.WithLabelValues(e) // every series from the start, at 0
	}
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "postern_delivery_latency_seconds",
		Help:    "Time from acceptance to a local mailbox (local) or to the remote MX's acceptance (remote).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}},
		[]string{"destination"})
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "postern_store_commit_seconds",
		Help: "Duration of one group commit of the store's writer.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.commitOps = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "postern_store_commit_operations",
		Help: "Operations per group commit.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128}})
	m.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postern_smtp_rejections_total",
		Help: "Port 25 clients refused before DATA, by reason: dnsbl, rate_connections, rate_messages, rate_recipients, rate_sender_domain, greylist."},
		[]string{"reason"})
	for _, r := range antispam.Reasons {
		m.rejections.WithLabelValues(r)
	}
	m.reg.MustRegister(m.conns, m.authFailures, m.messages, m.latency, m.commit, m.commitOps, m.rejections,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if queue != nil {
		m.reg.MustRegister(&queueCollector{q: queue, desc: prometheus.NewDesc("postern_queue_messages",
			"Messages in the outbound queue, by state (active, deferred, held).", []string{"state"}, nil)})
	}
	return m
}

// Handler serves the exposition. Mounted by the lead at /metrics on the
// admin listener.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry is where further collectors go.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// AuthFailure counts a failed login (auth.Options.OnFailure).
func (m *Metrics) AuthFailure() { m.authFailures.Inc() }

// Rejection counts a port-25 refusal by the antispam gate
// (antispam.Options.OnRefuse).
func (m *Metrics) Rejection(reason string) { m.rejections.WithLabelValues(reason).Inc() }

// Committed implements sqlstore.Observer.
func (m *Metrics) Committed(ops int, d time.Duration) {
	m.commit.Observe(d.Seconds())
	m.commitOps.Observe(float64(ops))
}

// Logged implements sqlstore.Observer: each committed delivery log row is
// a message event.
func (m *Metrics) Logged(events []store.LogEvent) {
	for _, ev := range events {
		name, ok := messageEvents[ev.Kind]
		if !ok {
			continue
		}
		m.messages.WithLabelValues(name).Inc()
		switch ev.Kind {
		case store.LogDelivered:
			m.latency.WithLabelValues("local").Observe(ev.Delay.Seconds())
		case store.LogRelayed:
			m.latency.WithLabelValues("remote").Observe(ev.Delay.Seconds())
		}
	}
}

// Listener counts the connections ln accepts under protocol.
func (m *Metrics) Listener(ln net.Listener, protocol string) net.Listener {
	return &countingListener{Listener: ln, c: m.conns.WithLabelValues(protocol)}
}

type countingListener struct {
	net.Listener
	c prometheus.Counter
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.c.Inc()
	}
	return c, err
}

type queueCollector struct {
	q    QueueCounter
	desc *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueScrapeTimeout)
	defer cancel()
	counts, err := c.q.QueueCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), state)
	}
}
