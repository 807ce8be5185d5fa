package app

import (
	"context"
	"testing"
	"time"
)

func TestLocalDomainsRemembersASecond(t *testing.T) {
	ours := map[string]bool{"example.org": true}
	lookups := 0
	l := newLocalDomains(func(_ context.Context, d string) (bool, error) {
		lookups++
		return ours[d], nil
	})
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	for _, d := range []string{"example.org", "EXAMPLE.org", "example.net", "example.net"} {
		local, err := l.isLocal(ctx, d)
		if err != nil || local != (d != "example.net") {
			t.Fatalf("isLocal(%s) = %v, %v", d, local, err)
		}
	}
	if lookups != 2 {
		t.Fatalf("%d lookups for two domains within a second", lookups)
	}
	ours["example.net"] = true // added meanwhile
	now = now.Add(localDomainTTL)
	if local, _ := l.isLocal(ctx, "example.net"); !local || lookups != 3 {
		t.Fatalf("a second later: local %v after %d lookups", local, lookups)
	}
}
