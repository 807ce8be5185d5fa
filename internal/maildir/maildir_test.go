package maildir

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"postern/internal/store"
)

func TestParseInfo(t *testing.T) {
	kw := [26]string{"$Label1", "Work"}
	for _, c := range []struct {
		name  string
		flags store.Flags
		kws   []string
	}{
		{"1.M1.host:2,S", store.FlagSeen, nil},
		{"1.M1.host:2,DFRST", store.FlagDraft | store.FlagFlagged | store.FlagAnswered | store.FlagSeen | store.FlagDeleted, nil},
		{"1.M1.host:2,Sabz", store.FlagSeen, []string{"$Label1", "Work"}}, // z has no keyword
		{"1.M1.host:2,P", 0, nil}, // passed: no IMAP flag
		{"1.M1.host", 0, nil},
		{"1.M1.host:1,S", 0, nil}, // experimental info: not flags
		{"1.M1.ho:2,st:2,F", store.FlagFlagged, nil},
	} {
		flags, kws := parseInfo(c.name, kw)
		if flags != c.flags || !slices.Equal(kws, c.kws) {
			t.Errorf("%s: %v %v, want %v %v", c.name, flags, kws, c.flags, c.kws)
		}
	}
}

func TestFoldersAndMessages(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"", ".Sent", ".A.B", ".&AMk-t&AOk-", ".bad..name", ".notmaildir/x"} {
		for _, sub := range []string{"cur", "new"} {
			if err := os.MkdirAll(filepath.Join(root, d, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	os.RemoveAll(filepath.Join(root, ".notmaildir", "x"))
	os.MkdirAll(filepath.Join(root, ".notmaildir", "cur"), 0o700) // no new/
	fs, err := Folders(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
	}
	if want := []string{"INBOX", "A/B", "Sent", "Été"}; !slices.Equal(names, want) {
		t.Errorf("folders %v, want %v", names, want)
	}
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, n := range []string{"cur/b:2,S", "new/a", "cur/.hidden", "cur/c:2,"} {
		p := filepath.Join(root, n)
		os.WriteFile(p, []byte("x"), 0o600)
		os.Chtimes(p, t0.Add(-time.Duration(i)*time.Hour), t0.Add(-time.Duration(i)*time.Hour))
	}
	msgs, err := Messages(fs[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, filepath.Base(m.Path))
	}
	if want := []string{"c:2,", "a", "b:2,S"}; !slices.Equal(got, want) {
		t.Errorf("messages %v, want %v (oldest first, no dot files)", got, want)
	}
	if msgs[2].Flags != store.FlagSeen || !msgs[2].Received.Equal(t0) {
		t.Errorf("b: %+v", msgs[2])
	}
	if _, err := Folders(filepath.Join(root, ".notmaildir")); err == nil {
		t.Error("a directory without new/ taken as a Maildir")
	}
}

func TestKeywords(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dovecot-keywords"), []byte("0 $Label1\n2 Later on\nx bad\n30 far\n1\n"), 0o600)
	kw, err := Keywords(dir)
	if err != nil || kw[0] != "$Label1" || kw[1] != "" || kw[2] != "Later on" {
		t.Errorf("%q %v", kw[:3], err)
	}
}

func FuzzCRLF(f *testing.F) {
	for _, s := range []string{"a\nb\n", "a\r\nb\n", "\n", "\r\n\r\n", "x", "\r", "a\r\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := CRLF(in)
		if !bytes.Equal(bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n")), bytes.ReplaceAll(in, []byte("\r\n"), []byte("\n"))) {
			t.Fatalf("CRLF(%q) = %q changed more than line endings", in, out)
		}
		if bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) {
			t.Fatalf("CRLF(%q) = %q has a bare LF", in, out)
		}
	})
}

func FuzzParseInfo(f *testing.F) {
	for _, s := range []string{"1.M1.host:2,S", "x:2,abcRSTFD", ":2,", "a:2,:2,z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		kw := [26]string{"a", "b"}
		_, kws := parseInfo(name, kw)
		if len(kws) > len(name) {
			t.Fatalf("%d keywords from %q", len(kws), name)
		}
	})
}
