package admin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An import skips, and names, a file over the size limit, passes over
// what is not a regular file, imports the rest, and refuses an account
// that is not there.
func TestImportMaildirSkips(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("alice@example.org")
	root := t.TempDir()
	for _, sub := range []string{"cur", "new"} {
		os.MkdirAll(filepath.Join(root, sub), 0o700)
	}
	os.WriteFile(filepath.Join(root, "cur", "1.small:2,S"), []byte("Subject: small\n\nhi\n"), 0o600)
	os.WriteFile(filepath.Join(root, "cur", "2.big:2,S"), []byte("Subject: big\n\n"+strings.Repeat("x", 200)+"\n"), 0o600)
	os.Mkdir(filepath.Join(root, "new", "3.dir"), 0o700) // not a file: not listed
	os.Symlink("/nonexistent", filepath.Join(root, "new", "4.link"))
	res, err := h.svc.ImportMaildir(h.ctx, "alice@example.org", root, MaildirOptions{MaxMessageBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 1 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "over the limit of 100") {
		t.Fatalf("%+v", res)
	}
	h.wantAudit("maildir.import", "alice@example.org", "messages", 1, "skipped", 1)
	acct, _ := h.st.Account(h.ctx, "alice@example.org")
	inbox, _ := h.st.Mailbox(h.ctx, acct.ID, "INBOX")
	if st, err := h.st.MailboxStatus(h.ctx, inbox.ID); err != nil || st.Messages != 1 {
		t.Errorf("INBOX holds %d messages (%v), want 1", st.Messages, err)
	}
	_, err = h.svc.ImportMaildir(h.ctx, "nobody@example.org", root, MaildirOptions{})
	wantErr(t, err, KindNotFound, "address", "")
}
