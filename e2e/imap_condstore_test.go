package e2e

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapLines sends one tagged command on a raw connection and returns the
// untagged lines, failing unless the tagged reply starts with want.
func (c *rawConn) imapLines(tag, cmd, want string) (untagged []string, tagged string) {
	c.t.Helper()
	c.write(tag + " " + cmd + "\r\n")
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" "+want) {
				c.t.Fatalf("%s: got %q, want %s (untagged %q)", cmd, l, want, untagged)
			}
			return untagged, l
		}
		untagged = append(untagged, l)
	}
}

// imapChanges runs e2e/py/imap_changes.py (Python imaplib) on INBOX.
func imapChanges(t *testing.T, addr, user string, steps [][]string) [][]any {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	var out struct {
		Results [][]any
		Error   *string
	}
	runPy(t, "imap_changes.py", map[string]any{"host": host, "port": p, "user": user, "pass": pass,
		"mailbox": "INBOX", "steps": steps}, &out)
	if out.Error != nil {
		t.Fatalf("imaplib: %s (results %v)", *out.Error, out.Results)
	}
	return out.Results
}

func dialIMAP(t *testing.T, s *Server) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr["imap"], nil)
	if err != nil {
		t.Fatalf("IMAP dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(alice, pass).Wait(); err != nil {
		t.Fatalf("IMAP LOGIN: %v", err)
	}
	return c
}

var reNum = regexp.MustCompile(`\[(HIGHESTMODSEQ|UIDVALIDITY) (\d+)\]`)

func selectCode(t *testing.T, lines []string, code string) uint64 {
	t.Helper()
	for _, l := range lines {
		if m := reNum.FindStringSubmatch(l); m != nil && m[1] == code {
			n, _ := strconv.ParseUint(m[2], 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in %q", code, lines)
	return 0
}

// TestIMAPQresyncAfterOtherClient: client A (raw protocol) records where
// the mailbox stood; client B (Python imaplib) flags, expunges and
// appends; A comes back with SELECT (QRESYNC ...) and learns exactly the
// expunged UIDs and the changed messages (RFC 7162 §3.2.5).
func TestIMAPQresyncAfterOtherClient(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	for i := range 6 {
		mustSend(t, s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, uniq(), "message "+strconv.Itoa(i)))
	}
	a := dialRaw(t, s.Addr["imap"])
	a.line() // greeting
	a.imapLines("a1", "LOGIN "+alice+` "`+pass+`"`, "OK")
	if en, _ := a.imapLines("a2", "ENABLE QRESYNC", "OK"); len(en) != 1 || en[0] != "* ENABLED QRESYNC" {
		t.Fatalf("ENABLE QRESYNC: %q", en)
	}
	lines, _ := a.imapLines("a3", "SELECT INBOX", "OK")
	hms, uv := selectCode(t, lines, "HIGHESTMODSEQ"), selectCode(t, lines, "UIDVALIDITY")
	a.imapLines("a4", "LOGOUT", "OK")

	imapChanges(t, s.Addr["imap"], alice, [][]string{
		{"uid_store", "2", "+FLAGS", `(\Flagged)`},
		{"uid_store", "5", "+FLAGS", `($Important)`},
		{"uid_store", "3,4,6", "+FLAGS.SILENT", `(\Deleted)`},
		{"uid_expunge", "3:4"},
		{"append", `(\Seen)`, testMessage(alice, alice, uniq(), "appended by B")},
	})

	a = dialRaw(t, s.Addr["imap"])
	a.line()
	a.imapLines("b1", "LOGIN "+alice+` "`+pass+`"`, "OK")
	a.imapLines("b2", "ENABLE QRESYNC", "OK")
	lines, _ = a.imapLines("b3", "SELECT INBOX (QRESYNC ("+strconv.FormatUint(uv, 10)+" "+strconv.FormatUint(hms, 10)+"))", "OK [READ-WRITE]")
	newHms := selectCode(t, lines, "HIGHESTMODSEQ")
	fetches := grep(lines, " FETCH ")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$`),
		regexp.MustCompile(`^\* 3 FETCH \(UID 5 FLAGS \(\$Important\) MODSEQ \(\d+\)\)$`),
		regexp.MustCompile(`^\* 4 FETCH \(UID 6 FLAGS \(\\Deleted\) MODSEQ \(\d+\)\)$`),
		regexp.MustCompile(`^\* 5 FETCH \(UID 7 FLAGS \(\\Seen\) MODSEQ \(` + strconv.FormatUint(newHms, 10) + `\)\)$`),
	}
	if len(grep(lines, "VANISHED")) != 1 || !hasLine(lines, "* VANISHED (EARLIER) 3:4") || len(fetches) != len(want) {
		t.Fatalf("QRESYNC SELECT after B's changes: %q", lines)
	}
	for i, re := range want {
		if !re.MatchString(fetches[i]) {
			t.Errorf("FETCH %d: %q, want %s", i, fetches[i], re)
		}
	}
	if !hasLine(lines, "* 5 EXISTS") || newHms <= hms {
		t.Errorf("EXISTS/HIGHESTMODSEQ: %q (was %d)", lines, hms)
	}

	// Resync from the new state: nothing to report. Then B expunges UID 6
	// while A is selected: A hears VANISHED, not EXPUNGE.
	lines, _ = a.imapLines("b4", "SELECT INBOX (QRESYNC ("+strconv.FormatUint(uv, 10)+" "+strconv.FormatUint(newHms, 10)+" 1:7))", "OK")
	if len(grep(lines, "VANISHED")) > 0 || len(grep(lines, " FETCH ")) > 0 {
		t.Fatalf("up-to-date resync: %q", lines)
	}
	imapChanges(t, s.Addr["imap"], alice, [][]string{{"uid_expunge", "6"}})
	lines, _ = a.imapLines("b5", "NOOP", "OK")
	if len(lines) != 1 || lines[0] != "* VANISHED 6" {
		t.Fatalf("live expunge with QRESYNC: %q", lines)
	}
	lines, _ = a.imapLines("b6", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE "+strconv.FormatUint(hms, 10)+" VANISHED)", "OK")
	if len(lines) != 4 || lines[0] != "* VANISHED (EARLIER) 3:4,6" {
		t.Fatalf("UID FETCH CHANGEDSINCE VANISHED: %q", lines)
	}
}

// TestIMAPCondstoreGoClient: go-imap's CONDSTORE support against the
// server: HIGHESTMODSEQ on SELECT and STATUS, FETCH CHANGEDSINCE, and a
// conditional STORE that leaves alone what another client changed.
func TestIMAPCondstoreGoClient(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	for i := range 3 {
		mustSend(t, s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, uniq(), "message "+strconv.Itoa(i)))
	}
	c := dialIMAP(t, s)
	if !c.Caps().Has(imap.CapCondStore) || !c.Caps().Has(imap.CapQResync) {
		t.Fatalf("capabilities: %v", c.Caps())
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{CondStore: true}).Wait()
	if err != nil || sel.HighestModSeq == 0 {
		t.Fatalf("SELECT (CONDSTORE): %v %+v", err, sel)
	}
	imapChanges(t, s.Addr["imap"], alice, [][]string{{"uid_store", "2", "+FLAGS", `(\Answered)`}})

	msgs, err := c.Fetch(imap.UIDSetNum(1, 2, 3), &imap.FetchOptions{UID: true, Flags: true, ChangedSince: sel.HighestModSeq}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 2 || msgs[0].ModSeq <= sel.HighestModSeq {
		t.Fatalf("FETCH CHANGEDSINCE: %v %+v", err, msgs)
	}
	// Conditional STORE from the stale modseq: UID 2 was changed by B and
	// is left alone; only 1 and 3 are flagged.
	changed, err := c.Store(imap.UIDSetNum(1, 2, 3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}},
		&imap.StoreOptions{UnchangedSince: sel.HighestModSeq}).Collect()
	if err != nil || len(changed) != 2 || changed[0].UID != 1 || changed[1].UID != 3 || changed[0].ModSeq == 0 {
		t.Fatalf("STORE UNCHANGEDSINCE: %v %+v", err, changed)
	}
	all, err := c.Fetch(imap.UIDSetNum(1, 2, 3), &imap.FetchOptions{UID: true, Flags: true, ModSeq: true}).Collect()
	if err != nil || len(all) != 3 {
		t.Fatalf("FETCH MODSEQ: %v %+v", err, all)
	}
	for _, m := range all {
		flagged := false
		for _, f := range m.Flags {
			flagged = flagged || f == imap.FlagFlagged
		}
		if flagged != (m.UID != 2) {
			t.Errorf("UID %d flags %v", m.UID, m.Flags)
		}
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{ModSeq: &imap.SearchCriteriaModSeq{ModSeq: all[1].ModSeq + 1}}, nil).Wait()
	if err != nil || len(found.AllUIDs()) != 2 || found.ModSeq != all[0].ModSeq {
		t.Fatalf("SEARCH MODSEQ: %v %+v", err, found)
	}
	c.Unselect().Wait()
	st, err := c.Status("INBOX", &imap.StatusOptions{HighestModSeq: true}).Wait()
	if err != nil || st.HighestModSeq != all[0].ModSeq {
		t.Fatalf("STATUS HIGHESTMODSEQ: %v %+v", err, st)
	}
}

func grep(lines []string, sub string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

func hasLine(lines []string, line string) bool {
	for _, l := range lines {
		if l == line {
			return true
		}
	}
	return false
}
