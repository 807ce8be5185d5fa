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

// TestDMARCReportsDoneOnce: a day's report of a domain is marked done
// once; the auth results survive the round trip; old days are forgotten.
func TestDMARCReportsDoneOnce(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	day := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	row := store.DMARCCount{Day: day, HeaderFrom: "example.com", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "fail",
		SPFDomain: "bounce.example.net", SPFScope: "mfrom", SPFResult: "softfail",
		DKIMResults: store.FormatDKIMResults([]store.DKIMResult{{Domain: "example.com", Selector: "s1", Result: "pass"}}), Messages: 1}
	if err := s.AddDMARCCounts(ctx, []store.DMARCCount{row}); err != nil {
		t.Fatal(err)
	}
	got, err := s.DMARCCounts(ctx, day)
	if err != nil || len(got) != 1 || got[0] != row {
		t.Fatalf("counts %+v, %v; want %+v", got, err, row)
	}
	done := store.DMARCReportDone{Day: day, Domain: "Example.com", ReportID: "r1"}
	for i, want := range []bool{true, false} {
		fresh, err := s.MarkDMARCReportDone(ctx, done)
		if err != nil || fresh != want {
			t.Fatalf("mark %d: %v, %v; want %v", i, fresh, err, want)
		}
	}
	list, err := s.DMARCReportsDone(ctx, day)
	if err != nil || len(list) != 1 || list[0].Domain != "example.com" || list[0].ReportID != "r1" || !list[0].Day.Equal(day) {
		t.Fatalf("done %+v, %v", list, err)
	}
	if err := s.DeleteDMARCCountsBefore(ctx, day.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DMARCCounts(ctx, day); len(got) != 0 {
		t.Errorf("counts after expiry: %+v", got)
	}
	if list, _ := s.DMARCReportsDone(ctx, day); len(list) != 0 {
		t.Errorf("done after expiry: %+v", list)
	}
}
