package adminops

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"postern/internal/admin"
	"postern/internal/store"
)

// QueueService is what the queue handlers need of the admin service.
type QueueService interface {
	QueueList(ctx context.Context) ([]store.QueueMessage, error)
	QueueShow(ctx context.Context, id int64) (admin.QueueEntry, error)
	QueueRetry(ctx context.Context, id int64) (int, error)
	QueueDrop(ctx context.Context, id int64) error
	QueueHold(ctx context.Context, id int64) error
	QueueRelease(ctx context.Context, id int64) error
}

var _ QueueService = (*admin.Service)(nil)

// Queue serves the queue's handlers.
type Queue struct {
	svc QueueService
	log *slog.Logger
}

// NewQueue returns the handlers over svc (an *admin.Service).
func NewQueue(svc QueueService, logger *slog.Logger) *Queue {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Queue{svc: svc, log: logger}
}

// The states of an entry, as the list filters them.
const (
	StateActive   = "active"   // due for its first attempt
	StateDeferred = "deferred" // some pending recipient failed an attempt
	StateHeld     = "held"
)

// EntryState is the state of a queued message.
func EntryState(m store.QueueMessage) string {
	if m.Held {
		return StateHeld
	}
	for _, r := range m.Recipients {
		if r.Status == store.QueuePending && r.Attempts > 0 {
			return StateDeferred
		}
	}
	return StateActive
}

// QueueFilter selects entries of the list.
type QueueFilter struct {
	State string
	// Domain matches a recipient's domain; Address the sender or a
	// recipient (case-insensitive).
	Domain, Address string
}

// maxFilter bounds a filter value.
const maxFilter = 320

// ParseQueueFilter reads the list's parameters.
func ParseQueueFilter(v url.Values) (QueueFilter, error) {
	var f QueueFilter
	for k, vals := range v {
		switch k {
		case "state", "domain", "address":
		default:
			return f, fmt.Errorf("unknown parameter %q", clip(k))
		}
		if len(vals) != 1 || len(vals[0]) > maxFilter {
			return f, fmt.Errorf("%s: one value of at most %d bytes", k, maxFilter)
		}
	}
	f.State = v.Get("state")
	switch f.State {
	case "", StateActive, StateDeferred, StateHeld:
	default:
		return f, fmt.Errorf("state: %q is not active, deferred or held", clip(f.State))
	}
	f.Domain = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(v.Get("domain")), "@"))
	f.Address = strings.ToLower(strings.TrimSpace(v.Get("address")))
	if f.Address != "" && !strings.Contains(f.Address, "@") {
		return f, fmt.Errorf("address: %q has no @", clip(f.Address))
	}
	return f, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Match tells whether an entry passes the filter.
func (f QueueFilter) Match(m store.QueueMessage) bool {
	if f.State != "" && EntryState(m) != f.State {
		return false
	}
	if f.Domain == "" && f.Address == "" {
		return true
	}
	if f.Address != "" && strings.EqualFold(m.Sender, f.Address) {
		return f.Domain == "" || hasDomain(m, f.Domain)
	}
	for _, r := range m.Recipients {
		rc := strings.ToLower(r.Rcpt)
		if (f.Address == "" || rc == f.Address) && (f.Domain == "" || strings.HasSuffix(rc, "@"+f.Domain)) {
			return true
		}
	}
	return false
}

func hasDomain(m store.QueueMessage, d string) bool {
	for _, r := range m.Recipients {
		if strings.HasSuffix(strings.ToLower(r.Rcpt), "@"+d) {
			return true
		}
	}
	return false
}

// Entry is a queued message as the API shows it.
type Entry struct {
	ID         int64       `json:"id"`
	State      string      `json:"state"`
	Sender     string      `json:"sender"`
	Size       int64       `json:"size"`
	Created    time.Time   `json:"created"`
	IsBounce   bool        `json:"is_bounce,omitempty"`
	Recipients []Recipient `json:"recipients"`
	// Header is the message's header (Show only).
	Header []string `json:"header,omitempty"`
}

// Recipient is one recipient with its attempts.
type Recipient struct {
	Address     string     `json:"address"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastPeer    string     `json:"last_peer,omitempty"`
	LastTLS     string     `json:"last_tls,omitempty"`
	Updated     time.Time  `json:"updated"`
}

func toEntry(m store.QueueMessage) Entry {
	e := Entry{ID: m.ID, State: EntryState(m), Sender: m.Sender, Size: m.Size, Created: m.CreatedAt.UTC(), IsBounce: m.IsDSN,
		Recipients: make([]Recipient, 0, len(m.Recipients))}
	for _, r := range m.Recipients {
		rc := Recipient{Address: r.Rcpt, Status: string(r.Status), Attempts: r.Attempts, LastError: r.LastError,
			LastPeer: r.LastPeer, LastTLS: r.LastTLS, Updated: r.UpdatedAt.UTC()}
		if r.Status == store.QueuePending {
			t := r.NextAttempt.UTC()
			rc.NextAttempt = &t
		}
		e.Recipients = append(e.Recipients, rc)
	}
	return e
}

// List answers GET with the entries that pass the filter, oldest first.
func (q *Queue) List() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := ParseQueueFilter(r.URL.Query())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		list, err := q.svc.QueueList(r.Context())
		if err != nil {
			q.log.Error("queue list", "err", err)
			writeServiceError(w, err)
			return
		}
		out := struct {
			Entries []Entry `json:"entries"`
		}{Entries: []Entry{}}
		for _, m := range list {
			if f.Match(m) {
				out.Entries = append(out.Entries, toEntry(m))
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// Summary answers GET with the number of messages in each state.
func (q *Queue) Summary() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := q.svc.QueueList(r.Context())
		if err != nil {
			writeServiceError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, SummaryOf(list))
	})
}

// SummaryOf counts entries by state.
func SummaryOf(list []store.QueueMessage) map[string]int {
	out := map[string]int{StateActive: 0, StateDeferred: 0, StateHeld: 0}
	for _, m := range list {
		out[EntryState(m)]++
	}
	return out
}

// queueID reads the {id} of the pattern.
func queueID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// Show answers GET for {id}: the entry with its header and attempts.
func (q *Queue) Show() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := queueID(r)
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("queue: %q is not a queue id", clip(r.PathValue("id"))))
			return
		}
		e, err := q.svc.QueueShow(r.Context(), id)
		if err != nil {
			writeServiceError(w, err)
			return
		}
		out := toEntry(e.QueueMessage)
		out.Header = e.Header
		writeJSON(w, http.StatusOK, out)
	})
}

// Action answers POST for {id} and {action}: retry (due now), hold,
// release, drop (without a bounce).
func (q *Queue) Action() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		id, ok := queueID(r)
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("queue: %q is not a queue id", clip(r.PathValue("id"))))
			return
		}
		ctx := r.Context()
		var err error
		out := map[string]any{"id": id}
		switch action := r.PathValue("action"); action {
		case "retry":
			var n int
			n, err = q.svc.QueueRetry(ctx, id)
			out["recipients_due"] = n
		case "hold":
			err = q.svc.QueueHold(ctx, id)
		case "release":
			err = q.svc.QueueRelease(ctx, id)
		case "drop":
			err = q.svc.QueueDrop(ctx, id)
		default:
			writeError(w, http.StatusNotFound, fmt.Sprintf("no queue action %q (retry, hold, release, drop)", clip(action)))
			return
		}
		if err != nil {
			writeServiceError(w, err)
			return
		}
		out["done"] = r.PathValue("action")
		writeJSON(w, http.StatusOK, out)
	})
}
