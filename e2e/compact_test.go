package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestCrashExpungeAndCompaction: SIGKILL during an expunge and during
// compactions (of the CLI and of the server), then a full compaction with
// nothing else running. Every message kept is whole and present once, no
// body is lost, an expunged message is either gone or whole, and after the
// last compaction the segments hold exactly the live mail: no space leaked.
func TestCrashExpungeAndCompaction(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	ids := fill(t, s, 240)
	// Delete a third, and kill the server while the EXPUNGE runs.
	deleted := map[string]bool{}
	for i, id := range ids {
		if i%3 == 0 {
			deleted[id] = true
		}
	}
	expunge(t, s, deleted, true)
	s.Restart()
	kept := checkSurvivors(t, s, ids, deleted, "after the expunge crash")
	// Compactions killed half way, in the CLI; the server killed too.
	// Each round deletes some more mail, so that there is dead space in
	// every segment, and kills a compaction that pauses 100 ms after each
	// 1 MiB batch in its third or fourth batch.
	for round, after := range []time.Duration{250 * time.Millisecond, 350 * time.Millisecond, 250 * time.Millisecond} {
		gone := map[string]bool{}
		for i, id := range kept {
			if i%4 == round {
				gone[id] = true
			}
		}
		if round == 0 {
			// Messages flagged \Deleted before the killed EXPUNGE and
			// still there keep the flag: this EXPUNGE takes them too.
			for id := range deleted {
				gone[id] = true
			}
		}
		expunge(t, s, gone, false)
		kept = checkSurvivors(t, s, kept, gone, fmt.Sprintf("after the expunge of round %d", round))
		killedCompaction(t, s, after)
		if round == 1 {
			s.Kill()
			s.Restart()
		}
		kept = checkSurvivors(t, s, kept, nil, fmt.Sprintf("after compaction round %d", round))
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	fullCompaction(t, s)
	s.Restart()
	checkSurvivors(t, s, kept, nil, "after the full compaction")
}

// fill delivers n messages to alice: 1 kB to 200 kB, and every 40th over
// 1 MiB (a body in a file of its own).
func fill(t *testing.T, s *Server, n int) []string {
	var ids []string
	for i := range n {
		id := fmt.Sprintf("c%d-%s", i, uniq())
		lines := 20 + (i*37%11)*300
		if i%40 == 7 {
			lines = 30000
		}
		body := strings.Repeat(fmt.Sprintf("line of %s\r\n", id), lines)
		if err := sendSMTP(s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, id, body)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// expunge marks the deleted messages \Deleted, then expunges them; with
// kill, the server is killed a moment after EXPUNGE is sent.
func expunge(t *testing.T, s *Server, deleted map[string]bool, kill bool) {
	c, err := imapclient.DialInsecure(s.Addr["imap"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(alice, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var set imap.UIDSet
	for _, m := range msgs {
		id := strings.TrimSuffix(m.Envelope.MessageID, "@e2e.test")
		if deleted[id] {
			set.AddNum(m.UID)
		}
	}
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if !kill {
		if err := c.Expunge().Close(); err != nil {
			t.Fatal(err)
		}
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.Expunge().Close() // the connection dies with the server
	}()
	time.Sleep(5 * time.Millisecond)
	s.Kill()
	wg.Wait()
}

// killedCompaction runs `postern compact --full` and kills it after the
// given time.
func killedCompaction(t *testing.T, s *Server, after time.Duration) {
	cmd := exec.Command(env.bin, "-c", s.Config, "compact", "--full", "--pause", "100ms")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(after)
	cmd.Process.Kill()
	err := cmd.Wait()
	t.Logf("compaction killed after %v: %v\n%s", after, err, out.String())
}

// checkSurvivors reads alice's mailbox: every id of want not in mayGo must be
// there once and whole; ids of mayGo may be gone, but if there, whole. It
// returns the ids found.
func checkSurvivors(t *testing.T, s *Server, want []string, mayGo map[string]bool, when string) []string {
	t.Helper()
	seen := map[string]int{}
	for _, m := range fetchAll(t, s, alice, pass) {
		id, ok := complete(m.Text)
		if !ok {
			t.Errorf("%s: an incomplete message (id %q, %d bytes)", when, id, len(m.Text))
			continue
		}
		seen[id]++
	}
	var found []string
	for _, id := range want {
		switch n := seen[id]; {
		case n > 1:
			t.Errorf("%s: %d copies of %s", when, n, id)
		case n == 0 && !mayGo[id]:
			t.Errorf("%s: message %s lost", when, id)
		}
		if seen[id] > 0 {
			found = append(found, id)
		}
	}
	t.Logf("%s: %d of %d messages", when, len(found), len(want))
	return found
}
