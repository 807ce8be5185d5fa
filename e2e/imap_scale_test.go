package e2e

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// scaleMessage is message i of the big mailbox: its subject carries the
// token k<i%1000>q and its body b<i%500>z, zero-padded so that no token is a
// substring of another (IMAP SEARCH matches substrings).
func scaleMessage(i int) string {
	return fmt.Sprintf("From: <s%d@remote.test>\r\nTo: <%s>\r\nSubject: load k%04dq\r\n"+
		"Message-ID: <scale%d@e2e.test>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\n"+
		"Line one of message %d.\r\nThe token b%04dz is in the body.\r\n", i, alice, i%1000, i, i, i%500)
}

// appendPipelined logs in on a raw connection and APPENDs messages first,
// first+step, ... below n with non-synchronising literals (LITERAL+), many
// in flight, so that the fill is bounded by the server, not round trips.
func appendPipelined(addr, mbox string, first, step, n int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	if _, err := r.ReadString('\n'); err != nil {
		return err
	}
	fmt.Fprintf(w, "l LOGIN %q %q\r\n", alice, pass)
	pending := 1
	const window = 64
	readTagged := func() error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if line[0] == '*' || line[0] == '+' {
				continue
			}
			if _, st, _ := strings.Cut(line, " "); !strings.HasPrefix(st, "OK") {
				return fmt.Errorf("server: %s", strings.TrimSpace(line))
			}
			pending--
			return nil
		}
	}
	for i := first; i < n; i += step {
		m := scaleMessage(i)
		fmt.Fprintf(w, "a%d APPEND %s {%d+}\r\n%s\r\n", i, mbox, len(m), m)
		pending++
		if pending >= window {
			w.Flush()
			for pending > window/2 {
				if err := readTagged(); err != nil {
					return err
				}
			}
		}
	}
	w.Flush()
	for pending > 0 {
		if err := readTagged(); err != nil {
			return err
		}
	}
	return nil
}

// TestIMAPHundredThousand fills one mailbox with 100,000 messages over
// four pipelined connections, then checks that SELECT, FETCH 1:* (UID
// FLAGS), SEARCH by subject and by body, STORE and UID FETCH of bodies
// answer correctly with go-imap's client. Timing is bench/'s business.
func TestIMAPHundredThousand(t *testing.T) {
	t.Parallel()
	const n, conns = 100000, 4
	s := mailServer(t, map[string]any{"log.level": "warn"})
	c, err := imapclient.DialInsecure(s.Addr["imap"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(alice, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Big", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for k := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- appendPipelined(s.Addr["imap"], "Big", k, conns, n)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("APPEND: %v", err)
		}
	}

	sel, err := c.Select("Big", nil).Wait()
	if err != nil || sel.NumMessages != n {
		t.Fatalf("SELECT Big: %v, %d messages, want %d", err, sel.NumMessages, n)
	}
	checkFetchAll(t, c, n)
	checkScaleSearch(t, c, "Subject", "k0007q", func(i int) bool { return i%1000 == 7 })
	checkScaleSearch(t, c, "", "b0123z", func(i int) bool { return i%500 == 123 })

	// STORE over the whole mailbox, then SEARCH FLAGGED sees every message.
	var all imap.SeqSet
	all.AddRange(1, 0)
	if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}, Silent: true}, nil).Close(); err != nil {
		t.Fatalf("STORE 1:*: %v", err)
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}, &imap.SearchOptions{ReturnCount: true}).Wait()
	if err != nil || res.Count != n {
		t.Fatalf("SEARCH FLAGGED after STORE 1:*: %v, count %d", err, res.Count)
	}

	// Bodies of messages spread over the mailbox come back byte for byte.
	for _, seq := range []uint32{1, 2, 4242, 65535, n} {
		sec := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("FETCH %d BODY.PEEK[]: %v (%d messages)", seq, err, len(msgs))
		}
		got := string(msgs[0].FindBodySection(sec))
		if i := scaleIndex(got); i < 0 || got != scaleMessage(i) {
			t.Errorf("message %d: body %q is not one of the appended", seq, short(got))
		}
	}
}

// scaleIndex returns i of the Message-ID <scale<i>@e2e.test> in text, or -1.
func scaleIndex(text string) int {
	_, rest, ok := strings.Cut(text, "<scale")
	if !ok {
		return -1
	}
	var i int
	if _, err := fmt.Sscanf(rest, "%d@", &i); err != nil {
		return -1
	}
	return i
}

// checkFetchAll: FETCH 1:* (UID FLAGS) answers every message once, in
// sequence order, with ascending UIDs (RFC 9051 §2.3.1.1).
func checkFetchAll(t *testing.T, c *imapclient.Client, n int) {
	t.Helper()
	var all imap.SeqSet
	all.AddRange(1, 0)
	cmd := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true})
	uids := make([]imap.UID, n+1)
	got := 0
	for {
		m := cmd.Next()
		if m == nil {
			break
		}
		buf, err := m.Collect()
		if err != nil {
			t.Fatal(err)
		}
		if buf.SeqNum == 0 || int(buf.SeqNum) > n || uids[buf.SeqNum] != 0 || buf.UID == 0 {
			t.Fatalf("FETCH 1:*: bad response seq %d UID %d", buf.SeqNum, buf.UID)
		}
		uids[buf.SeqNum] = buf.UID
		got++
	}
	if err := cmd.Close(); err != nil || got != n {
		t.Fatalf("FETCH 1:* (UID FLAGS): %v, %d responses, want %d", err, got, n)
	}
	for seq := 2; seq <= n; seq++ {
		if uids[seq] <= uids[seq-1] {
			t.Fatalf("UID %d at %d after UID %d", uids[seq], seq, uids[seq-1])
		}
	}
}

// checkScaleSearch runs UID SEARCH (SUBJECT or BODY) for token and checks
// the UIDs against want(i) for message i (UID i+1).
func checkScaleSearch(t *testing.T, c *imapclient.Client, header, token string, want func(int) bool) {
	t.Helper()
	crit := &imap.SearchCriteria{Body: []string{token}}
	if header != "" {
		crit = &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: header, Value: token}}}
	}
	res, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		t.Fatalf("SEARCH %s %s: %v", header, token, err)
	}
	count := 0
	for i := range 100000 {
		if want(i) {
			count++
		}
	}
	uids := res.AllUIDs()
	if len(uids) != count {
		t.Fatalf("SEARCH %s %s: %d UIDs, want %d", header, token, len(uids), count)
	}
	// Every hit is a message the key names: its Message-ID tells which.
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil || len(msgs) != count {
		t.Fatalf("FETCH ENVELOPE of the hits: %v, %d of %d", err, len(msgs), count)
	}
	for _, m := range msgs {
		if i := scaleIndex("<" + m.Envelope.MessageID); i < 0 || !want(i) {
			t.Errorf("SEARCH %s %s matched %q", header, token, m.Envelope.MessageID)
		}
	}
}
