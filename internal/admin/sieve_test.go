package admin

import (
	"errors"
	"strings"
	"testing"
)

func TestSieveScripts(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("alice@example.org")
	const addr = "Alice@Example.org"

	err := h.svc.PutSieveScript(h.ctx, addr, "main", []byte("require \"fileinto\";\nfileint \"x\";\n"))
	wantErr(t, err, KindInvalid, "script", "line 2, column 1")
	var se *SieveError
	if !errors.As(err, &se) || se.Line != 2 || se.Column != 1 {
		t.Errorf("compile error %#v", err)
	}
	h.wantNoAudit("refused script")
	if list, _ := h.svc.SieveScripts(h.ctx, addr); len(list) != 0 {
		t.Fatalf("refused script stored: %+v", list)
	}

	if err := h.svc.PutSieveScript(h.ctx, addr, "main", []byte(`require "fileinto"; fileinto "Lists";`)); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("sieve.put", "alice@example.org", "name", "main")
	if err := h.svc.ActivateSieveScript(h.ctx, addr, "main"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("sieve.activate", "alice@example.org", "name", "main")
	wantErr(t, h.svc.DeleteSieveScript(h.ctx, addr, "main"), KindConflict, "name", "deactivate it first")
	wantErr(t, h.svc.ActivateSieveScript(h.ctx, addr, "nope"), KindNotFound, "name", "does not exist")
	wantErr(t, h.svc.PutSieveScript(h.ctx, addr, "bad\nname", []byte("keep;")), KindInvalid, "name", "script name")
	big := []byte("# " + strings.Repeat("x", MaxSieveScriptSize) + "\nkeep;")
	err = h.svc.PutSieveScript(h.ctx, addr, "big", big)
	if !errors.Is(err, ErrSieveQuotaSize) {
		t.Errorf("oversized script: %v", err)
	}
	if err := h.svc.PutSieveScript(h.ctx, addr, "inc", []byte(`require "include"; include :personal "main";`)); err != nil {
		t.Errorf("include of an existing script: %v", err)
	}
	wantErr(t, h.svc.PutSieveScript(h.ctx, addr, "inc2", []byte(`require "include"; include :personal "absent";`)),
		KindInvalid, "script", "")
	wantErr(t, h.svc.RenameSieveScript(h.ctx, addr, "inc", "main"), KindExists, "name", "already exists")
	if err := h.svc.RenameSieveScript(h.ctx, addr, "main", "filters"); err != nil {
		t.Fatal(err)
	}
	h.audits()
	list, err := h.svc.SieveScripts(h.ctx, addr)
	if err != nil || len(list) != 2 || list[0].Name != "filters" || !list[0].Active || list[1].Active {
		t.Errorf("scripts %+v %v", list, err)
	}
	if err := h.svc.ActivateSieveScript(h.ctx, addr, ""); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("sieve.deactivate", "alice@example.org")
	if err := h.svc.DeleteSieveScript(h.ctx, addr, "inc"); err != nil {
		t.Fatal(err)
	}
	h.audits()
	for i := 0; i < MaxSieveScripts-1; i++ {
		if err := h.svc.PutSieveScript(h.ctx, addr, "s"+strings.Repeat("x", i), []byte("keep;")); err != nil {
			t.Fatal(err)
		}
	}
	h.audits()
	if err := h.svc.SieveHaveSpace(h.ctx, addr, "one more", 10); !errors.Is(err, ErrSieveQuotaScripts) {
		t.Errorf("quota of scripts: %v", err)
	}
	if err := h.svc.SieveHaveSpace(h.ctx, addr, "filters", 10); err != nil {
		t.Errorf("replacing a script within quota: %v", err)
	}

	wantErr(t, h.svc.PutGlobalSieveScript(h.ctx, "middle", []byte("keep;")), KindInvalid, "name", "before or after")
	if err := h.svc.PutGlobalSieveScript(h.ctx, "before", []byte(`require "fileinto"; if header :contains "x-spam" "yes" { fileinto "Junk"; }`)); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("sieve.global.put", "before")
	if src, err := h.svc.GlobalSieveScript(h.ctx, "before"); err != nil || !strings.Contains(string(src), "Junk") {
		t.Errorf("global script %q %v", src, err)
	}
}
