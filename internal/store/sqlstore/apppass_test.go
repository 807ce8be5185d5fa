package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"postern/internal/store"
)

func TestAppPasswordsAndDKIMKeys(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "alice@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.AddAppPassword(ctx, store.AppPassword{AccountID: a.ID, Name: "phone", Hash: "sha256$x"})
	if err != nil || p.ID == 0 {
		t.Fatal(p, err)
	}
	if _, err := s.AddAppPassword(ctx, store.AppPassword{AccountID: a.ID, Name: "phone", Hash: "h"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := s.AddAppPassword(ctx, store.AppPassword{AccountID: 999, Name: "x", Hash: "h"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no account: %v", err)
	}
	at := time.Unix(1_800_000_000, 0).UTC()
	if err := s.TouchAppPassword(ctx, p.ID, at); err != nil {
		t.Fatal(err)
	}
	list, err := s.AppPasswords(ctx, a.ID)
	if err != nil || len(list) != 1 || !list[0].LastUsed.Equal(at) || list[0].Hash != "sha256$x" {
		t.Fatalf("%+v %v", list, err)
	}
	if err := s.DeleteAppPassword(ctx, a.ID, "phone"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAppPassword(ctx, a.ID, "phone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}

	k1 := []store.DKIMKey{{Selector: "s1e", Algorithm: store.DKIMEd25519, PrivateKeyPEM: "pem"},
		{Selector: "s1r", Algorithm: store.DKIMRSA, PrivateKeyPEM: "pem"}}
	if err := s.RotateDKIMKeys(ctx, "example.org", k1); err != nil {
		t.Fatal(err)
	}
	k2 := []store.DKIMKey{{Selector: "s2e", Algorithm: store.DKIMEd25519, PrivateKeyPEM: "pem"}}
	if err := s.RotateDKIMKeys(ctx, "example.org", k2); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateDKIMKeys(ctx, "example.org", k2); !errors.Is(err, store.ErrExists) {
		t.Fatalf("reused selector: %v", err)
	}
	if err := s.RotateDKIMKeys(ctx, "nowhere.org", k2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown domain: %v", err)
	}
	active, err := s.DKIMKeys(ctx, "EXAMPLE.org", true)
	if err != nil || len(active) != 1 || active[0].Selector != "s2e" || active[0].Domain != "example.org" {
		t.Fatalf("active %+v %v", active, err)
	}
	all, err := s.DKIMKeys(ctx, "", false)
	if err != nil || len(all) != 3 {
		t.Fatalf("all %+v %v", all, err)
	}
	// Deleting the account or domain takes its rows along.
	if err := s.DeleteDomain(ctx, "example.org"); err == nil {
		if all, _ := s.DKIMKeys(ctx, "", false); len(all) != 0 {
			t.Fatalf("keys of a deleted domain: %d", len(all))
		}
	}
}
