package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// mbsyncRig is a Maildir synchronised with alice's account by mbsync
// (Debian isync, installed by scripts/deps.sh).
type mbsyncRig struct {
	t    *testing.T
	s    *Server
	conf string
	mail string // the Maildir root; INBOX is mail/INBOX
}

func newMbsyncRig(t *testing.T, s *Server) *mbsyncRig {
	if _, err := exec.LookPath("mbsync"); err != nil {
		t.Fatalf("mbsync not installed (run scripts/deps.sh): %v", err)
	}
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(s.Addr["imap"])
	r := &mbsyncRig{t: t, s: s, conf: filepath.Join(dir, "mbsyncrc"), mail: filepath.Join(dir, "mail")}
	conf := fmt.Sprintf(`IMAPAccount srv
Host %s
Port %s
User %s
Pass "%s"
SSLType None
AuthMechs LOGIN

IMAPStore far
Account srv

MaildirStore near
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel both
Far :far:
Near :near:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
`, host, port, alice, pass, r.mail, r.mail)
	if err := os.MkdirAll(r.mail, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// sync runs mbsync once over every folder, both ways.
func (r *mbsyncRig) sync() {
	r.t.Helper()
	out, err := exec.Command("mbsync", "-c", r.conf, "-a").CombinedOutput()
	if err != nil {
		r.t.Fatalf("mbsync: %v\n%s", err, out)
	}
}

// files lists the message files of a local folder (cur and new).
func (r *mbsyncRig) files(folder string) []string {
	r.t.Helper()
	var out []string
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(r.mail, folder, sub))
		if err != nil && !os.IsNotExist(err) {
			r.t.Fatal(err)
		}
		for _, e := range ents {
			out = append(out, filepath.Join(r.mail, folder, sub, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// fileWith returns the local file of folder holding id, or "".
func (r *mbsyncRig) fileWith(folder, id string) string {
	for _, f := range r.files(folder) {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), id) {
			return f
		}
	}
	return ""
}

// maildirFlags returns the flag letters of a Maildir file name ("2,FS").
func maildirFlags(name string) string {
	_, info, _ := strings.Cut(filepath.Base(name), ":2,")
	return info
}

// serverView lists the Message-ID tokens of a server folder with their flags.
func serverView(t *testing.T, c *imapclient.Client, folder string) map[string][]imap.Flag {
	t.Helper()
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		t.Fatalf("SELECT %s: %v", folder, err)
	}
	out := map[string][]imap.Flag{}
	if sel.NumMessages == 0 {
		return out
	}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	var all imap.SeqSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{hdr}}).Collect()
	if err != nil {
		t.Fatalf("FETCH %s: %v", folder, err)
	}
	for _, m := range msgs {
		h := string(m.FindBodySection(hdr))
		i := strings.Index(h, "Message-ID: <")
		if i < 0 {
			t.Fatalf("%s: message without Message-ID:\n%s", folder, h)
		}
		id, _, _ := strings.Cut(h[i+len("Message-ID: <"):], "@")
		out[id] = m.Flags
	}
	return out
}

func hasFlag(fl []imap.Flag, f imap.Flag) bool {
	for _, x := range fl {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

// TestMbsyncBothWays: mbsync pulls the account into a Maildir, then pushes
// local changes (a new message, a flag, a deletion, a move between
// folders) and pulls server changes (a delivery, a flag, an expunge, a
// MOVE), and both sides end up with the same folders, messages and flags.
func TestMbsyncBothWays(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	c, err := imapclient.DialInsecure(s.Addr["imap"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(alice, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = uniq()
		mustSend(t, s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, ids[i], "message "+fmt.Sprint(i)))
	}
	if err := c.Create("Work", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	workID := uniq()
	appendMsg(t, c, "Work", testMessage("me@example.test", alice, workID, "filed"))

	r := newMbsyncRig(t, s)
	r.sync()
	if n := len(r.files("INBOX")); n != 4 {
		t.Fatalf("after the first sync the local INBOX has %d messages, want 4", n)
	}
	if r.fileWith("Work", workID) == "" {
		t.Fatalf("Work not pulled: %v", r.files("Work"))
	}

	// Local changes: \Seen on ids[0], ids[1] deleted, ids[2] moved to Work
	// (a moved file loses its ,U= part, as mbsync's manual asks), and a new
	// message written into Work/new.
	f0 := r.fileWith("INBOX", ids[0])
	base, _, _ := strings.Cut(filepath.Base(f0), ":2,")
	mustRename(t, f0, filepath.Join(r.mail, "INBOX", "cur", base+":2,S"))
	if err := os.Remove(r.fileWith("INBOX", ids[1])); err != nil {
		t.Fatal(err)
	}
	f2 := r.fileWith("INBOX", ids[2])
	moved, _, _ := strings.Cut(filepath.Base(f2), ",U=")
	mustRename(t, f2, filepath.Join(r.mail, "Work", "cur", moved+":2,"))
	localID := uniq()
	if err := os.WriteFile(filepath.Join(r.mail, "Work", "new", "1700000000.local."+localID),
		[]byte(testMessage("me@example.test", alice, localID, "written locally")), 0o600); err != nil {
		t.Fatal(err)
	}
	// Server changes: a new delivery and \Flagged on ids[3].
	newID := uniq()
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, newID, "arrived later"))
	flagByID(t, c, "INBOX", ids[3], imap.FlagFlagged)

	r.sync()
	inbox := serverView(t, c, "INBOX")
	if _, ok := inbox[ids[1]]; ok {
		t.Errorf("message deleted locally is still in the server INBOX")
	}
	if _, ok := inbox[ids[2]]; ok {
		t.Errorf("message moved locally is still in the server INBOX")
	}
	if !hasFlag(inbox[ids[0]], imap.FlagSeen) {
		t.Errorf("local \\Seen not pushed: %v", inbox[ids[0]])
	}
	work := serverView(t, c, "Work")
	for _, id := range []string{workID, ids[2], localID} {
		if _, ok := work[id]; !ok {
			t.Errorf("server Work lacks %s (have %v)", id, work)
		}
	}
	if f := r.fileWith("INBOX", newID); f == "" {
		t.Errorf("new delivery not pulled")
	}
	if f := r.fileWith("INBOX", ids[3]); !strings.Contains(maildirFlags(f), "F") {
		t.Errorf("server \\Flagged not pulled: %s", f)
	}

	// Server-side expunge of ids[0] and MOVE of newID into Work.
	serverExpunge(t, c, "INBOX", ids[0])
	serverMove(t, c, "INBOX", newID, "Work")
	r.sync()
	if r.fileWith("INBOX", ids[0]) != "" {
		t.Errorf("message expunged on the server is still local")
	}
	if r.fileWith("INBOX", newID) != "" || r.fileWith("Work", newID) == "" {
		t.Errorf("server MOVE not mirrored locally: INBOX %v, Work %v", r.files("INBOX"), r.files("Work"))
	}
	// A last sync changes nothing: both sides agree.
	r.sync()
	if got, want := len(r.files("INBOX")), len(serverView(t, c, "INBOX")); got != want {
		t.Errorf("INBOX: %d local, %d on the server", got, want)
	}
	if got, want := len(r.files("Work")), len(serverView(t, c, "Work")); got != want || got != 4 {
		t.Errorf("Work: %d local, %d on the server, want 4", got, want)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func appendMsg(t *testing.T, c *imapclient.Client, folder, msg string) {
	t.Helper()
	cmd := c.Append(folder, int64(len(msg)), nil)
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND %s: %v", folder, err)
	}
}

// uidByID selects folder and returns the UID of the message holding id.
func uidByID(t *testing.T, c *imapclient.Client, folder, id string) imap.UID {
	t.Helper()
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{
		Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: id}},
	}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	uids := res.AllUIDs()
	if len(uids) != 1 {
		t.Fatalf("%s: %d messages with id %s", folder, len(uids), id)
	}
	return uids[0]
}

func flagByID(t *testing.T, c *imapclient.Client, folder, id string, f imap.Flag) {
	t.Helper()
	uid := uidByID(t, c, folder, id)
	if err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{f}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
}

func serverExpunge(t *testing.T, c *imapclient.Client, folder, id string) {
	t.Helper()
	flagByID(t, c, folder, id, imap.FlagDeleted)
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
}

func serverMove(t *testing.T, c *imapclient.Client, folder, id, to string) {
	t.Helper()
	uid := uidByID(t, c, folder, id)
	if _, err := c.Move(imap.UIDSetNum(uid), to).Wait(); err != nil {
		t.Fatalf("MOVE: %v", err)
	}
}
