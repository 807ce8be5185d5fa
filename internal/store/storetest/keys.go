package storetest

import (
	"testing"
	"time"

	"postern/internal/store"
)

func testDKIMKeys(t *testing.T, e *env) {
	e.setup()
	e.domain("other.example")
	k1 := []store.DKIMKey{
		{Selector: "s1e", Algorithm: store.DKIMEd25519, PrivateKeyPEM: "ed-pem-1"},
		{Selector: "s1r", Algorithm: store.DKIMRSA, PrivateKeyPEM: "rsa-pem-1"},
	}
	if err := e.s.RotateDKIMKeys(e.ctx, "example.org", k1); err != nil {
		t.Fatal(err)
	}
	active, err := e.s.DKIMKeys(e.ctx, "example.org", true)
	if err != nil || len(active) != 2 {
		t.Fatalf("active keys %+v %v", active, err)
	}
	for _, k := range active {
		if k.Domain != "example.org" || !k.Active || k.ID == 0 || k.PrivateKeyPEM == "" {
			t.Errorf("key %+v", k)
		}
	}
	time.Sleep(1100 * time.Millisecond) // newest first is by creation time
	k2 := []store.DKIMKey{{Selector: "s2e", Algorithm: store.DKIMEd25519, PrivateKeyPEM: "ed-pem-2"}}
	if err := e.s.RotateDKIMKeys(e.ctx, "example.org", k2); err != nil {
		t.Fatal(err)
	}
	active, _ = e.s.DKIMKeys(e.ctx, "example.org", true)
	if len(active) != 1 || active[0].Selector != "s2e" {
		t.Errorf("after rotation, active %+v", active)
	}
	all, _ := e.s.DKIMKeys(e.ctx, "example.org", false)
	if len(all) != 3 || all[0].Selector != "s2e" || all[1].Active || all[2].Active {
		t.Errorf("all keys %+v", all)
	}
	wantErr(t, "selector taken", e.s.RotateDKIMKeys(e.ctx, "example.org", k2), store.ErrExists)
	wantErr(t, "unknown domain", e.s.RotateDKIMKeys(e.ctx, "nowhere.example", k1), store.ErrNotFound)
	if every, _ := e.s.DKIMKeys(e.ctx, "", false); len(every) != 3 {
		t.Errorf("keys of every domain: %d", len(every))
	}
	if none, _ := e.s.DKIMKeys(e.ctx, "other.example", false); len(none) != 0 {
		t.Errorf("other domain's keys %+v", none)
	}
	if err := e.s.DeleteDomain(e.ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	if left, _ := e.s.DKIMKeys(e.ctx, "", false); len(left) != 0 {
		t.Errorf("keys survive their domain: %+v", left)
	}
}

func testAppPasswords(t *testing.T, e *env) {
	a := e.setup()
	p, err := e.s.AddAppPassword(e.ctx, store.AppPassword{AccountID: a.ID, Name: "phone", Hash: "sha256$abc", SCRAMSHA256: "scram"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == 0 || p.CreatedAt.IsZero() {
		t.Errorf("added %+v", p)
	}
	_, err = e.s.AddAppPassword(e.ctx, store.AppPassword{AccountID: a.ID, Name: "phone", Hash: "sha256$def"})
	wantErr(t, "duplicate name", err, store.ErrExists)
	_, err = e.s.AddAppPassword(e.ctx, store.AppPassword{AccountID: a.ID + 1000, Name: "x", Hash: "sha256$def"})
	wantErr(t, "unknown account", err, store.ErrNotFound)
	if _, err := e.s.AddAppPassword(e.ctx, store.AppPassword{AccountID: a.ID, Name: "laptop", Hash: "sha256$def"}); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000123, 0)
	if err := e.s.TouchAppPassword(e.ctx, p.ID, at); err != nil {
		t.Fatal(err)
	}
	list, err := e.s.AppPasswords(e.ctx, a.ID)
	if err != nil || len(list) != 2 || list[0].Name != "laptop" || list[1].Name != "phone" {
		t.Fatalf("list %+v %v", list, err)
	}
	if !list[1].LastUsed.Equal(at) || list[1].Hash != "sha256$abc" || list[1].SCRAMSHA256 != "scram" || !list[0].LastUsed.IsZero() {
		t.Errorf("stored %+v", list)
	}
	if err := e.s.DeleteAppPassword(e.ctx, a.ID, "phone"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete twice", e.s.DeleteAppPassword(e.ctx, a.ID, "phone"), store.ErrNotFound)
	if err := e.s.DeleteAccount(e.ctx, a.Address); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.s.AppPasswords(e.ctx, a.ID); len(list) != 0 {
		t.Errorf("app passwords survive their account: %+v", list)
	}
}
