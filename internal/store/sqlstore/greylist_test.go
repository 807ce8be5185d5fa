package sqlstore

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestGreylistTriplets(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	if _, _, found, err := s.GreylistGet(ctx, "192.0.2.0/24", "a@x.test", "b@y.test"); err != nil || found {
		t.Fatalf("unknown triplet: found=%v err=%v", found, err)
	}
	if err := s.GreylistPut(ctx, "192.0.2.0/24", "a@x.test", "b@y.test", t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	first, pass, found, err := s.GreylistGet(ctx, "192.0.2.0/24", "a@x.test", "b@y.test")
	if err != nil || !found || !first.Equal(t0) || !pass.IsZero() {
		t.Fatalf("waiting triplet: %v %v %v %v", first, pass, found, err)
	}
	passUntil := t0.Add(36 * 24 * time.Hour)
	if err := s.GreylistPut(ctx, "192.0.2.0/24", "a@x.test", "b@y.test", t0, passUntil); err != nil {
		t.Fatal(err)
	}
	if _, pass, _, _ = s.GreylistGet(ctx, "192.0.2.0/24", "a@x.test", "b@y.test"); !pass.Equal(passUntil) {
		t.Fatalf("pass not stored: %v", pass)
	}
	if n, err := s.GreylistPassed(ctx, "192.0.2.0/24", t0); err != nil || n != 1 {
		t.Fatalf("passed triplets of the network: %d %v", n, err)
	}
	if n, _ := s.GreylistPassed(ctx, "192.0.2.0/24", passUntil); n != 0 {
		t.Fatalf("a pass that ended still counts: %d", n)
	}
	// One stale waiting triplet, one expired pass, one live pass.
	s.GreylistPut(ctx, "198.51.100.0/24", "old@x.test", "b@y.test", t0.Add(-48*time.Hour), time.Time{})
	s.GreylistPut(ctx, "198.51.100.0/24", "gone@x.test", "b@y.test", t0.Add(-40*24*time.Hour), t0.Add(-time.Hour))
	n, err := s.GreylistPrune(ctx, t0.Add(-24*time.Hour), t0)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want 2", n, err)
	}
	if _, _, found, _ := s.GreylistGet(ctx, "192.0.2.0/24", "a@x.test", "b@y.test"); !found {
		t.Fatal("the live pass was pruned")
	}
	if err := s.GreylistPut(ctx, "n", strings.Repeat("a", 600), "b", t0, time.Time{}); err == nil {
		t.Fatal("an over-long sender was stored")
	}
}
