// Package adminops holds the JSON handlers of the admin API for the
// outbound queue and the dashboard. The admin API (branch admin-api, the
// /admin/api router) mounts them behind its authentication, which puts
// the administrator in the request's context (admin.WithActor); this
// package has no router of its own. Go 1.22 patterns:
//
//	GET  /admin/api/queue                 Queue.List    ?state=active|deferred|held&domain=&address=
//	GET  /admin/api/queue/summary         Queue.Summary (messages by state)
//	GET  /admin/api/queue/{id}            Queue.Show    (header and each recipient's attempts)
//	POST /admin/api/queue/{id}/{action}   Queue.Action  retry, hold, release, drop
//	GET  /admin/api/dashboard             Dashboard
//
// Every change goes through the admin service (internal/admin), the same
// functions `postern queue` calls, so the rules and the audit log are
// those of the CLI.
package adminops

import (
	"encoding/json"
	"errors"
	"net/http"

	"postern/internal/admin"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the body of every error: the admin service's message (the
// CLI's), and the field it is about.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

// writeServiceError maps the admin service's typed errors to statuses.
func writeServiceError(w http.ResponseWriter, err error) {
	var ae *admin.Error
	switch {
	case errors.As(err, &ae):
		code := http.StatusBadRequest
		switch ae.Kind {
		case admin.KindNotFound:
			code = http.StatusNotFound
		case admin.KindExists, admin.KindConflict:
			code = http.StatusConflict
		}
		writeJSON(w, code, apiError{Error: ae.Msg, Field: ae.Field})
	case errors.Is(err, admin.ErrNoActor):
		writeError(w, http.StatusUnauthorized, "no administrator in the request")
	default:
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}
