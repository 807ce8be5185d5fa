package storetest

import (
	"bytes"
	"slices"
	"testing"

	"postern/internal/store"
)

func testWebmailPrefs(t *testing.T, e *env) {
	a := e.setup()
	p, err := e.s.WebmailPrefs(e.ctx, a.ID)
	if err != nil || p.Lang != "" || len(p.TrustedSenders) != 0 {
		t.Fatalf("fresh prefs %+v, %v", p, err)
	}
	_, err = e.s.WebmailPrefs(e.ctx, a.ID+1000)
	wantErr(t, "unknown account", err, store.ErrNotFound)
	wantErr(t, "lang of unknown account", e.s.SetWebmailLang(e.ctx, a.ID+1000, "en"), store.ErrNotFound)
	wantErr(t, "trust for unknown account", e.s.TrustSender(e.ctx, a.ID+1000, "x@example.com"), store.ErrNotFound)
	wantErr(t, "empty sender", e.s.TrustSender(e.ctx, a.ID, " "), store.ErrInvalid)

	if err := e.s.SetWebmailLang(e.ctx, a.ID, "zh-CN"); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"News@Example.com", "b@example.net", "news@example.com"} {
		if err := e.s.TrustSender(e.ctx, a.ID, addr); err != nil {
			t.Fatal(err)
		}
	}
	p, err = e.s.WebmailPrefs(e.ctx, a.ID)
	if err != nil || p.Lang != "zh-CN" || !slices.Equal(p.TrustedSenders, []string{"b@example.net", "news@example.com"}) {
		t.Fatalf("prefs %+v, %v", p, err)
	}
	if ok, err := e.s.SenderTrusted(e.ctx, a.ID, "NEWS@example.com"); err != nil || !ok {
		t.Errorf("SenderTrusted = %v, %v", ok, err)
	}
	if err := e.s.UntrustSender(e.ctx, a.ID, "news@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UntrustSender(e.ctx, a.ID, "never@example.com"); err != nil {
		t.Errorf("untrust absent: %v", err)
	}
	if ok, _ := e.s.SenderTrusted(e.ctx, a.ID, "news@example.com"); ok {
		t.Error("still trusted after untrust")
	}

	k1, err := e.s.ServerSecret(e.ctx, "test", 32)
	if err != nil || len(k1) != 32 {
		t.Fatalf("ServerSecret = %x, %v", k1, err)
	}
	k2, err := e.s.ServerSecret(e.ctx, "test", 32)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Errorf("second ServerSecret = %x, %v; want %x", k2, err, k1)
	}
	if k3, _ := e.s.ServerSecret(e.ctx, "other", 32); bytes.Equal(k1, k3) {
		t.Error("two names share a secret")
	}

	// The account's settings go with it.
	if err := e.s.DeleteAccount(e.ctx, a.Address); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.s.SenderTrusted(e.ctx, a.ID, "b@example.net"); ok {
		t.Error("trusted sender outlived its account")
	}
}
