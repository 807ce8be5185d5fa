package storetest

import (
	"errors"
	"testing"
	"time"

	"postern/internal/store"
)

// The MTA-STS policy cache replaces a domain's entry; TLS results add up
// per key and are forgotten by day; a day's report is marked sent once;
// received reports are stored once and listed by kind and domain.
func testTransportSecurity(t *testing.T, e *env) {
	if _, err := e.s.MTASTSPolicy(e.ctx, "remote.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty cache: %v", err)
	}
	at := time.Unix(1700000000, 0)
	for _, id := range []string{"1", "2"} {
		if err := e.s.PutMTASTSPolicy(e.ctx, store.MTASTSPolicy{Domain: "Remote.Test", ID: id, Body: "mode: enforce " + id,
			FetchedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := e.s.MTASTSPolicy(e.ctx, "remote.test")
	if err != nil || p.ID != "2" || p.Body != "mode: enforce 2" || !p.ExpiresAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("cached %+v, %v", p, err)
	}

	r := store.TLSResult{Day: "2026-03-04", PolicyDomain: "remote.test", PolicyType: "sts", PolicyString: "mode: enforce",
		MXHost: "mx.remote.test", ReceivingIP: "192.0.2.1", Sessions: 1}
	for range 3 {
		if err := e.s.AddTLSResult(e.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	fail := r
	fail.ResultType, fail.Day = "certificate-expired", "2026-03-05"
	if err := e.s.AddTLSResult(e.ctx, fail); err != nil {
		t.Fatal(err)
	}
	rows, err := e.s.TLSResults(e.ctx, "2026-03-04")
	if err != nil || len(rows) != 1 || rows[0].Sessions != 3 {
		t.Fatalf("results %+v, %v", rows, err)
	}
	for i, want := range []bool{true, false} {
		if fresh, err := e.s.MarkTLSReportSent(e.ctx, "2026-03-04", "remote.test"); err != nil || fresh != want {
			t.Fatalf("mark %d: %v, %v", i, fresh, err)
		}
	}
	if err := e.s.DeleteTLSResultsBefore(e.ctx, "2026-03-05"); err != nil {
		t.Fatal(err)
	}
	if rows, _ := e.s.TLSResults(e.ctx, "2026-03-04"); len(rows) != 0 {
		t.Fatalf("old results kept: %+v", rows)
	}
	if rows, _ := e.s.TLSResults(e.ctx, "2026-03-05"); len(rows) != 1 {
		t.Fatalf("newer results lost: %+v", rows)
	}

	rep := store.Report{Kind: store.ReportDMARC, Domain: "example.org", OrgName: "receiver.test", ReportID: "r1",
		Begin: at, End: at.Add(24 * time.Hour), Received: at, From: "dmarc@receiver.test", Total: 8, Failed: 3, JSON: `{"a":1}`}
	if _, err := e.s.AddReport(e.ctx, rep); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AddReport(e.ctx, rep); !errors.Is(err, store.ErrExists) {
		t.Fatalf("same report again: %v", err)
	}
	rep2 := rep
	rep2.Kind, rep2.Domain, rep2.ReportID, rep2.Received = store.ReportTLS, "other.org", "t1", at.Add(time.Hour)
	if _, err := e.s.AddReport(e.ctx, rep2); err != nil {
		t.Fatal(err)
	}
	list, err := e.s.Reports(e.ctx, store.ReportDMARC, nil, 10)
	if err != nil || len(list) != 1 || list[0].Total != 8 || list[0].JSON != `{"a":1}` || !list[0].Begin.Equal(at) {
		t.Fatalf("DMARC reports %+v, %v", list, err)
	}
	if list, _ := e.s.Reports(e.ctx, store.ReportTLS, []string{"example.org"}, 10); len(list) != 0 {
		t.Fatalf("TLS reports of example.org: %+v", list)
	}
	if list, _ := e.s.Reports(e.ctx, store.ReportTLS, []string{}, 10); len(list) != 0 {
		t.Fatalf("reports of no domain: %+v", list)
	}
}
