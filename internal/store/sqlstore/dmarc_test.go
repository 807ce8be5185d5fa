package sqlstore

import (
	"context"
	"testing"
	"time"

	"postern/internal/store"
)

func TestDMARCCountsAddUp(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	row := store.DMARCCount{Day: day, HeaderFrom: "example.com", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "fail", Messages: 2}
	other := row
	other.Disposition, other.DKIM, other.Messages = "reject", "fail", 1
	if err := s.AddDMARCCounts(ctx, []store.DMARCCount{row, other}); err != nil {
		t.Fatal(err)
	}
	row.Messages = 3
	if err := s.AddDMARCCounts(ctx, []store.DMARCCount{row}); err != nil {
		t.Fatal(err)
	}
	got, err := s.DMARCCounts(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Messages != 5 || got[0].Disposition != "none" || got[1].Messages != 1 || !got[0].Day.Equal(day) {
		t.Errorf("counts %+v; want none=5 and reject=1", got)
	}
	if got, _ := s.DMARCCounts(ctx, day.Add(24*time.Hour)); len(got) != 0 {
		t.Errorf("since the next day: %+v", got)
	}
}
