package e2e

import (
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminUIManage drives the parts of the web admin that delete or
// refuse (admin-manage.mjs) and checks after each phase what the server
// holds: the dashboard's figure for bodies on disk after mail came in; a
// domain deleted only when its name is typed again right, with its
// accounts; an alias deleted after a question; global Sieve scripts
// refused with line and column and nothing stored, then saved and listed;
// a domain administrator who opens an account of another domain by URL is
// refused and logged. Then those screens in both languages at phone and
// desktop widths.
func TestAdminUIManage(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	adminBase := "http://" + s.Addr["admin"]
	const rootPass, deputyPass = "root admin passphrase 4", "deputy admin passphrase 5"
	s.AddSecret(rootPass)
	s.AddSecret(deputyPass)
	s.CLI(rootPass+"\n", "admin", "add", "root", "--role", "server", "--password-stdin").mustOK(t)
	goneAccounts := []string{"gus@gone.test", "gia@gone.test"}
	for _, d := range []string{"gone.test", "other.test"} {
		s.CLI("", "domain", "add", d).mustOK(t)
	}
	for _, a := range append(goneAccounts, "dora@other.test") {
		s.AddUser(a, "mailbox passphrase of "+a)
	}
	s.CLI("", "alias", "add", "sales@example.test", alice).mustOK(t)
	s.CLI("", "alias", "add", "info@example.test", bob+", someone@example.net").mustOK(t)
	s.CLI("", "alias", "add", "team@gone.test", goneAccounts[0]).mustOK(t)
	s.CLI(deputyPass+"\n", "admin", "add", "deputy", "--role", "domain", "--domains", "other.test", "--password-stdin").mustOK(t)
	root := newAdminClient(t, adminBase, "root", rootPass)

	input := map[string]any{"admin": adminBase, "root": "root", "rootPass": rootPass, "deputy": "deputy", "deputyPass": deputyPass,
		"gone": "gone.test", "goneAccounts": goneAccounts, "kept": "example.test", "alias": "sales@example.test", "keptAlias": "info@example.test",
		"own": "other.test", "ownAccount": "dora@other.test", "foreignAccount": bob,
		// An unknown command on line 3: the compiler says where.
		"badScript": "require [\"fileinto\"];\nif header :contains \"subject\" \"x\" {\n  fileinot \"Junk\";\n}\n",
		"goodScripts": map[string]string{
			"before": "require [\"fileinto\"];\nif header :contains \"subject\" \"[SPAM]\" {\n  fileinto \"Junk\";\n}\n",
			"after":  "if size :over 50M {\n  discard;\n}\n",
		},
		"shotDir": screenshotDir(t)}
	run := adminPhases(t, "admin-manage.mjs", input)

	// The dashboard is looked at before any mail, then a message is
	// delivered: the next look counts it (it once showed 0 B for a minute).
	empty := run("empty", nil)
	before := stepInfo(empty.Steps, "dashboard: before any mail")["apiBodies"]
	msg := testMessage("friend@example.net", alice, uniq(), strings.Repeat("a line of the body to take some room\r\n", 50))
	mustSend(t, s.Addr["smtp"], "friend@example.net", []string{alice}, msg)
	onDisk := dirBytes(t, filepath.Join(s.Dir, "blobs"))
	if onDisk < int64(len(msg)) {
		t.Fatalf("the blob directory holds %d bytes after a %d-byte message was accepted", onDisk, len(msg))
	}

	manage := run("manage", map[string]any{"minBodies": len(msg)})
	shown := stepInfo(manage.Steps, "dashboard: bodies delivered since the last look")
	if got, ok := shown["apiBodies"].(float64); !ok || int64(got) != onDisk {
		t.Errorf("the dashboard's bodies on disk: %v bytes (before the delivery: %v), the blob directory holds %d", shown["apiBodies"], before, onDisk)
	}
	t.Logf("bodies on disk: %v before the delivery, tile %q after (%d bytes)", before, shown["tile"], onDisk)

	refused := stepInfo(manage.Steps, "domain: a wrong name typed again refuses and keeps it")
	if refused["statusAfter"] != float64(http.StatusOK) {
		t.Errorf("GET of the domain after the refused deletion, from the page: %v, want 200", refused["statusAfter"])
	}
	if st := root.call("GET", "/admin/api/domains/gone.test", nil, nil); st != http.StatusNotFound {
		t.Errorf("GET /admin/api/domains/gone.test after the deletion: %d, want 404", st)
	}
	if st := root.call("GET", "/admin/api/accounts/"+goneAccounts[0], nil, nil); st != http.StatusNotFound {
		t.Errorf("GET of an account of the deleted domain: %d, want 404", st)
	}
	if out := s.CLI("", "domain", "list").mustOK(t).Stdout; strings.Contains(out, "gone.test") || !strings.Contains(out, "other.test") {
		t.Errorf("`domain list` after the deletion in the browser: %s", out)
	}
	for a, st := range stepInfo(manage.Steps, "domain: the right name deletes it and its accounts")["accountStatuses"].(map[string]any) {
		if st != float64(http.StatusNotFound) {
			t.Errorf("GET of %s from the page after its domain was deleted: %v, want 404", a, st)
		}
	}

	var aliases struct {
		Aliases []struct{ Source string } `json:"aliases"`
	}
	root.getJSON("/admin/api/domains/example.test/aliases", &aliases)
	var sources []string
	for _, a := range aliases.Aliases {
		sources = append(sources, a.Source)
	}
	if strings.Join(sources, ",") != "info@example.test" {
		t.Errorf("aliases of example.test after the browser deleted sales@: %v, want only info@", sources)
	}

	sieveRefused := stepInfo(manage.Steps, "sieve: global scripts with a syntax error are refused where they are wrong")
	for _, which := range []string{"before", "after"} {
		if msg, _ := sieveRefused[which].(string); !strings.Contains(msg, "Line 3,") {
			t.Errorf("the %s script's refusal: %q, want line 3", which, msg)
		}
		if sieveRefused[which+"Status"] != float64(http.StatusNotFound) {
			t.Errorf("GET of the %s script from the page after the refusal: %v, want 404", which, sieveRefused[which+"Status"])
		}
		if st := root.call("GET", "/admin/api/sieve/global/"+which, nil, nil); st != http.StatusNotFound {
			t.Errorf("GET /admin/api/sieve/global/%s after the refused save: %d, want 404 (nothing stored)", which, st)
		}
	}
	if sieveRefused["cursorLine"] != float64(3) {
		t.Errorf("the cursor was put on line %v of the refused script, want 3", sieveRefused["cursorLine"])
	}

	run("sieve", nil)
	checkGlobals := func(when string) {
		t.Helper()
		for which, want := range input["goodScripts"].(map[string]string) {
			var got struct{ Script string }
			if st := root.call("GET", "/admin/api/sieve/global/"+which, nil, &got); st != http.StatusOK || got.Script != want {
				t.Errorf("global %s script %s: %d %q, want %q", which, when, st, got.Script, want)
			}
		}
	}
	checkGlobals("saved in the browser")

	dep := run("deputy", nil)
	if st := stepInfo(dep.Steps, "deputy: an account of another domain by URL is refused"); st["apiStatus"] != float64(http.StatusForbidden) {
		t.Errorf("the domain administrator's GET of another domain's account from the page: %v, want 403", st["apiStatus"])
	}
	if _, ok := s.WaitLog(5*time.Second, "admin request forbidden", "admin=deputy"); !ok {
		t.Errorf("no log line for the domain administrator's refused request")
	}

	shots := run("screens", nil)
	checkGlobals("after refused saves on the screens")
	if st := root.call("GET", "/admin/api/domains/example.test", nil, nil); st != http.StatusOK {
		t.Errorf("example.test after a refused deletion on the screens: %d", st)
	}
	t.Logf("screenshots: %d files in %s", len(shots.Shots), screenshotDir(t))
}

// dirBytes is the size of the regular files under dir.
func dirBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		fi, err := e.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return n
}
