package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"postern/internal/health"
	"postern/internal/store/sqlstore"
)

func TestHealthz(t *testing.T) {
	rec := httptest.NewRecorder()
	health.Healthz().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
}

// Ready while the real store answers; 503 naming the failed check once it
// is closed, or when a listener is not bound.
func TestReadyz(t *testing.T) {
	st, err := sqlstore.OpenDir(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	bound := true
	h := health.Readyz(map[string]health.Check{
		"store": st.Ping,
		"listeners": func(context.Context) error {
			if !bound {
				return errors.New("smtp not bound")
			}
			return nil
		},
	})
	probe := func() (int, map[string]string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		var m map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return rec.Code, m
	}
	if code, m := probe(); code != http.StatusOK || m["store"] != "ok" || m["listeners"] != "ok" {
		t.Fatalf("ready: %d %v", code, m)
	}
	bound = false
	if code, m := probe(); code != http.StatusServiceUnavailable || m["listeners"] != "smtp not bound" {
		t.Fatalf("unbound: %d %v", code, m)
	}
	bound = true
	st.Close()
	if code, m := probe(); code != http.StatusServiceUnavailable || m["store"] == "ok" {
		t.Fatalf("closed store: %d %v", code, m)
	}
}
