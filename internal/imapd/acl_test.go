package imapd

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

// bobUser is urlauth_test.go's.
const (
	carolUser = "carol@example.org"
	teamName  = "Other Users/alice@example.org/Team"
)

// newACLEnv is the test server with two more accounts of alice's domain
// and alice's mailbox Team holding one message.
func newACLEnv(t *testing.T) *testEnv {
	t.Helper()
	var ta *testAuth
	e := newTestEnv(t, func(c *Config) {
		ta = c.Auth.(*testAuth)
	})
	ctx := context.Background()
	for _, u := range []string{bobUser, carolUser} {
		if _, err := e.st.AddAccount(ctx, u, store.Credentials{PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
		ta.users[u] = testPass
	}
	if _, err := e.st.CreateMailbox(ctx, e.acct.ID, "Team", ""); err != nil {
		t.Fatal(err)
	}
	e.deliver("Team", simpleMsg)
	return e
}

func (e *testEnv) loginACL(user string) *rawConn {
	rc := e.dial()
	rc.send("a LOGIN " + user + " " + testPass)
	rc.expectTagged("a", "OK")
	return rc
}

func TestACLCommandsOnOwnMailbox(t *testing.T) {
	e := newACLEnv(t)
	a := e.login()
	a.send("c CAPABILITY")
	if l := a.expectTagged("c", "OK"); !contains(l, " ACL ") || !contains(l, "RIGHTS=texk") {
		t.Fatalf("capabilities: %q", l)
	}
	a.send("m MYRIGHTS INBOX")
	if l := a.expectTagged("m", "OK"); !contains(l, "* MYRIGHTS INBOX lrswipkxteacd") {
		t.Fatalf("owner's rights: %q", l)
	}
	steps := []struct{ cmd, status, want string }{
		{`s1 SETACL Team bob@example.org lrs`, "OK", ""},
		{`g1 GETACL Team`, "OK", `* ACL Team alice@example.org lrswipkxteacd bob@example.org lrs`},
		{`s2 SETACL Team bob +wt`, "OK", ""}, // a local part of the owner's domain
		{`g2 GETACL Team`, "OK", `bob@example.org lrswtd`},
		{`s3 SETACL Team bob@example.org -s`, "OK", ""},
		{`g3 GETACL Team`, "OK", `bob@example.org lrwtd`},
		{`s4 SETACL Team carol@example.org c`, "OK", ""}, // obsolete c: k and x
		{`g4 GETACL Team`, "OK", `carol@example.org kxc`},
		{`s5 SETACL Team anyone l`, "OK", ""},
		{`s6 SETACL Team -carol@example.org x`, "OK", ""},
		{`g6 GETACL Team`, "OK", `* ACL Team alice@example.org lrswipkxteacd anyone l bob@example.org lrwtd carol@example.org kxc -carol@example.org xc`},
		{`d1 DELETEACL Team bob@example.org`, "OK", ""},
		{`l1 LISTRIGHTS Team bob@example.org`, "OK", `* LISTRIGHTS Team bob@example.org "" l r s w i p k x t e a c d`},
		{`l2 LISTRIGHTS Team alice@example.org`, "OK", `* LISTRIGHTS Team alice@example.org lrswipkxteacd`},
		{`b1 SETACL Team bob@example.org lrz`, "BAD", ""},
		{`b2 SETACL Team alice@example.org lr`, "NO", "[CANNOT]"},
		{`b3 SETACL Team nobody@example.org lr`, "NO", "[NONEXISTENT]"},
		{`b4 SETACL Team someone@example.net lr`, "NO", "[NONEXISTENT]"},
		{`b5 GETACL Nothing`, "NO", "[NONEXISTENT]"},
		{`b6 SETACL Team`, "BAD", ""},
	}
	for _, st := range steps {
		tag := strings.Fields(st.cmd)[0]
		a.send(st.cmd)
		got := a.expectTagged(tag, st.status)
		if st.want != "" && !contains(got, st.want) {
			t.Errorf("%s: got %q, want %q", st.cmd, got, st.want)
		}
	}
	a.send("g GETACL Team")
	if l := a.expectTagged("g", "OK"); contains(l, "bob@") {
		t.Errorf("DELETEACL left bob: %q", l)
	}
}

func TestACLSharedMailboxForGrantee(t *testing.T) {
	e := newACLEnv(t)
	a := e.login()
	a.send("s SETACL Team bob@example.org lrsw")
	a.expectTagged("s", "OK")
	a.send("x SELECT Team (CONDSTORE)")
	a.expectTagged("x", "OK")

	b := e.loginACL(bobUser)
	b.send("n NAMESPACE")
	if l := b.expectTagged("n", "OK"); !contains(l, `* NAMESPACE (("" "/")) (("Other Users/" "/")) NIL`) {
		t.Fatalf("namespace: %q", l)
	}
	b.send(`l LIST "" "*"`)
	l := b.expectTagged("l", "OK")
	for _, want := range []string{`(\Noselect \HasChildren) "/" "Other Users"`,
		`(\Noselect \HasChildren) "/" "Other Users/alice@example.org"`, `(\HasNoChildren) "/" "` + teamName + `"`} {
		if !contains(l, want) {
			t.Errorf("LIST lacks %q: %q", want, l)
		}
	}
	b.send(`l2 LSUB "" "Other Users/*"`)
	if l := b.expectTagged("l2", "OK"); !contains(l, teamName) {
		t.Errorf("a shared mailbox starts subscribed: %q", l)
	}
	b.send(`m MYRIGHTS "` + teamName + `"`)
	if l := b.expectTagged("m", "OK"); !contains(l, `"`+teamName+`" lrsw`) {
		t.Errorf("MYRIGHTS: %q", l)
	}
	b.send(`st STATUS "` + teamName + `" (MESSAGES UNSEEN)`)
	if l := b.expectTagged("st", "OK"); !contains(l, "(MESSAGES 1 UNSEEN 1)") {
		t.Errorf("STATUS: %q", l)
	}
	b.send(`q GETQUOTAROOT "` + teamName + `"`)
	if l := b.expectTagged("q", "OK"); !contains(l, `* QUOTAROOT "`+teamName+`"`) || contains(l, "* QUOTA ") {
		t.Errorf("GETQUOTAROOT shows the owner's quota: %q", l)
	}
	b.send(`sel SELECT "` + teamName + `"`)
	l = b.expectTagged("sel", "OK [READ-WRITE]")
	if !contains(l, `PERMANENTFLAGS (\Seen \Answered \Flagged \Draft \*)`) || !contains(l, "* 1 EXISTS") {
		t.Errorf("SELECT: %q", l)
	}
	b.send("f FETCH 1 BODY[TEXT]") // "s": the fetch sets \Seen
	if l := b.expectTagged("f", "OK"); !contains(l, `\Seen`) {
		t.Errorf("FETCH: %q", l)
	}
	b.send(`s1 STORE 1 +FLAGS (\Flagged \Deleted)`) // \Deleted needs "t": left out
	if l := b.expectTagged("s1", "OK"); !contains(l, `\Flagged`) || contains(l, `\Deleted`) {
		t.Errorf("STORE: %q", l)
	}
	b.send(`s2 STORE 1 +FLAGS (\Deleted)`)
	b.expectTagged("s2", "NO [NOPERM]")
	b.send(`s3 STORE 1 FLAGS (\Answered)`) // replace: \Seen and \Flagged go, nothing else
	if l := b.expectTagged("s3", "OK"); !contains(l, `FLAGS (\Answered)`) {
		t.Errorf("STORE FLAGS: %q", l)
	}
	for _, cmd := range []string{"e EXPUNGE", `mv MOVE 1 INBOX`, `d DELETE "` + teamName + `"`,
		`c CREATE "` + teamName + `/Sub"`, `g GETACL "` + teamName + `"`, `sa SETACL "` + teamName + `" bob@example.org lrswipkxtea`,
		`r RENAME "` + teamName + `" "Other Users/alice@example.org/Renamed"`} {
		tag := strings.Fields(cmd)[0]
		b.send(cmd)
		b.expectTagged(tag, "NO [NOPERM]")
	}
	b.send(`cp COPY 1 INBOX`) // reading is enough to copy out
	b.expectTagged("cp", "OK")
	b.send(`ap APPEND "` + teamName + `" {5}`)
	b.expectTagged("ap", "NO [NOPERM]")

	// Alice sees bob's changes as any other session's.
	a.send("n NOOP")
	if l := a.expectTagged("n", "OK"); !contains(l, `FLAGS (\Answered`) || contains(l, `\Flagged`) || !contains(l, "MODSEQ (") {
		t.Errorf("the owner was not told of bob's STORE: %q", l)
	}
	// And bob sees new mail in alice's mailbox while idling.
	b.send("i IDLE")
	b.expectPrefix("+ ")
	e.deliver("Team", simpleMsg)
	b.expectPrefix("* 2 EXISTS")
	b.send("DONE")
	b.expectTagged("i", "OK")
}

func TestACLInsertCountsAgainstOwnersQuota(t *testing.T) {
	e := newACLEnv(t)
	ctx := context.Background()
	a := e.login()
	a.send("s SETACL Team bob@example.org lri")
	a.expectTagged("s", "OK")
	before, _ := e.st.AccountByID(ctx, e.acct.ID)

	b := e.loginACL(bobUser)
	msg := "Subject: from bob\r\n\r\nhi\r\n"
	b.send(`ap APPEND "` + teamName + `" (\Seen \Flagged) {` + itoa(int64(len(msg))) + "+}\r\n" + msg)
	l := b.expectTagged("ap", "OK [APPENDUID")
	after, _ := e.st.AccountByID(ctx, e.acct.ID)
	if after.UsedMessages != before.UsedMessages+1 || after.UsedBytes != before.UsedBytes+int64(len(msg)) {
		t.Fatalf("alice's usage %d/%d → %d/%d", before.UsedMessages, before.UsedBytes, after.UsedMessages, after.UsedBytes)
	}
	b.send(`sel SELECT "` + teamName + `"`)
	l = b.expectTagged("sel", "OK [READ-WRITE]")
	b.send("f FETCH 2 FLAGS")
	if l = b.expectTagged("f", "OK"); contains(l, `\Seen`) || contains(l, `\Flagged`) {
		t.Errorf("flags without s or w were kept: %q", l)
	}
	b.send(`cp COPY 1 INBOX`)
	b.expectTagged("cp", "OK")
	b.send(`ci SELECT INBOX`)
	b.expectTagged("ci", "OK")
	b.send(`fl STORE 1 +FLAGS.SILENT (\Seen \Flagged $Work)`)
	b.expectTagged("fl", "OK")
	b.send(`cp2 COPY 1 "` + teamName + `"`)
	b.expectTagged("cp2", "OK [COPYUID")
	// Without s, w or t in Team the copy keeps none of its flags.
	msgs, err := e.st.Messages(ctx, teamMailbox(t, e).ID, 1, 0)
	if err != nil || len(msgs) != 3 || msgs[2].Flags != 0 || len(msgs[2].Keywords) != 0 {
		t.Fatalf("the copy in Team: %+v %v", msgs, err)
	}
	if err := e.st.SetQuota(ctx, testUser, 1, 0); err != nil {
		t.Fatal(err)
	}
	b.send(`cp3 COPY 1 "` + teamName + `"`)
	b.expectTagged("cp3", "NO [OVERQUOTA]")
}

func TestACLNoRightIsNoMailbox(t *testing.T) {
	e := newACLEnv(t)
	c := e.loginACL(carolUser)
	for _, cmd := range []string{`s SELECT "` + teamName + `"`, `x EXAMINE "` + teamName + `"`,
		`st STATUS "` + teamName + `" (MESSAGES)`, `m MYRIGHTS "` + teamName + `"`, `d DELETE "` + teamName + `"`,
		`g GETACL "` + teamName + `"`, `su SUBSCRIBE "` + teamName + `"`, `a APPEND "` + teamName + `" {3+}` + "\r\nabc",
		`s2 SELECT "Other Users/nobody@example.org/INBOX"`, `s3 SELECT "Other Users/carol@example.org/INBOX"`} {
		tag := strings.Fields(cmd)[0]
		c.send(cmd)
		c.expectTagged(tag, "NO [NONEXISTENT]")
	}
	c.send(`l LIST "" "*"`)
	if l := c.expectTagged("l", "OK"); contains(l, "Other Users") {
		t.Errorf("LIST shows what carol may not see: %q", l)
	}
	// Every other command that names a mailbox: nothing of alice's leaks
	// or changes.
	carol, _ := e.st.Account(context.Background(), carolUser)
	if _, err := e.st.Append(context.Background(), mustMailbox(t, e, carol.ID, "INBOX").ID,
		store.NewBlob{Body: store.BytesBody(simpleMsg)}, store.DeliveryTarget{AccountID: carol.ID}, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.send("i SELECT INBOX")
	c.expectTagged("i", "OK")
	msg := "Subject: x\r\n\r\ny\r\n"
	for _, cmd := range []string{
		`r RENAME "` + teamName + `" "Other Users/alice@example.org/Renamed"`,
		`cr CREATE "` + teamName + `/Sub"`,
		`sa SETACL "` + teamName + `" carol@example.org lrswipkxtea`,
		`da DELETEACL "` + teamName + `" anyone`,
		`lr LISTRIGHTS "` + teamName + `" carol@example.org`,
		`un UNSUBSCRIBE "` + teamName + `"`,
		`q GETQUOTAROOT "` + teamName + `"`,
		`gm GETMETADATA "` + teamName + `" /private/comment`,
		`sm SETMETADATA "` + teamName + `" (/private/comment "x")`,
		`cp COPY 1:* "` + teamName + `"`,
		`mv MOVE 1:* "` + teamName + `"`,
		`ms ESEARCH IN (mailboxes "` + teamName + `") ALL`,
	} {
		tag := strings.Fields(cmd)[0]
		c.send(cmd)
		got := c.expectTagged(tag, "")
		last := got[len(got)-1]
		t.Logf("%s → %s", tag, last)
		if strings.HasPrefix(last, tag+" OK") && tag != "ms" || contains(got, "Hello there") || contains(got, "* ESEARCH") {
			t.Errorf("%s: %q", cmd, got)
		}
	}
	c.send(`rp REPLACE 1 "` + teamName + `" {` + itoa(int64(len(msg))) + "+}\r\n" + msg)
	c.expectTagged("rp", "NO")
	if mbs, _ := e.st.Mailboxes(context.Background(), e.acct.ID); len(mbs) != 7 {
		t.Errorf("alice's mailboxes changed: %+v", mbs)
	}
	if acl, _ := e.st.MailboxACL(context.Background(), teamMailbox(t, e).ID); len(acl) != 0 {
		t.Errorf("alice's ACL changed: %+v", acl)
	}
	if st, _ := e.st.MailboxStatus(context.Background(), teamMailbox(t, e).ID); st.Messages != 1 {
		t.Errorf("Team holds %d messages", st.Messages)
	}
	c.send(`cr CREATE "Other Users/mine"`)
	c.expectTagged("cr", "NO")

	// "l" alone shows the mailbox but opens nothing.
	a := e.login()
	a.send(`s SETACL Team anyone l`)
	a.expectTagged("s", "OK")
	c.send(`l2 LIST "" "*" RETURN (STATUS (MESSAGES))`)
	if l := c.expectTagged("l2", "OK"); !contains(l, teamName) || contains(l, `* STATUS "Other Users`) {
		t.Errorf("LIST with l only: %q", l)
	}
	c.send(`s4 SELECT "` + teamName + `"`)
	c.expectTagged("s4", "NO [NOPERM]")
	c.send(`st2 STATUS "` + teamName + `" (MESSAGES)`)
	c.expectTagged("st2", "NO [NOPERM]")

	// A negative entry beats anyone's grant.
	a.send(`s2 SETACL Team anyone lr`)
	a.expectTagged("s2", "OK")
	a.send(`s3 SETACL Team -carol r`)
	a.expectTagged("s3", "OK")
	c.send(`s5 EXAMINE "` + teamName + `"`)
	c.expectTagged("s5", "NO [NOPERM]")
	b := e.loginACL(bobUser)
	b.send(`s EXAMINE "` + teamName + `"`)
	b.expectTagged("s", "OK [READ-ONLY]")
}

func TestACLRevokedWhileSelected(t *testing.T) {
	e := newACLEnv(t)
	a := e.login()
	a.send("s SETACL Team bob@example.org lrs")
	a.expectTagged("s", "OK")
	b := e.loginACL(bobUser)
	b.send(`sel SELECT "` + teamName + `"`)
	b.expectTagged("sel", "OK")
	b.send("f FETCH 1 FLAGS")
	b.expectTagged("f", "OK")
	b.send("i IDLE")
	b.expectPrefix("+ ")
	e.deliver("Team", simpleMsg)
	b.expectPrefix("* 2 EXISTS")
	b.expectPrefix("* 2 RECENT")

	// Revoked while idling: nothing more of the mailbox is told.
	a.send("d DELETEACL Team bob@example.org")
	a.expectTagged("d", "OK")
	e.deliver("Team", simpleMsg)
	b.readNothing(300 * time.Millisecond)
	b.send("DONE")
	if l := b.expectTagged("i", "OK"); len(l) != 1 {
		t.Errorf("told after the revoke: %q", l)
	}
	b.send("f2 FETCH 1 BODY[]")
	b.expectTagged("f2", "NO [NOPERM]")
	b.send("f3 UID SEARCH ALL")
	b.expectTagged("f3", "NO [NOPERM]")
	b.send(`l LIST "" "*"`)
	if l := b.expectTagged("l", "OK"); contains(l, "Other Users") {
		t.Errorf("LIST after revoke: %q", l)
	}
	b.send("c CLOSE")
	b.expectTagged("c", "OK")
	b.send(`sel2 SELECT "` + teamName + `"`)
	b.expectTagged("sel2", "NO [NONEXISTENT]")
}

func TestACLGranteeCreatesAndDeletes(t *testing.T) {
	e := newACLEnv(t)
	a := e.login()
	a.send("s SETACL Team bob@example.org lrkx")
	a.expectTagged("s", "OK")
	b := e.loginACL(bobUser)
	b.send(`c CREATE "` + teamName + `/Minutes"`)
	b.expectTagged("c", "OK")
	b.send(`c2 CREATE "Other Users/alice@example.org/TopLevel"`)
	b.expectTagged("c2", "NO [NOPERM]")
	// The new child is alice's; bob holds no right on it until she grants one.
	a.send(`l LIST "" "Team/*"`)
	if l := a.expectTagged("l", "OK"); !contains(l, "Team/Minutes") {
		t.Fatalf("alice does not see the child: %q", l)
	}
	a.send(`s2 SETACL Team/Minutes bob x`)
	a.expectTagged("s2", "OK")
	b.send(`d DELETE "` + teamName + `/Minutes"`)
	b.expectTagged("d", "OK")
	b.send(`u UNSUBSCRIBE "` + teamName + `"`)
	b.expectTagged("u", "OK")
	b.send(`l LSUB "" "*"`)
	if l := b.expectTagged("l", "OK"); contains(l, teamName) {
		t.Errorf("still subscribed: %q", l)
	}
	a.send(`l2 LSUB "" "*"`)
	a.expectTagged("l2", "OK")
}

func TestACLMoveNeedsExpungeRights(t *testing.T) {
	e := newACLEnv(t)
	a := e.login()
	a.send("s SETACL Team bob@example.org lrte")
	a.expectTagged("s", "OK")
	b := e.loginACL(bobUser)
	b.send(`sel SELECT "` + teamName + `"`)
	b.expectTagged("sel", "OK")
	b.send(`mv MOVE 1 INBOX`)
	b.expectTagged("mv", "OK")
	ctx := context.Background()
	bob, _ := e.st.Account(ctx, bobUser)
	alice, _ := e.st.AccountByID(ctx, e.acct.ID)
	if bob.UsedMessages != 1 || alice.UsedMessages != 0 {
		t.Fatalf("after the move: bob %d, alice %d messages", bob.UsedMessages, alice.UsedMessages)
	}
}

func TestStoreRightsLimits(t *testing.T) {
	sel := &selected{rights: store.RightRead | store.RightSeen, keywords: map[string]struct{}{"$Label": {}}}
	ops, r := sel.limitedStore(store.FlagUpdate{Op: store.FlagsReplace, Flags: store.FlagSeen | store.FlagFlagged, Keywords: []string{"x"}})
	if r.status != "" || len(ops) != 2 || ops[0].Flags != store.FlagSeen || len(ops[0].Keywords) != 0 ||
		ops[1].Op != store.FlagsRemove || ops[1].Flags != 0 || len(ops[1].Keywords) != 0 {
		t.Fatalf("replace with s only: %+v %v", ops, r)
	}
	sel.rights = store.RightRead | store.RightWrite
	ops, _ = sel.limitedStore(store.FlagUpdate{Op: store.FlagsReplace, Keywords: []string{"x"}})
	if ops[1].Flags != store.FlagAnswered|store.FlagFlagged|store.FlagDraft || len(ops[1].Keywords) != 1 || ops[1].Keywords[0] != "$Label" {
		t.Fatalf("replace with w: %+v", ops)
	}
	if _, r = sel.limitedStore(store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen}); r.code != "NOPERM" {
		t.Fatalf("\\Seen without s: %+v", r)
	}
}

func FuzzParseACL(f *testing.F) {
	for _, s := range []string{
		"a GETACL INBOX\r\n",
		"a MYRIGHTS \"Other Users/bob@example.org/Team\"\r\n",
		"a SETACL Team bob@example.org +lrs\r\n",
		"a SETACL Team -bob {3}\r\nabc \"\"\r\n",
		"a DELETEACL Team anyone\r\n",
		"a LISTRIGHTS Team \"bob\"\r\n",
		"a SETACL Team bob lrswipkxteacdzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\r\n",
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
			if len(c.aclID) > maxIdentifier || len(c.aclRights) > maxRightsArg {
				t.Fatalf("limits passed: %q %q", c.aclID, c.aclRights)
			}
			if r, err := store.ParseRights(strings.TrimLeft(c.aclRights, "+-")); err == nil && r&^store.AllRights != 0 {
				t.Fatalf("rights %q parsed beyond the known ones", c.aclRights)
			}
		}
	})
}

func teamMailbox(t *testing.T, e *testEnv) store.Mailbox {
	t.Helper()
	return mustMailbox(t, e, e.acct.ID, "Team")
}

func mustMailbox(t *testing.T, e *testEnv, accountID int64, name string) store.Mailbox {
	t.Helper()
	mb, err := e.st.Mailbox(context.Background(), accountID, name)
	if err != nil {
		t.Fatal(err)
	}
	return mb
}

func TestACLGranteeWithAdminRight(t *testing.T) {
	e := newACLEnv(t)
	a := e.login()
	a.send("s SETACL Team bob@example.org lra")
	a.expectTagged("s", "OK")
	b := e.loginACL(bobUser)
	b.send(`g GETACL "` + teamName + `"`)
	if l := b.expectTagged("g", "OK"); !contains(l, `* ACL "`+teamName+`" alice@example.org lrswipkxteacd bob@example.org lra`) {
		t.Fatalf("GETACL by a grantee with a: %q", l)
	}
	b.send(`s SETACL "` + teamName + `" carol lr`) // carol of the owner's domain
	b.expectTagged("s", "OK")
	b.send(`s2 SETACL "` + teamName + `" alice@example.org l`)
	b.expectTagged("s2", "NO [CANNOT]")
	c := e.loginACL(carolUser)
	c.send(`x EXAMINE "` + teamName + `"`)
	c.expectTagged("x", "OK [READ-ONLY]")
}
