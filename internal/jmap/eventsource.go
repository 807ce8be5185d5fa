package jmap

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StateChange is a push notification (RFC 8620 §7.1): per account, the new
// state string of each data type that changed.
type StateChange struct {
	Changed map[string]map[string]string
}

// MarshalJSON writes {"@type":"StateChange","changed":{...}}.
func (c StateChange) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type    string                       `json:"@type"`
		Changed map[string]map[string]string `json:"changed"`
	}{"StateChange", c.Changed})
}

// Changes delivers the state changes of an account.
type Changes interface {
	// Subscribe returns a channel of the account's state changes, and a
	// function that ends the subscription (after which the channel may or
	// may not be closed). A closed channel ends the event stream.
	Subscribe(accountID string) (<-chan StateChange, func())
}

// serveEventSource answers GET /jmap/eventsource (RFC 8620 §7.3) as a
// text/event-stream: "state" events with the StateChange of the types asked
// for, and "ping" events with {"interval": seconds} when ping is set.
func (s *Server) serveEventSource(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if s.opts.Changes == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		httpProblem(w, http.StatusMethodNotAllowed, "")
		return
	}
	q := r.URL.Query()
	types := parseTypes(q.Get("types"))
	closeAfter := q.Get("closeafter")
	if closeAfter != "" && closeAfter != "state" && closeAfter != "no" {
		httpProblem(w, http.StatusBadRequest, `closeafter must be "state" or "no"`)
		return
	}
	var ping time.Duration
	if v := q.Get("ping"); v != "" && v != "0" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			httpProblem(w, http.StatusBadRequest, "ping must be a number of seconds")
			return
		}
		ping = min(max(time.Duration(n)*time.Second, s.opts.MinPing), s.opts.MaxPing)
	}

	ch, unsubscribe := s.opts.Changes.Subscribe(p.AccountID)
	defer unsubscribe()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // the stream outlives the listener's write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}

	var tick <-chan time.Time
	var timer *time.Timer
	if ping > 0 {
		timer = time.NewTimer(ping)
		defer timer.Stop()
		tick = timer.C
	}
	// A stream opened with a bearer token ends once the token is revoked
	// or expired, checked as often as WebSocket sessions check theirs.
	var recheck <-chan time.Time
	tok, hasToken := bearer(r)
	if hasToken && s.opts.Tokens != nil {
		t := time.NewTicker(s.opts.WebSocketPing)
		defer t.Stop()
		recheck = t.C
	}
	pingData := fmt.Sprintf(`{"interval":%d}`, int(ping/time.Second))
	send := func(event, data string) bool {
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		if timer != nil {
			timer.Reset(ping) // a ping is due ping after the last event (§7.3)
		}
		return rc.Flush() == nil
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-recheck:
			if _, _, err := s.opts.Tokens.check(r.Context(), tok); errors.Is(err, ErrUnauthenticated) {
				return
			}
		case <-tick:
			if !send("ping", pingData) {
				return
			}
		case sc, open := <-ch:
			if !open {
				return
			}
			sc = filterChange(sc, p.AccountID, types)
			if sc.Changed == nil {
				continue
			}
			b, err := json.Marshal(sc)
			if err != nil || !send("state", string(b)) {
				return
			}
			if closeAfter == "state" {
				return
			}
		}
	}
}

// parseTypes parses the "types" parameter; nil means every type ("*").
func parseTypes(v string) map[string]bool {
	if v == "" || v == "*" {
		return nil
	}
	m := make(map[string]bool)
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t == "*" {
			return nil
		} else if t != "" {
			m[t] = true
		}
	}
	return m
}

// filterChange keeps the principal's account and the types asked for; a
// result with nothing left has a nil Changed.
func filterChange(sc StateChange, account string, types map[string]bool) StateChange {
	var out StateChange
	for acct, states := range sc.Changed {
		if acct != account {
			continue
		}
		kept := make(map[string]string)
		for t, st := range states {
			if types == nil || types[t] {
				kept[t] = st
			}
		}
		if len(kept) > 0 {
			out.Changed = map[string]map[string]string{acct: kept}
		}
	}
	return out
}
