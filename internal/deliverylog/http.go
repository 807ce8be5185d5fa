package deliverylog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"postern/internal/store"
)

// Limits of a query: anything longer is no address, Message-ID or id.
const (
	maxParam   = 998 // RFC 5322 line length: no Message-ID is longer
	maxLimit   = 1000
	defaultLim = 100
)

// ErrBadQuery is a query parameter that does not parse.
var ErrBadQuery = errors.New("bad query")

// ParseQuery reads a search from URL parameters: address, message_id,
// queue_id, txn, since (RFC 3339 or a duration back from now, "24h"),
// before (a row id, for the next page), limit.
func ParseQuery(v url.Values, now time.Time) (store.LogQuery, error) {
	var q store.LogQuery
	for k, vals := range v {
		switch k {
		case "address", "message_id", "queue_id", "txn", "since", "before", "limit":
		default:
			return q, fmt.Errorf("%w: unknown parameter %q", ErrBadQuery, clip(k))
		}
		if len(vals) != 1 {
			return q, fmt.Errorf("%w: %s given %d times", ErrBadQuery, k, len(vals))
		}
		if len(vals[0]) > maxParam {
			return q, fmt.Errorf("%w: %s too long", ErrBadQuery, k)
		}
	}
	q.Address = strings.TrimSpace(v.Get("address"))
	if q.Address != "" && !strings.Contains(q.Address, "@") {
		return q, fmt.Errorf("%w: address %q has no @", ErrBadQuery, clip(q.Address))
	}
	q.MessageID = strings.Trim(strings.TrimSpace(v.Get("message_id")), "<>")
	q.TxnID = strings.TrimSpace(v.Get("txn"))
	var err error
	if q.QueueID, err = positive(v, "queue_id"); err != nil {
		return q, err
	}
	if q.Before, err = positive(v, "before"); err != nil {
		return q, err
	}
	lim, err := positive(v, "limit")
	if err != nil {
		return q, err
	}
	q.Limit = defaultLim
	if lim > 0 {
		q.Limit = int(min(lim, maxLimit))
	}
	if s := v.Get("since"); s != "" {
		if d, derr := time.ParseDuration(s); derr == nil && d > 0 {
			q.Since = now.Add(-d)
		} else if t, terr := time.Parse(time.RFC3339, s); terr == nil {
			q.Since = t
		} else {
			return q, fmt.Errorf("%w: since %q is neither a time (RFC 3339) nor a duration", ErrBadQuery, clip(s))
		}
	}
	return q, nil
}

func positive(v url.Values, k string) (int64, error) {
	s := v.Get(k)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %s %q is not a positive number", ErrBadQuery, k, clip(s))
	}
	return n, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Event is a row as the API shows it.
type Event struct {
	ID        int64     `json:"id"`
	Msg       int64     `json:"msg"`
	Time      time.Time `json:"time"`
	Kind      string    `json:"event"`
	TxnID     string    `json:"txn,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	QueueID   int64     `json:"queue_id,omitempty"`
	Source    string    `json:"source,omitempty"`
	Sender    *string   `json:"sender,omitempty"`
	Rcpt      string    `json:"rcpt,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	DelayMS   int64     `json:"delay_ms,omitempty"`
}

func toEvent(ev store.LogEvent) Event {
	e := Event{ID: ev.ID, Msg: ev.Msg, Time: ev.Time.UTC(), Kind: string(ev.Kind), TxnID: ev.TxnID, MessageID: ev.MessageID,
		QueueID: ev.QueueID, Source: ev.Source, Rcpt: ev.Rcpt, Detail: ev.Detail, DelayMS: ev.Delay.Milliseconds()}
	if ev.Kind == store.LogAccepted || ev.Sender != "" {
		s := ev.Sender // the null sender shows as ""
		e.Sender = &s
	}
	return e
}

// SearchHandler answers GET with the rows that match (newest first) and
// next_before, the parameter for the next page.
// Mounted by the admin API at GET /admin/api/log.
func (l *Log) SearchHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		q, err := ParseQuery(r.URL.Query(), l.now())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		rows, err := l.st.SearchLog(r.Context(), q)
		if err != nil {
			l.log.Error("delivery log search", "err", err)
			writeError(w, http.StatusInternalServerError, "search failed")
			return
		}
		out := struct {
			Events     []Event `json:"events"`
			NextBefore int64   `json:"next_before,omitempty"`
		}{Events: make([]Event, 0, len(rows))}
		for _, ev := range rows {
			out.Events = append(out.Events, toEvent(ev))
		}
		if len(rows) == q.Limit {
			out.NextBefore = rows[len(rows)-1].ID
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// Step is one step of a trace: an event with the time since the first.
type Step struct {
	Event
	// AfterMS is the time since the trace's first step.
	AfterMS int64 `json:"after_ms"`
}

// Trace is the way of one message (or the few a key names).
type Trace struct {
	Key   string `json:"key"`
	Steps []Step `json:"steps"`
	// Outcome sums up each recipient's last step: delivered, relayed,
	// deferred, bounced, queued, rejected, dropped.
	Outcome map[string]string `json:"outcome"`
}

// TraceOf returns the trace of the message that key (a transaction id, a
// Message-ID or a queue id) names; store.ErrNotFound when none.
func (l *Log) TraceOf(ctx context.Context, key string) (Trace, error) {
	rows, err := l.st.TraceLog(ctx, key)
	if err != nil {
		return Trace{}, err
	}
	t := Trace{Key: key, Steps: make([]Step, 0, len(rows)), Outcome: map[string]string{}}
	for _, ev := range rows {
		t.Steps = append(t.Steps, Step{Event: toEvent(ev), AfterMS: ev.Time.Sub(rows[0].Time).Milliseconds()})
		if ev.Rcpt != "" {
			switch ev.Kind {
			case store.LogHeld, store.LogReleased, store.LogRetried:
			default:
				t.Outcome[ev.Rcpt] = string(ev.Kind)
			}
		}
	}
	return t, nil
}

// TraceHandler answers GET ?key=ID with the Trace.
// Mounted by the admin API at GET /admin/api/log/trace.
func (l *Log) TraceHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		key := strings.TrimSpace(r.URL.Query().Get("key"))
		if key == "" || len(key) > maxParam {
			writeError(w, http.StatusBadRequest, "key: a transaction id, Message-ID or queue id is needed")
			return
		}
		t, err := l.TraceOf(r.Context(), key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, "no message with this id in the delivery log")
		case err != nil:
			l.log.Error("delivery log trace", "err", err)
			writeError(w, http.StatusInternalServerError, "trace failed")
		default:
			writeJSON(w, http.StatusOK, t)
		}
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
