package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// TestBackupWhileServing: `postern backup` runs while mail arrives and a
// full compaction moves bodies and removes segments; the copy, put in
// place of the data directory as the README says, gives a server that
// has every message acknowledged before the backup (large bodies in files
// of their own among them), whole, without those deleted before it, and
// whose text search works again once it has re-indexed.
func TestBackupWhileServing(t *testing.T) {
	s := mailServer(t, nil)
	var before []string
	for i := range 40 {
		id := fmt.Sprintf("before-%d-%s", i, uniq())
		lines := 1 + i*40
		if i%13 == 5 {
			lines = 12000 // ~500 KiB: a file of its own
		}
		body := fmt.Sprintf("needle-%d-end\r\n", i) + strings.Repeat("line of "+id+"\r\n", lines)
		if err := sendSMTP(s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, id, body)); err != nil {
			t.Fatal(err)
		}
		before = append(before, id)
	}
	// Delete every fourth, so that the compaction below has bodies to move.
	msgs := fetchAll(t, s, alice, pass)
	deleted := map[string]bool{}
	p := dialPOP3(t, s.Addr["pop3"])
	p.login(alice, pass)
	for _, m := range msgs {
		if id, _ := complete(m.Text); m.Num%4 == 0 {
			p.ok("DELE " + itoa(m.Num))
			deleted[id] = true
		}
	}
	p.ok("QUIT")

	// Let the text index catch up first: the copy must be re-indexed
	// whatever state its bodies were in.
	waitFor(t, 30*time.Second, "the text index", func() bool {
		out, err := exec.Command("python3", "-c", `import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT COUNT(*) FROM blobs WHERE text_state = 2").fetchone()[0])`, filepath.Join(s.Dir, "postern.db")).Output()
		return err == nil && strings.TrimSpace(string(out)) == "0"
	})

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var during []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("during-%d-%s", i, uniq())
			if sendSMTP(s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, id, strings.Repeat("x\r\n", 1+i%3*3000))) == nil {
				mu.Lock()
				during = append(during, id)
				mu.Unlock()
			}
		}
	}()
	compacted := make(chan cliResult, 1)
	go func() { compacted <- s.CLI("", "compact", "--full") }()
	dir := filepath.Join(t.TempDir(), "backup")
	out := s.CLI("", "backup", dir).mustOK(t).Stdout
	t.Logf("backup: %s", strings.TrimSpace(out))
	(<-compacted).mustOK(t)
	close(stop)
	wg.Wait()
	if !strings.Contains(out, "restore:") {
		t.Errorf("backup output: %q", out)
	}
	if s.CLI("", "backup", dir).mustFail(t) == "" {
		t.Error("a second backup into the same directory gave no reason")
	}
	if _, err := os.Stat(filepath.Join(dir, "postern.toml")); err != nil {
		t.Errorf("no config in the backup: %v", err)
	}

	// Restore: the server stopped, the backup's data directory in place of
	// its own.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postern.db", "postern.db-wal", "postern.db-shm", "text.db", "text.db-wal", "text.db-shm", "blobs"} {
		os.RemoveAll(filepath.Join(s.Dir, name))
	}
	if b, err := exec.Command("cp", "-a", filepath.Join(dir, "data")+"/.", s.Dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, b)
	}
	s.Restart()

	seen := map[string]bool{}
	for _, m := range fetchAll(t, s, alice, pass) {
		id, ok := complete(m.Text)
		if !ok || m.Size != len(m.Text) {
			t.Errorf("restored message %q incomplete (%d bytes, LIST %d)", id, len(m.Text), m.Size)
		}
		seen[id] = true
	}
	for _, id := range before {
		if seen[id] == deleted[id] {
			t.Errorf("message %s: restored %v, deleted before the backup %v", id, seen[id], deleted[id])
		}
	}
	n := 0
	for _, id := range during {
		if seen[id] {
			n++
		}
	}
	t.Logf("%d of %d messages sent during the backup are in it", n, len(during))

	if _, ok := s.WaitLog(30*time.Second, "old bodies indexed"); !ok {
		t.Fatalf("the restored server did not re-index:\n%s", s.Logs())
	}
	c := dialIMAP(t, s)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i, id := range before {
		res, err := c.UIDSearch(&imap.SearchCriteria{Body: []string{fmt.Sprintf("needle-%d-end", i)}}, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if found := len(res.AllUIDs()) == 1; found == deleted[id] {
			t.Errorf("SEARCH BODY needle-%d-end: %v, message deleted %v", i, res.AllUIDs(), deleted[id])
		}
	}
}
