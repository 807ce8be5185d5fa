package storetest

import (
	"testing"
	"time"

	"postern/internal/store"
)

func testSieveScripts(t *testing.T, e *env) {
	a := e.setup()
	b := e.account("bob@example.org")
	if _, err := e.s.ActiveSieveScript(e.ctx, a.ID); err != store.ErrNotFound {
		t.Errorf("active script of a new account: %v", err)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("put main", e.s.PutSieveScript(e.ctx, a.ID, "main", []byte("keep;")))
	must("put work", e.s.PutSieveScript(e.ctx, a.ID, "work", []byte("discard;")))
	must("put bob's", e.s.PutSieveScript(e.ctx, b.ID, "main", []byte("stop;")))
	wantErr(t, "put for no account", e.s.PutSieveScript(e.ctx, 999999, "x", []byte("keep;")), store.ErrNotFound)
	wantErr(t, "empty name", e.s.PutSieveScript(e.ctx, a.ID, "", []byte("keep;")), store.ErrInvalid)
	wantErr(t, "control character", e.s.PutSieveScript(e.ctx, a.ID, "a\nb", []byte("keep;")), store.ErrInvalid)

	list, err := e.s.SieveScripts(e.ctx, a.ID)
	if err != nil || len(list) != 2 || list[0].Name != "main" || list[1].Name != "work" || list[0].Active || string(list[1].Source) != "discard;" {
		t.Fatalf("scripts %+v %v", list, err)
	}
	wantErr(t, "activate unknown", e.s.SetActiveSieveScript(e.ctx, a.ID, "nope"), store.ErrNotFound)
	must("activate main", e.s.SetActiveSieveScript(e.ctx, a.ID, "main"))
	must("activate work", e.s.SetActiveSieveScript(e.ctx, a.ID, "work"))
	act, err := e.s.ActiveSieveScript(e.ctx, a.ID)
	if err != nil || act.Name != "work" || !act.Active || string(act.Source) != "discard;" {
		t.Errorf("active %+v %v", act, err)
	}
	if act, err := e.s.ActiveSieveScript(e.ctx, b.ID); err != store.ErrNotFound {
		t.Errorf("bob's active script %+v %v", act, err)
	}
	must("replace active", e.s.PutSieveScript(e.ctx, a.ID, "work", []byte("keep; stop;")))
	act, _ = e.s.ActiveSieveScript(e.ctx, a.ID)
	if act.Name != "work" || string(act.Source) != "keep; stop;" {
		t.Errorf("replaced active script %+v", act)
	}
	wantErr(t, "delete active", e.s.DeleteSieveScript(e.ctx, a.ID, "work"), store.ErrNotPermitted)
	wantErr(t, "delete unknown", e.s.DeleteSieveScript(e.ctx, a.ID, "nope"), store.ErrNotFound)
	wantErr(t, "rename onto existing", e.s.RenameSieveScript(e.ctx, a.ID, "main", "work"), store.ErrExists)
	wantErr(t, "rename unknown", e.s.RenameSieveScript(e.ctx, a.ID, "nope", "x"), store.ErrNotFound)
	must("rename active", e.s.RenameSieveScript(e.ctx, a.ID, "work", "filters"))
	if act, _ := e.s.ActiveSieveScript(e.ctx, a.ID); act.Name != "filters" {
		t.Errorf("renamed active script is %q", act.Name)
	}
	must("deactivate", e.s.SetActiveSieveScript(e.ctx, a.ID, ""))
	if _, err := e.s.ActiveSieveScript(e.ctx, a.ID); err != store.ErrNotFound {
		t.Errorf("after deactivate: %v", err)
	}
	must("delete", e.s.DeleteSieveScript(e.ctx, a.ID, "filters"))
	if _, err := e.s.SieveScript(e.ctx, a.ID, "filters"); err != store.ErrNotFound {
		t.Errorf("deleted script: %v", err)
	}
	if sc, err := e.s.SieveScript(e.ctx, b.ID, "main"); err != nil || string(sc.Source) != "stop;" {
		t.Errorf("bob's script %+v %v", sc, err)
	}

	wantErr(t, "global of another name", e.s.PutGlobalSieveScript(e.ctx, "middle", []byte("keep;")), store.ErrInvalid)
	if _, err := e.s.GlobalSieveScript(e.ctx, store.SieveGlobalBefore); err != store.ErrNotFound {
		t.Errorf("unset global: %v", err)
	}
	must("put global", e.s.PutGlobalSieveScript(e.ctx, store.SieveGlobalBefore, []byte("keep;")))
	if g, err := e.s.GlobalSieveScript(e.ctx, store.SieveGlobalBefore); err != nil || string(g.Source) != "keep;" {
		t.Errorf("global %+v %v", g, err)
	}
	must("remove global", e.s.PutGlobalSieveScript(e.ctx, store.SieveGlobalBefore, nil))
	if _, err := e.s.GlobalSieveScript(e.ctx, store.SieveGlobalBefore); err != store.ErrNotFound {
		t.Errorf("removed global: %v", err)
	}

	must("delete bob", e.s.DeleteAccount(e.ctx, "bob@example.org"))
	if list, _ := e.s.SieveScripts(e.ctx, b.ID); len(list) != 0 {
		t.Errorf("scripts outlive their account: %+v", list)
	}
}

func testSieveTracking(t *testing.T, e *env) {
	a := e.setup()
	t0 := time.Unix(1_800_000_000, 0)
	day := 24 * time.Hour
	if seen, err := e.s.TrackSieve(e.ctx, a.ID, "vacation:x", t0, t0.Add(day), false); err != nil || seen {
		t.Fatalf("first track: seen=%v %v", seen, err)
	}
	if seen, _ := e.s.TrackSieve(e.ctx, a.ID, "vacation:x", t0.Add(time.Hour), t0.Add(25*time.Hour), false); !seen {
		t.Error("second track within the period not seen")
	}
	// Without refresh the expiry stays at t0+day.
	if ok, _ := e.s.SieveTracked(e.ctx, a.ID, "vacation:x", t0.Add(day+time.Minute)); ok {
		t.Error("record outlived its expiry without refresh")
	}
	if ok, _ := e.s.SieveTracked(e.ctx, a.ID, "vacation:x", t0.Add(day-time.Minute)); !ok {
		t.Error("record gone before its expiry")
	}
	if seen, _ := e.s.TrackSieve(e.ctx, a.ID, "vacation:x", t0.Add(day+time.Minute), t0.Add(2*day), false); seen {
		t.Error("expired record still seen")
	}
	// With refresh the expiry moves.
	if seen, _ := e.s.TrackSieve(e.ctx, a.ID, "dup:y", t0, t0.Add(time.Hour), true); seen {
		t.Error("new dup seen")
	}
	if seen, _ := e.s.TrackSieve(e.ctx, a.ID, "dup:y", t0.Add(30*time.Minute), t0.Add(90*time.Minute), true); !seen {
		t.Error("dup within period not seen")
	}
	if ok, _ := e.s.SieveTracked(e.ctx, a.ID, "dup:y", t0.Add(80*time.Minute)); !ok {
		t.Error("refreshed record expired early")
	}
	b := e.account("bob@example.org")
	if ok, _ := e.s.SieveTracked(e.ctx, b.ID, "dup:y", t0); ok {
		t.Error("records leak between accounts")
	}
}
