package e2e

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
)

// TestIMAPSharedFolderImaplib: alice shares a folder with bob (RFC 4314
// ACL, "lrsw"), bob finds it in the other users' namespace (RFC 2342),
// selects it, reads and flags a message, and may not delete anything;
// alice sees his flag; once she revokes, bob loses the folder, even the
// session that has it selected. Driven by Python's imaplib.
func TestIMAPSharedFolderImaplib(t *testing.T) {
	s := mailServer(t, nil)
	host, port, _ := net.SplitHostPort(s.Addr["imap"])
	p, _ := strconv.Atoi(port)
	var out struct {
		Steps [][]any
		Error *string
	}
	runPy(t, "imap_acl.py", map[string]any{"host": host, "port": p, "owner": alice, "grantee": bob, "pass": pass}, &out)
	if out.Error != nil {
		t.Fatalf("imaplib: %s (steps %v)", *out.Error, out.Steps)
	}
	got := map[string]string{}
	for _, st := range out.Steps {
		got[fmt.Sprint(st[0])] = fmt.Sprint(st[1], " ", st[2])
	}
	shared := "Other Users/" + alice + "/Team"
	want := []struct{ step, status, has string }{
		{"capability", "OK", "RIGHTS=texk"},
		{"setacl", "OK", ""},
		{"getacl", "OK", `Team ` + alice + ` lrswipkxteacd ` + bob + ` lrsw`},
		{"namespace", "OK", `(("" "/")) (("Other Users/" "/")) NIL`},
		{"list", "OK", `(\HasNoChildren) "/" "` + shared + `"`},
		{"myrights", "OK", `"` + shared + `" lrsw`},
		{"select", "OK", "1"},
		{"fetch", "OK", "plans"},
		{"store-flagged", "OK", `\Flagged`},
		{"store-deleted", "NO", "NOPERM"},
		{"expunge", "NO", "NOPERM"},
		{"delete", "NO", "NOPERM"},
		{"owner-noop", "OK", `\Flagged`},
		{"deleteacl", "OK", ""},
		{"fetch-revoked", "NO", "NOPERM"},
		{"select-revoked", "NO", "NONEXISTENT"},
	}
	for _, w := range want {
		g, ok := got[w.step]
		if !ok || !strings.HasPrefix(g, w.status+" ") || !strings.Contains(g, w.has) {
			t.Errorf("%s: got %q, want %s with %q", w.step, g, w.status, w.has)
		}
	}
	if g := got["list"]; !strings.Contains(g, `(\Noselect \HasChildren) "/" "Other Users/`+alice+`"`) {
		t.Errorf("list lacks the owner's level: %s", g)
	}
	if g := got["list-revoked"]; !strings.HasPrefix(g, "OK ") || strings.Contains(g, "Other Users") {
		t.Errorf("list after revoke: %s", g)
	}
	if _, ok := s.WaitLog(0, "imap acl changed", "identifier="+bob); !ok {
		t.Errorf("no log line for the ACL change:\n%s", tail(s.Logs(), 20))
	}
}

// TestIMAPShareByAdministrator: the administrator shares alice's INBOX
// with bob from the CLI; bob's go-imap client lists and opens it, with
// the rights given; the CLI lists the grant and takes it back.
func TestIMAPShareByAdministrator(t *testing.T) {
	s := mailServer(t, nil)
	s.CLI("", "user", "share", alice, "INBOX", bob, "lr").mustOK(t)
	if out := s.CLI("", "user", "shares", alice, "INBOX").mustOK(t).Stdout; out != bob+"\tlr\n" {
		t.Errorf("user shares: %q", out)
	}
	if msg := s.CLI("", "user", "share", alice, "INBOX", bob, "lrz").mustFail(t); !strings.Contains(msg, "lrswipkxtea") {
		t.Errorf("bad rights: %q", msg)
	}
	c, err := imapclient.DialInsecure(s.Addr["imap"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(bob, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	shared := "Other Users/" + alice + "/INBOX"
	list, err := c.List("", "Other Users/*", nil).Collect()
	if err != nil || len(list) != 2 || list[1].Mailbox != shared {
		t.Fatalf("LIST: %+v %v", list, err)
	}
	sel, err := c.Select(shared, nil).Wait()
	if err != nil || len(sel.PermanentFlags) != 0 {
		t.Fatalf("SELECT: %+v %v (read-only expected: no permanent flags)", sel, err)
	}
	s.CLI("", "user", "share", alice, "INBOX", bob, "").mustOK(t)
	if list, err = c.List("", "Other Users/*", nil).Collect(); err != nil || len(list) != 0 {
		t.Errorf("LIST after revoke: %+v %v", list, err)
	}
}
