// Package health answers /healthz (the process is up and serving HTTP)
// and /readyz (the store answers and every listener is bound). The http
// listener (internal/web) mounts both; the lead mounts the same handlers
// on the admin listener.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Check is one readiness condition: nil when ready.
type Check func(ctx context.Context) error

// checkTimeout bounds one readiness probe: a store that takes longer is
// not ready for mail either.
const checkTimeout = 2 * time.Second

// Healthz answers 200 "ok" while the process serves HTTP.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// Readyz runs every check and answers 200 when all pass, else 503, with
// each check's result as JSON ({"store":"ok","listeners":"..."}).
func Readyz(checks map[string]Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
		defer cancel()
		out := make(map[string]string, len(checks))
		code := http.StatusOK
		for name, c := range checks {
			if err := c(ctx); err != nil {
				out[name] = err.Error()
				code = http.StatusServiceUnavailable
				continue
			}
			out[name] = "ok"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(out)
	})
}
