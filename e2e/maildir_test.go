package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// TestImportMaildir: a Maildir++ tree as Dovecot leaves it (LF line
// endings, flags and keywords in file names, dovecot-keywords, folders
// with dots for levels and a name in modified UTF-7, arrival times as
// modification times) imported with `postern import maildir`: a dry run
// changes nothing; the import gives IMAP the same folders, messages
// (with CRLF line endings), flags, keywords and INTERNALDATEs.
func TestImportMaildir(t *testing.T) {
	s := mailServer(t, nil)
	root := filepath.Join(t.TempDir(), "Maildir")
	type file struct {
		folder, sub, name, subject string
		when                       time.Time
		flags                      []imap.Flag
	}
	base := time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)
	files := []file{
		{"", "cur", "1709285400.M1P1.old:2,S", "seen one", base, []imap.Flag{imap.FlagSeen}},
		{"", "cur", "1709285500.M2P1.old:2,RSab", "answered with keywords", base.Add(time.Hour), []imap.Flag{imap.FlagAnswered, imap.FlagSeen, "$Label1", "Work"}},
		{"", "new", "1709285600.M3P1.old", "new one", base.Add(2 * time.Hour), nil},
		{".Archive.2024", "cur", "1709285700.M4P1.old:2,FS", "archived", base.Add(-24 * time.Hour), []imap.Flag{imap.FlagFlagged, imap.FlagSeen}},
		{".Sent", "cur", "1709285800.M5P1.old:2,S", "sent", base.Add(-time.Hour), []imap.Flag{imap.FlagSeen}},
		{".&AMk-t&AOk-", "cur", "1709285900.M6P1.old:2,", "summer", base.Add(3 * time.Hour), nil},
	}
	for _, d := range []string{"", ".Archive", ".Archive.2024", ".Sent", ".&AMk-t&AOk-"} {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(root, d, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "dovecot-keywords"), []byte("0 $Label1\n1 Work\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		path := filepath.Join(root, f.folder, f.sub, f.name)
		msg := "From: Old <old@remote.test>\nTo: alice@example.test\nSubject: " + f.subject + "\nMessage-ID: <" + f.name[:12] + "@remote.test>\n\nbody of " + f.subject + "\nsecond line\n"
		if err := os.WriteFile(path, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, f.when, f.when); err != nil {
			t.Fatal(err)
		}
	}

	dry := s.CLI("", "import", "maildir", alice, root, "--dry-run").mustOK(t).Stdout
	if !strings.Contains(dry, "would import 6 messages") {
		t.Errorf("dry run: %q", dry)
	}
	c := dialIMAP(t, s)
	if sel, err := c.Select("INBOX", nil).Wait(); err != nil || sel.NumMessages != 0 {
		t.Fatalf("INBOX after a dry run: %v, %v", sel, err)
	}
	res := s.CLI("", "import", "maildir", alice, root).mustOK(t)
	if !strings.Contains(res.Stdout, "imported 6 messages") {
		t.Errorf("import: %q", res.Stdout)
	}
	if !containsAll(res.Stderr, []string{"admin change", "action=maildir.import", "target=" + alice, "messages=6"}) {
		t.Errorf("no audit line: %q", res.Stderr)
	}

	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	for _, want := range []string{"Archive", "Archive/2024", "Sent", "Été"} {
		if !slices.Contains(names, want) {
			t.Errorf("mailbox %q not listed: %v", want, names)
		}
	}
	byFolder := map[string][]file{}
	for _, f := range files {
		name := map[string]string{"": "INBOX", ".Archive.2024": "Archive/2024", ".Sent": "Sent", ".&AMk-t&AOk-": "Été"}[f.folder]
		byFolder[name] = append(byFolder[name], f)
	}
	for mailbox, want := range byFolder {
		slices.SortFunc(want, func(a, b file) int { return a.when.Compare(b.when) })
		if _, err := c.Select(mailbox, nil).Wait(); err != nil {
			t.Fatalf("SELECT %s: %v", mailbox, err)
		}
		sec := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
		if err != nil {
			t.Fatalf("FETCH in %s: %v", mailbox, err)
		}
		if len(msgs) != len(want) {
			t.Fatalf("%s: %d messages, want %d", mailbox, len(msgs), len(want))
		}
		for i, m := range msgs {
			f := want[i]
			body := string(m.FindBodySection(sec))
			if !strings.Contains(body, "Subject: "+f.subject+"\r\n") || !strings.HasSuffix(body, "second line\r\n") || strings.Contains(strings.ReplaceAll(body, "\r\n", ""), "\n") {
				t.Errorf("%s #%d: body %q", mailbox, i+1, body)
			}
			if !m.InternalDate.Equal(f.when) {
				t.Errorf("%s #%d (%s): INTERNALDATE %v, want %v", mailbox, i+1, f.subject, m.InternalDate, f.when)
			}
			// \Recent is this session's, the first to see the messages.
			got := slices.DeleteFunc(slices.Clone(m.Flags), func(f imap.Flag) bool { return f == "\\Recent" })
			slices.Sort(got)
			wantFlags := slices.Clone(f.flags)
			slices.Sort(wantFlags)
			if !slices.Equal(got, wantFlags) {
				t.Errorf("%s #%d (%s): flags %v, want %v", mailbox, i+1, f.subject, got, wantFlags)
			}
		}
	}

	// The quota holds: carol may keep 3 messages; the import stops there,
	// and the 3 it did import are audited.
	s.CLI("", "user", "quota", carol, "0", "3").mustOK(t)
	over := s.CLI("", "import", "maildir", carol, root)
	if over.Code == 0 || !strings.Contains(over.Stderr, "over its quota after 3 messages") ||
		!containsAll(over.Stderr, []string{"action=maildir.import", "target=" + carol, "messages=3"}) {
		t.Errorf("import over the quota: exit %d, %q", over.Code, over.Stderr)
	}
	if msg := s.CLI("", "import", "maildir", alice, t.TempDir()).mustFail(t); !strings.Contains(msg, "no cur and new") {
		t.Errorf("import of a directory that is no Maildir: %q", msg)
	}
}
