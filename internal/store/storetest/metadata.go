package storetest

import (
	"testing"

	"postern/internal/store"
)

// testMetadata: entries of a mailbox and of the server (mailbox 0) are
// kept apart, read by name with their children by depth, removed by a nil
// value, bounded by maxEntries (all or nothing), and go with their mailbox.
func testMetadata(t *testing.T, e *env) {
	a := e.setup()
	mb := e.mailbox(a.ID, "INBOX")
	set := func(mailbox int64, max int, kv ...string) error {
		var es []store.MetadataEntry
		for i := 0; i < len(kv); i += 2 {
			var v []byte
			if kv[i+1] != "\x00" {
				v = []byte(kv[i+1])
			}
			es = append(es, store.MetadataEntry{Name: kv[i], Value: v})
		}
		return e.s.SetMetadata(e.ctx, a.ID, mailbox, es, max)
	}
	names := func(mailbox int64, depth int, ns ...string) []string {
		got, err := e.s.Metadata(e.ctx, a.ID, mailbox, ns, depth)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range got {
			out = append(out, m.Name+"="+string(m.Value))
		}
		return out
	}
	if err := set(mb.ID, 10, "/private/a", "1", "/private/a/b", "2", "/private/a/b/c", "3", "/private/ab", "4"); err != nil {
		t.Fatal(err)
	}
	if err := set(0, 10, "/private/a", "server"); err != nil {
		t.Fatal(err)
	}
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %q, want %q", what, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %q, want %q", what, got, want)
				return
			}
		}
	}
	check("depth 0", names(mb.ID, 0, "/private/a"), "/private/a=1")
	check("depth 1", names(mb.ID, 1, "/private/a"), "/private/a=1", "/private/a/b=2")
	check("depth infinity", names(mb.ID, -1, "/private/a"), "/private/a=1", "/private/a/b=2", "/private/a/b/c=3")
	check("server", names(0, -1, "/private/a"), "/private/a=server")
	if err := set(mb.ID, 10, "/private/a/b", "\x00"); err != nil {
		t.Fatal(err)
	}
	check("after removal", names(mb.ID, -1, "/private/a"), "/private/a=1", "/private/a/b/c=3")
	wantErr(t, "over the limit", set(mb.ID, 3, "/private/x", "x"), store.ErrLimit)
	check("nothing written over the limit", names(mb.ID, 0, "/private/x"))
	wantErr(t, "unknown mailbox", set(mb.ID+1000, 10, "/private/x", "x"), store.ErrNotFound)
	other, err := e.s.CreateMailbox(e.ctx, a.ID, "Other", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := set(other.ID, 10, "/private/x", "x"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteMailbox(e.ctx, a.ID, "Other"); err != nil {
		t.Fatal(err)
	}
	check("deleted mailbox", names(other.ID, 0, "/private/x"))
}
