package imapd

import (
	"bufio"
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

var (
	reHighest = regexp.MustCompile(`\[HIGHESTMODSEQ (\d+)\]`)
	reModSeq  = regexp.MustCompile(`MODSEQ \((\d+)\)`)
	reUIDVal  = regexp.MustCompile(`\[UIDVALIDITY (\d+)\]`)
)

// find returns the first submatch of re in lines, failing the test if none.
func find(t *testing.T, lines []string, re *regexp.Regexp) uint64 {
	t.Helper()
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in %q", re, lines)
	return 0
}

func matching(lines []string, sub string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

func num(n uint64) string { return strconv.FormatUint(n, 10) }

func TestCondstoreEnable(t *testing.T) {
	env := newTestEnv(t, nil)
	rc := env.login()
	rc.send("c1 CAPABILITY")
	if l := rc.expectTagged("c1", "OK"); !contains(l, " CONDSTORE") || !contains(l, " QRESYNC") {
		t.Fatalf("capabilities: %q", l)
	}
	rc.send("c2 ENABLE QRESYNC")
	if l := rc.expectTagged("c2", "OK"); l[0] != "* ENABLED QRESYNC" {
		t.Fatalf("ENABLE QRESYNC: %q", l)
	}
	// QRESYNC implied CONDSTORE: nothing new to enable.
	rc.send("c3 ENABLE CONDSTORE QRESYNC")
	if l := rc.expectTagged("c3", "OK"); l[0] != "* ENABLED" {
		t.Fatalf("ENABLE again: %q", l)
	}
	rc.send("c3a STATUS INBOX (HIGHESTMODSEQ)")
	before := find(t, rc.expectTagged("c3a", "OK"), regexp.MustCompile(`HIGHESTMODSEQ (\d+)`))
	env.deliver("INBOX", simpleMsg)
	rc.send("c4 STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
	l := rc.expectTagged("c4", "OK")
	if after := find(t, l, regexp.MustCompile(`HIGHESTMODSEQ (\d+)`)); after <= before || !contains(l, "MESSAGES 1)") {
		t.Fatalf("STATUS: %q (HIGHESTMODSEQ was %d)", l, before)
	}
}

func TestCondstoreSelectFetch(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	env.deliver("INBOX", multipartMsg)
	rc := env.login()
	rc.send("s1 SELECT INBOX (CONDSTORE)")
	lines := rc.expectTagged("s1", "OK [READ-WRITE]")
	hms := find(t, lines, reHighest)
	rc.send("s2 FETCH 1:* (MODSEQ)")
	lines = rc.expectTagged("s2", "OK")
	if len(matching(lines, "FETCH (MODSEQ (")) != 2 || find(t, lines[1:], reModSeq) != hms {
		t.Fatalf("FETCH MODSEQ: %q (highest %d)", lines, hms)
	}
	// CONDSTORE is on: a STORE answers with UID and MODSEQ.
	rc.send("s3 STORE 1 +FLAGS (\\Seen)")
	lines = rc.expectTagged("s3", "OK")
	ms := find(t, lines, reModSeq)
	if ms != hms+1 || !contains(lines, `* 1 FETCH (UID 1 FLAGS (\Seen \Recent) MODSEQ (`+num(ms)+"))") {
		t.Fatalf("STORE: %q", lines)
	}
	rc.send("s4 UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + num(hms) + ")")
	lines = rc.expectTagged("s4", "OK")
	if len(lines) != 2 || lines[0] != `* 1 FETCH (UID 1 FLAGS (\Seen \Recent) MODSEQ (`+num(ms)+"))" {
		t.Fatalf("CHANGEDSINCE: %q", lines)
	}
	rc.send("s5 FETCH 1:* FLAGS (CHANGEDSINCE " + num(ms) + ")")
	if lines = rc.expectTagged("s5", "OK"); len(lines) != 1 {
		t.Fatalf("nothing changed, got %q", lines)
	}
	// A body FETCH that sets \Seen reports UID and MODSEQ too.
	rc.send("s6 FETCH 2 (BODY[HEADER.FIELDS (SUBJECT)])")
	lines = rc.expectTagged("s6", "OK")
	if !contains(lines, "UID 2") || find(t, lines, reModSeq) != ms+1 {
		t.Fatalf("implicit \\Seen: %q", lines)
	}
	rc.send("s7 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
	rc.expectTagged("s7", "BAD") // VANISHED needs ENABLE QRESYNC
	rc.send("s8 FETCH 1 (FLAGS) (VANISHED)")
	rc.expectTagged("s8", "BAD")
}

func TestCondstoreStoreUnchangedSince(t *testing.T) {
	env := newTestEnv(t, nil)
	for range 3 {
		env.deliver("INBOX", simpleMsg)
	}
	rc := env.login()
	rc.send("u1 SELECT INBOX")
	hms := find(t, rc.expectTagged("u1", "OK"), reHighest)
	other := env.login()
	other.send("o1 SELECT INBOX")
	other.expectTagged("o1", "OK")
	other.send("o2 STORE 2 +FLAGS.SILENT (\\Flagged)")
	other.expectTagged("o2", "OK")
	// Message 2 changed after hms: the conditional store skips it.
	rc.send("u2 STORE 1:3 (UNCHANGEDSINCE " + num(hms) + ") +FLAGS (\\Seen)")
	lines := rc.expectTagged("u2", "OK [MODIFIED 2]")
	if contains(lines, "* 2 FETCH (UID 2 FLAGS (\\Seen") || len(matching(lines, "FLAGS (\\Seen \\Recent) MODSEQ")) != 2 {
		t.Fatalf("conditional STORE: %q", lines)
	}
	rc.send("u3 UID STORE 1:3 (UNCHANGEDSINCE " + num(hms) + ") -FLAGS.SILENT (\\Seen)")
	lines = rc.expectTagged("u3", "OK [MODIFIED 1:3]")
	if contains(lines, "FLAGS (") {
		t.Fatalf("failed messages reported: %q", lines)
	}
	rc.send("u4 UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)")
	rc.expectTagged("u4", "OK [MODIFIED 1:3]")
	// .SILENT with CONDSTORE on: UID and MODSEQ without FLAGS.
	rc.send("u5 STORE 3 -FLAGS.SILENT (\\Seen)")
	lines = rc.expectTagged("u5", "OK")
	if len(lines) != 2 || !regexp.MustCompile(`^\* 3 FETCH \(UID 3 MODSEQ \(\d+\)\)$`).MatchString(lines[0]) {
		t.Fatalf("silent STORE: %q", lines)
	}
	rc.send("u6 STORE 1 (UNCHANGEDSINCE 5 UNCHANGEDSINCE 6) +FLAGS (x)")
	rc.expectTagged("u6", "BAD")
	rc.send("u7 STORE 1 (FOO 5) +FLAGS (x)")
	rc.expectTagged("u7", "BAD")
}

func TestCondstoreSearchModSeq(t *testing.T) {
	env := newTestEnv(t, nil)
	for range 3 {
		env.deliver("INBOX", simpleMsg)
	}
	rc := env.login()
	rc.send("q1 SELECT INBOX")
	rc.expectTagged("q1", "OK")
	rc.send("q2 STORE 2 +FLAGS.SILENT (\\Answered)")
	rc.expectTagged("q2", "OK")
	// FETCH MODSEQ enables CONDSTORE with the mailbox selected: the
	// client is told the HIGHESTMODSEQ first (RFC 7162 §3.1.2.1).
	rc.send("q3 FETCH 2 (MODSEQ)")
	lines := rc.expectTagged("q3", "OK")
	ms := find(t, lines, reModSeq)
	if !strings.HasPrefix(lines[0], "* OK [HIGHESTMODSEQ "+num(ms)+"]") {
		t.Fatalf("enabling FETCH: %q", lines)
	}
	rc.send("q4 SEARCH MODSEQ " + num(ms))
	if l := rc.expectTagged("q4", "OK"); l[0] != "* SEARCH 2 (MODSEQ "+num(ms)+")" {
		t.Fatalf("SEARCH MODSEQ: %q", l)
	}
	// Message 3 was delivered just before message 2 changed: the two
	// newest modseqs of the account.
	rc.send(`q5 UID SEARCH MODSEQ "/flags/\\answered" all ` + num(ms-1))
	if l := rc.expectTagged("q5", "OK"); l[0] != "* SEARCH 3 2 (MODSEQ "+num(ms)+")" && l[0] != "* SEARCH 2 3 (MODSEQ "+num(ms)+")" {
		t.Fatalf("SEARCH MODSEQ entry: %q", l)
	}
	rc.send("q6 UID SEARCH RETURN (ALL COUNT) MODSEQ 1")
	if l := rc.expectTagged("q6", "OK"); l[0] != `* ESEARCH (TAG "q6") UID ALL 1:3 COUNT 3 MODSEQ `+num(ms) {
		t.Fatalf("ESEARCH MODSEQ: %q", l)
	}
	// MIN or MAX alone: the modseq of that message (RFC 7162 §3.1.5).
	// Message 2 holds the highest modseq; 1 and 3 lower ones.
	rc.send("q6a SEARCH RETURN (MIN) MODSEQ 1")
	if l := rc.expectTagged("q6a", "OK"); !strings.HasPrefix(l[0], `* ESEARCH (TAG "q6a") MIN 1 MODSEQ `) || strings.HasSuffix(l[0], " "+num(ms)) {
		t.Fatalf("ESEARCH MIN MODSEQ: %q (highest %d)", l, ms)
	}
	rc.send("q6b SEARCH RETURN (MIN MAX) MODSEQ 1 2:3")
	if l := rc.expectTagged("q6b", "OK"); l[0] != `* ESEARCH (TAG "q6b") MIN 2 MAX 3 MODSEQ `+num(ms) {
		t.Fatalf("ESEARCH MIN MAX MODSEQ: %q", l)
	}
	rc.send("s1 UID SORT (ARRIVAL) UTF-8 MODSEQ 1") // RFC 7162 §3.1.9
	if l := rc.expectTagged("s1", "OK"); l[0] != "* SORT 1 2 3 (MODSEQ "+num(ms)+")" {
		t.Fatalf("SORT MODSEQ: %q", l)
	}
	rc.send("q7 SEARCH MODSEQ " + num(ms+1))
	if l := rc.expectTagged("q7", "OK"); l[0] != "* SEARCH" {
		t.Fatalf("no results: %q", l)
	}
	rc.send(`q8 SEARCH MODSEQ "/x" all 1`)
	rc.expectTagged("q8", "BAD")
}

// TestQresyncSelect: a client that saw the mailbox at one modseq comes
// back after another client flagged, expunged and appended, and learns
// exactly what changed (RFC 7162 §3.2.5).
func TestQresyncSelect(t *testing.T) {
	env := newTestEnv(t, nil)
	for range 4 {
		env.deliver("INBOX", simpleMsg)
	}
	a := env.login()
	a.send("a1 ENABLE QRESYNC")
	a.expectTagged("a1", "OK")
	a.send("a2 SELECT INBOX")
	lines := a.expectTagged("a2", "OK")
	hms, uv := find(t, lines, reHighest), find(t, lines, reUIDVal)
	a.send("a3 LOGOUT")
	a.expectTagged("a3", "OK")

	b := env.login()
	b.send("b1 SELECT INBOX")
	b.expectTagged("b1", "OK")
	b.send("b2 UID STORE 2 +FLAGS (\\Flagged)")
	b.expectTagged("b2", "OK")
	b.send("b3 UID STORE 3,4 +FLAGS.SILENT (\\Deleted)")
	b.expectTagged("b3", "OK")
	b.send("b4 UID EXPUNGE 3,4")
	b.expectTagged("b4", "OK")
	env.deliver("INBOX", multipartMsg) // UID 5

	a = env.login()
	a.send("a4 SELECT INBOX (QRESYNC (" + num(uv) + " " + num(hms) + "))")
	a.expectTagged("a4", "BAD") // not enabled
	a.send("a5 ENABLE QRESYNC")
	a.expectTagged("a5", "OK")
	a.send("a6 SELECT INBOX (QRESYNC (" + num(uv) + " " + num(hms) + "))")
	lines = a.expectTagged("a6", "OK [READ-WRITE]")
	newHms := find(t, lines, reHighest)
	if !contains(lines, "* VANISHED (EARLIER) 3:4") || !contains(lines, "* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (") ||
		!contains(lines, "* 3 FETCH (UID 5 FLAGS () MODSEQ ("+num(newHms)+"))") || len(matching(lines, " FETCH (")) != 2 {
		t.Fatalf("QRESYNC SELECT: %q", lines)
	}
	// known-uids narrows VANISHED; seq-match-data is accepted.
	a.send("a7 EXAMINE INBOX (QRESYNC (" + num(uv) + " " + num(hms) + " 1:3 (1:3 1:3)))")
	lines = a.expectTagged("a7", "OK [READ-ONLY]")
	if !contains(lines, "* OK [CLOSED]") || !contains(lines, "* VANISHED (EARLIER) 3") || contains(lines, "UID 5") {
		t.Fatalf("QRESYNC known-uids: %q", lines)
	}
	// A different UIDVALIDITY: nothing to resync from.
	a.send("a8 SELECT INBOX (QRESYNC (" + num(uv+1) + " " + num(hms) + "))")
	if lines = a.expectTagged("a8", "OK"); contains(lines, "VANISHED") || contains(lines, "FETCH") {
		t.Fatalf("stale UIDVALIDITY: %q", lines)
	}
	a.send("a9 UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + num(hms) + " VANISHED)")
	lines = a.expectTagged("a9", "OK")
	if lines[0] != "* VANISHED (EARLIER) 3:4" || len(matching(lines, " FETCH (")) != 2 {
		t.Fatalf("FETCH VANISHED: %q", lines)
	}
	a.send("a10 SELECT INBOX (QRESYNC (0 1))")
	a.expectTagged("a10", "BAD")
}

// TestQresyncLiveVanished: with QRESYNC on, expunges by others and by the
// session itself come as VANISHED, flag changes with MODSEQ.
func TestQresyncLiveVanished(t *testing.T) {
	env := newTestEnv(t, nil)
	for range 3 {
		env.deliver("INBOX", simpleMsg)
	}
	a := env.login()
	a.send("a1 ENABLE QRESYNC")
	a.expectTagged("a1", "OK")
	a.send("a2 SELECT INBOX")
	a.expectTagged("a2", "OK")
	b := env.login()
	b.send("b1 SELECT INBOX")
	b.expectTagged("b1", "OK")
	b.send("b2 STORE 1 +FLAGS (\\Deleted)")
	b.expectTagged("b2", "OK")
	b.send("b3 EXPUNGE")
	b.expectTagged("b3", "OK")
	b.send("b4 STORE 1 +FLAGS (\\Seen)") // UID 2, number 1 for b
	b.expectTagged("b4", "OK")
	// a still numbers UID 2 as 2: the flag change comes before VANISHED.
	a.send("a3 NOOP")
	lines := a.expectTagged("a3", "OK")
	if !contains(lines, "* VANISHED 1") || contains(lines, "EXPUNGE") ||
		!regexp.MustCompile(`^\* 2 FETCH \(UID 2 FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)$`).MatchString(lines[0]) {
		t.Fatalf("NOOP: %q", lines)
	}
	a.send("a4 STORE 2 +FLAGS.SILENT (\\Deleted)")
	a.expectTagged("a4", "OK")
	a.send("a5 EXPUNGE")
	lines = a.expectTagged("a5", "OK [HIGHESTMODSEQ ")
	if !contains(lines, "* VANISHED 3") {
		t.Fatalf("EXPUNGE: %q", lines)
	}
	a.send("a6 STATUS INBOX (HIGHESTMODSEQ)")
	st := a.expectTagged("a6", "OK")
	if want := "HIGHESTMODSEQ " + num(find(t, lines, reHighest)) + ")"; !contains(st, want) {
		t.Fatalf("EXPUNGE code %q, STATUS %q", lines, st)
	}
	// CLOSE expunges silently and tells the new HIGHESTMODSEQ (RFC 7162
	// §3.2.8) once a has seen every earlier change.
	b.send("b5 STORE 1 +FLAGS.SILENT (\\Deleted)")
	b.expectTagged("b5", "OK")
	a.send("a7 NOOP")
	if lines = a.expectTagged("a7", "OK"); !contains(lines, "* 1 FETCH (UID 2 FLAGS (\\Seen \\Deleted \\Recent) MODSEQ (") {
		t.Fatalf("NOOP: %q", lines)
	}
	a.send("a8 CLOSE")
	lines = a.expectTagged("a8", "OK [HIGHESTMODSEQ ")
	a.send("a9 STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
	st = a.expectTagged("a9", "OK")
	if len(lines) != 1 || !contains(st, "(HIGHESTMODSEQ "+num(find(t, lines, reHighest))+" MESSAGES 0)") {
		t.Fatalf("CLOSE %q, STATUS %q", lines, st)
	}
	// Nothing expunged: no code.
	a.send("a10 SELECT INBOX")
	a.expectTagged("a10", "OK")
	a.send("a11 CLOSE")
	if lines = a.expectTagged("a11", "OK"); contains(lines, "HIGHESTMODSEQ") {
		t.Fatalf("empty CLOSE: %q", lines)
	}
}

// TestQresyncDefersChangesPastPendingExpunge: during a FETCH by number an
// expunge cannot be reported, so neither is a later flag change whose
// MODSEQ would let the client skip the expunge when it resyncs.
func TestQresyncDefersChangesPastPendingExpunge(t *testing.T) {
	env := newTestEnv(t, nil)
	for range 3 {
		env.deliver("INBOX", simpleMsg)
	}
	a := env.login()
	a.send("a1 ENABLE QRESYNC")
	a.expectTagged("a1", "OK")
	a.send("a2 SELECT INBOX")
	a.expectTagged("a2", "OK")
	b := env.login()
	b.send("b1 SELECT INBOX")
	b.expectTagged("b1", "OK")
	b.send("b2 UID STORE 1 +FLAGS.SILENT (\\Deleted)")
	b.expectTagged("b2", "OK")
	b.send("b3 UID EXPUNGE 1")
	b.expectTagged("b3", "OK")
	b.send("b4 UID STORE 2 +FLAGS.SILENT (\\Seen)")
	b.expectTagged("b4", "OK")
	a.send("a3 FETCH 2 (FLAGS)")
	if lines := a.expectTagged("a3", "OK"); len(lines) != 2 || lines[0] != "* 2 FETCH (FLAGS (\\Seen \\Recent))" {
		t.Fatalf("FETCH by number: %q", lines)
	}
	a.send("a4 NOOP")
	lines := a.expectTagged("a4", "OK")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent) MODSEQ (") || lines[1] != "* VANISHED 1" {
		t.Fatalf("NOOP: %q", lines)
	}
}

// TestQresyncMoveAndIdle: MOVE and IDLE report expunges as VANISHED
// once QRESYNC is on (RFC 7162 §3.2.10).
func TestQresyncMoveAndIdle(t *testing.T) {
	env := newTestEnv(t, nil)
	for range 3 {
		env.deliver("INBOX", simpleMsg)
	}
	a := env.login()
	a.send("a1 ENABLE QRESYNC")
	a.expectTagged("a1", "OK")
	a.send("a2 SELECT INBOX")
	a.expectTagged("a2", "OK")
	a.send("a3 UID MOVE 2 Archive")
	lines := a.expectTagged("a3", "OK")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "* OK [COPYUID ") || lines[1] != "* VANISHED 2" {
		t.Fatalf("UID MOVE: %q", lines)
	}
	a.send("a4 IDLE")
	a.expectPrefix("+ ")
	b := env.login()
	b.send("b1 SELECT INBOX")
	b.expectTagged("b1", "OK")
	b.send("b2 UID STORE 3 +FLAGS.SILENT (\\Deleted)")
	b.expectTagged("b2", "OK")
	b.send("b3 UID EXPUNGE 3")
	b.expectTagged("b3", "OK")
	for {
		l := a.readLine()
		if l == "* VANISHED 3" {
			break
		}
		if !strings.Contains(l, "UID 3 FLAGS (\\Deleted \\Recent) MODSEQ (") {
			t.Fatalf("IDLE: %q", l)
		}
	}
	a.send("DONE")
	a.expectTagged("a4", "OK")
}

// FuzzParseCondstore runs the parser over the RFC 7162 syntax and its
// near misses; like FuzzParseCommand it must never panic or hang.
func FuzzParseCondstore(f *testing.F) {
	for _, s := range []string{
		"a SELECT INBOX (CONDSTORE)\r\n",
		"a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:3 1,5,7)))\r\n",
		"a EXAMINE INBOX (QRESYNC (1 2 1:*))\r\n",
		"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
		"a FETCH 1:* FLAGS (CHANGEDSINCE 1)\r\n",
		"a STORE 1:3 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n",
		"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
		"a SEARCH OR NOT MODSEQ 720162338 LARGER 50000\r\n",
		"a ENABLE CONDSTORE QRESYNC\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := newParser(bufio.NewReader(strings.NewReader(string(data))), func() error { return nil })
		for range 4 {
			c, err := parseCommand(p)
			if err != nil {
				pe, isParse := err.(*parseError)
				if !isParse || pe.fatal || pe.lineDone || p.skipLine() != nil {
					return
				}
				continue
			}
			if q := c.cond.qr; q != nil && (q.uidValidity == 0 || q.modseq == 0) {
				t.Fatalf("zero QRESYNC values accepted: %q", data)
			}
			if c.cond.vanished && !c.cond.hasChangedSince {
				t.Fatalf("VANISHED without CHANGEDSINCE accepted: %q", data)
			}
			if c.name == "APPEND" {
				return
			}
		}
	})
}

// rowCountStore counts the message rows listed by UID range, to show
// what a command reads.
type rowCountStore struct {
	*sqlstore.Store
	listed atomic.Int64
}

func (c *rowCountStore) Messages(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error) {
	m, err := c.Store.Messages(ctx, mailboxID, from, to)
	c.listed.Add(int64(len(m)))
	return m, err
}

func (c *rowCountStore) MessageFlags(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error) {
	m, err := c.Store.MessageFlags(ctx, mailboxID, from, to)
	c.listed.Add(int64(len(m)))
	return m, err
}

// TestFetchChangedSinceReadsChangesOnly: UID FETCH 1:* (FLAGS)
// (CHANGEDSINCE n), sent by CONDSTORE clients at every mailbox open, reads
// the changed messages through the modseq index, not the whole mailbox.
func TestFetchChangedSinceReadsChangesOnly(t *testing.T) {
	var cs *rowCountStore
	env := newTestEnv(t, func(c *Config) {
		cs = &rowCountStore{Store: c.Store.(*sqlstore.Store)}
		c.Store = cs
	})
	const n = 5000
	ctx := context.Background()
	mb, err := env.st.Mailbox(ctx, env.acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for range n / 1000 {
		items := make([]store.AppendItem, 1000)
		for i := range items {
			meta, err := parseMeta(strings.NewReader(simpleMsg))
			if err != nil {
				t.Fatal(err)
			}
			items[i] = store.AppendItem{Blob: store.NewBlob{Body: store.BytesBody(simpleMsg), Meta: meta},
				Target: store.DeliveryTarget{AccountID: env.acct.ID}, InternalDate: time.Now()}
		}
		if _, err := env.st.AppendMany(ctx, mb.ID, items); err != nil {
			t.Fatal(err)
		}
	}
	rc := env.login()
	rc.send("s SELECT INBOX")
	hms := find(t, rc.expectTagged("s", "OK"), reHighest)
	rc.send("c UID STORE 777,4000 +FLAGS.SILENT (\\Seen)")
	rc.expectTagged("c", "OK")
	cs.listed.Store(0)
	start := time.Now()
	rc.send("f1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + num(hms) + ")")
	lines := rc.expectTagged("f1", "OK")
	changedTook := time.Since(start)
	// The first line: CHANGEDSINCE enabled CONDSTORE, HIGHESTMODSEQ follows.
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "* 777 FETCH (UID 777 FLAGS (\\Seen \\Recent) MODSEQ (") || cs.listed.Load() != 0 {
		t.Fatalf("CHANGEDSINCE read %d rows: %q", cs.listed.Load(), lines)
	}
	start = time.Now()
	rc.send("f2 UID FETCH 1:* (FLAGS)")
	if lines = rc.expectTagged("f2", "OK"); len(lines) != n+1 || cs.listed.Load() != n {
		t.Fatalf("plain FETCH: %d lines, %d rows", len(lines), cs.listed.Load())
	}
	t.Logf("%d messages: CHANGEDSINCE (2 changed) %v, full flag listing %v", n, changedTook, time.Since(start))
}
