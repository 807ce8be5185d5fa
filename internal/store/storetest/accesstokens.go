package storetest

import (
	"bytes"
	"testing"
	"time"

	"postern/internal/store"
)

func testAccessTokens(t *testing.T, e *env) {
	a := e.setup()
	bob := e.account("bob@example.org")
	hash := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	later := time.Now().Add(time.Hour).Truncate(time.Second)
	tok, err := e.s.AddAccessToken(e.ctx, store.AccessToken{AccountID: a.ID, Hash: hash(1), ExpiresAt: later})
	if err != nil {
		t.Fatal(err)
	}
	if tok.ID == 0 || tok.CreatedAt.IsZero() {
		t.Errorf("added %+v", tok)
	}
	_, err = e.s.AddAccessToken(e.ctx, store.AccessToken{AccountID: a.ID + 1000, Hash: hash(9), ExpiresAt: later})
	wantErr(t, "unknown account", err, store.ErrNotFound)
	_, _, err = e.s.AccessToken(e.ctx, hash(9))
	wantErr(t, "unknown token", err, store.ErrNotFound)

	got, acct, err := e.s.AccessToken(e.ctx, hash(1))
	if err != nil || got.ID != tok.ID || acct.ID != a.ID || !got.ExpiresAt.Equal(later) || !got.LastUsed.IsZero() {
		t.Fatalf("AccessToken = %+v, %+v, %v", got, acct, err)
	}
	used, moved := later.Add(-time.Minute), later.Add(time.Hour)
	if err := e.s.TouchAccessToken(e.ctx, tok.ID, used, moved); err != nil {
		t.Fatal(err)
	}
	if got, _, _ = e.s.AccessToken(e.ctx, hash(1)); !got.LastUsed.Equal(used) || !got.ExpiresAt.Equal(moved) {
		t.Errorf("after touch %+v", got)
	}

	// An expired token goes when the account gets a new one.
	if _, err := e.s.AddAccessToken(e.ctx, store.AccessToken{AccountID: a.ID, Hash: hash(2), ExpiresAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AddAccessToken(e.ctx, store.AccessToken{AccountID: a.ID, Hash: hash(3), ExpiresAt: later}); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.s.AccessToken(e.ctx, hash(2))
	wantErr(t, "expired token kept", err, store.ErrNotFound)

	if err := e.s.DeleteAccessToken(e.ctx, hash(3)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete twice", e.s.DeleteAccessToken(e.ctx, hash(3)), store.ErrNotFound)

	// A password change, a disable and a delete revoke; bob's token stays.
	if _, err := e.s.AddAccessToken(e.ctx, store.AccessToken{AccountID: bob.ID, Hash: hash(4), ExpiresAt: later}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetCredentials(e.ctx, a.Address, a.Credentials); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.s.AccessToken(e.ctx, hash(1))
	wantErr(t, "token after password change", err, store.ErrNotFound)
	if _, _, err := e.s.AccessToken(e.ctx, hash(4)); err != nil {
		t.Errorf("another account's password change revoked bob's token: %v", err)
	}
	e.s.AddAccessToken(e.ctx, store.AccessToken{AccountID: a.ID, Hash: hash(5), ExpiresAt: later})
	if err := e.s.SetDisabled(e.ctx, a.Address, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.AccessToken(e.ctx, hash(5)); err != nil {
		t.Errorf("enabling revoked a token: %v", err)
	}
	if err := e.s.SetDisabled(e.ctx, a.Address, true); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.s.AccessToken(e.ctx, hash(5))
	wantErr(t, "token after disable", err, store.ErrNotFound)
	e.s.AddAccessToken(e.ctx, store.AccessToken{AccountID: a.ID, Hash: hash(6), ExpiresAt: later})
	e.s.AddAccessToken(e.ctx, store.AccessToken{AccountID: a.ID, Hash: hash(7), ExpiresAt: later})
	if n, err := e.s.DeleteAccessTokens(e.ctx, a.ID); n != 2 || err != nil {
		t.Errorf("DeleteAccessTokens = %d, %v", n, err)
	}
	e.s.AddAccessToken(e.ctx, store.AccessToken{AccountID: bob.ID, Hash: hash(8), ExpiresAt: later})
	if err := e.s.DeleteAccount(e.ctx, bob.Address); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.s.AccessToken(e.ctx, hash(8))
	wantErr(t, "token after account deleted", err, store.ErrNotFound)
}
