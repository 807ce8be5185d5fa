package adminops

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSendDMARC: the handler passes the day asked (or none: the days
// due), refuses a malformed day, and says when reports are off.
func TestSendDMARC(t *testing.T) {
	var asked []time.Time
	h := NewReports(ReportsOptions{SendDMARC: func(_ context.Context, day time.Time) (any, error) {
		asked = append(asked, day)
		return []string{"sent"}, nil
	}})
	for _, c := range []struct {
		target string
		code   int
	}{
		{"/admin/api/reports/dmarc/send?day=2026-12-04", 200},
		{"/admin/api/reports/dmarc/send", 200},
		{"/admin/api/reports/dmarc/send?day=yesterday", 400},
	} {
		rec := httptest.NewRecorder()
		h.SendDMARC().ServeHTTP(rec, httptest.NewRequest("POST", c.target, nil))
		if rec.Code != c.code {
			t.Errorf("%s: %d %s; want %d", c.target, rec.Code, rec.Body, c.code)
		}
	}
	if len(asked) != 2 || !asked[0].Equal(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)) || !asked[1].IsZero() {
		t.Errorf("days asked %v", asked)
	}
	rec := httptest.NewRecorder()
	h.SendDMARC().ServeHTTP(rec, httptest.NewRequest("POST", "/admin/api/reports/dmarc/send?day=2026-12-04", nil))
	var body struct {
		Day  string   `json:"day"`
		Sent []string `json:"sent"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Day != "2026-12-04" || len(body.Sent) != 1 {
		t.Errorf("answer %s: %v", rec.Body, err)
	}
	rec = httptest.NewRecorder()
	NewReports(ReportsOptions{}).SendDMARC().ServeHTTP(rec, httptest.NewRequest("POST", "/admin/api/reports/dmarc/send", nil))
	if rec.Code != 409 {
		t.Errorf("reports off: %d; want 409", rec.Code)
	}
}
