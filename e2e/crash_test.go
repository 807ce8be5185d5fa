package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// crashSend is one message the stream sent and the server acknowledged.
type crashSend struct {
	id    string
	toBob bool
}

// TestCrashDurability streams deliveries from several senders, kills the
// server with SIGKILL mid-stream, restarts it on the same data dir and
// checks the durability rule: every acknowledged message is in each of its
// mailboxes exactly once, and every visible message is whole. Three rounds
// kill at different moments.
func TestCrashDurability(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	var acked []crashSend
	for round, after := range []time.Duration{300 * time.Millisecond, 1100 * time.Millisecond, 2000 * time.Millisecond} {
		got := streamAndKill(t, s, round, after)
		if len(got) == 0 {
			t.Errorf("round %d: no message was acknowledged before the kill", round)
		}
		acked = append(acked, got...)
		s.Restart()
		checkDurable(t, s, round, acked)
		if t.Failed() {
			return
		}
	}
	// What the kills left in the segments (bytes written for transactions
	// that never committed) is reclaimed by the next compaction.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	fullCompaction(t, s)
	s.Restart()
	checkDurable(t, s, 3, acked)
}

// fullCompaction runs `postern compact --full` and checks that the segments
// then hold exactly the live mail.
func fullCompaction(t *testing.T, s *Server) {
	t.Helper()
	out := s.CLI("", "compact", "--full").mustOK(t).Stdout
	m := regexp.MustCompile(`now: (\d+) segment files, (\d+) bytes on disk, (\d+) bytes of live mail`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("compact output:\n%s", out)
	}
	if m[2] != m[3] {
		t.Errorf("after a full compaction %s bytes on disk for %s bytes of live mail:\n%s", m[2], m[3], out)
	}
	t.Logf("full compaction: %s", strings.TrimSpace(out))
}

// streamAndKill runs 4 senders until the server is killed after the given
// delay after the first acknowledgement, and returns the messages that got a 250.
func streamAndKill(t *testing.T, s *Server, round int, after time.Duration) []crashSend {
	var mu sync.Mutex
	var acked []crashSend
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("r%d-w%d-%d-%s", round, w, i, uniq())
				toBob := i%3 == 0
				to := []string{alice}
				if toBob {
					to = append(to, bob)
				}
				// Sizes from 1 kB to ~300 kB widen the window for a torn write.
				body := strings.Repeat(fmt.Sprintf("line %d of %s\r\n", i, id), 1+(i*37%7)*(i%5)*250)
				if err := sendSMTP(s.Addr["smtp"], "x@remote.test", to, testMessage("x@remote.test", alice, id, body)); err == nil {
					mu.Lock()
					acked = append(acked, crashSend{id: id, toBob: toBob})
					mu.Unlock()
				} else {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	// Kill at a moment measured from the first acknowledgement, so every
	// round has traffic in flight whatever the start-up time.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	time.Sleep(after)
	s.Kill()
	close(stop)
	wg.Wait()
	t.Logf("round %d: %d messages acknowledged before SIGKILL at %v", round, len(acked), after)
	return acked
}

// checkDurable reads both mailboxes back over POP3.
func checkDurable(t *testing.T, s *Server, round int, acked []crashSend) {
	t.Helper()
	for _, user := range []string{alice, bob} {
		seen := map[string]int{}
		broken := 0
		for _, m := range fetchAll(t, s, user, pass) {
			id, ok := complete(m.Text)
			if !ok {
				if broken++; broken > 3 {
					continue
				}
				t.Errorf("round %d: %s has an incomplete message (id %q, %d bytes):\n...%s", round, user, id, len(m.Text), tail(m.Text, 200))
				continue
			}
			if m.Size != len(m.Text) {
				t.Errorf("round %d: %s message %s: LIST size %d, RETR %d bytes", round, user, id, m.Size, len(m.Text))
			}
			seen[id]++
		}
		if broken > 0 {
			t.Errorf("round %d: %s has %d incomplete messages in all", round, user, broken)
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("round %d: %s has %d copies of %s", round, user, n, id)
			}
		}
		lost := 0
		for _, a := range acked {
			if (user == alice || a.toBob) && seen[a.id] == 0 {
				lost++
				if lost <= 5 {
					t.Errorf("round %d: acknowledged message %s missing from %s", round, a.id, user)
				}
			}
		}
		if lost > 5 {
			t.Errorf("round %d: %d acknowledged messages missing from %s in all", round, lost, user)
		}
	}
}
