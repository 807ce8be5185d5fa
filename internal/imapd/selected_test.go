package imapd

import (
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"postern/internal/store"
)

// A delivery event applies without a query only when it follows the
// view's modseq for this mailbox; modseqs come from the account's
// sequence, so they jump when other mailboxes change.
func TestTakeNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   store.Change
		want bool
	}{
		{"follows, modseq jumped", store.Change{Kind: store.ChangeNewMessage, MailboxID: 1, UIDs: []uint32{4}, ModSeq: 17, PrevModSeq: 9}, true},
		{"missed a change", store.Change{Kind: store.ChangeNewMessage, MailboxID: 1, UIDs: []uint32{4}, ModSeq: 17, PrevModSeq: 12}, false},
		{"previous unknown", store.Change{Kind: store.ChangeNewMessage, MailboxID: 1, UIDs: []uint32{4}, ModSeq: 10}, false},
		{"other mailbox", store.Change{Kind: store.ChangeNewMessage, MailboxID: 2, UIDs: []uint32{4}, ModSeq: 17, PrevModSeq: 9}, false},
		{"UID not above the view's", store.Change{Kind: store.ChangeNewMessage, MailboxID: 1, UIDs: []uint32{3}, ModSeq: 17, PrevModSeq: 9}, false},
		{"flags", store.Change{Kind: store.ChangeFlags, MailboxID: 1, UIDs: []uint32{3}, ModSeq: 17, PrevModSeq: 9}, false},
	} {
		sel := &selected{mbox: store.Mailbox{ID: 1}, uids: []uint32{1, 2, 3}, modseq: 9}
		if got := sel.takeNew(tc.ev); got != tc.want {
			t.Errorf("%s: takeNew = %v", tc.name, got)
		}
		if tc.want && (len(sel.uids) != 4 || sel.modseq != 17) {
			t.Errorf("%s: view %v at %d", tc.name, sel.uids, sel.modseq)
		}
	}
}

// A full disk is answered as the limit it is, not as a server bug.
func TestDiskFullIsLimit(t *testing.T) {
	s := &session{log: slog.New(slog.DiscardHandler)}
	r := s.mapStoreErr(fmt.Errorf("append: %w", syscall.ENOSPC), "APPEND")
	if r.status != "NO" || r.code != "LIMIT" {
		t.Errorf("disk full: %+v", r)
	}
}

// TestMoveWithinMailbox: MOVE into the selected mailbox expunges the
// message, then announces the new copy (RFC 6851 §3.3; imaptest move).
func TestMoveWithinMailbox(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	rc := env.login()
	rc.expectTaggedAfter("a SELECT INBOX", "a", "OK")
	got := rc.expectTaggedAfter("b MOVE 1 INBOX", "b", "OK")
	if len(got) != 5 || !strings.HasPrefix(got[0], "* OK [COPYUID ") || got[1] != "* 1 EXPUNGE" || got[2] != "* 1 EXISTS" || got[3] != "* 1 RECENT" {
		t.Errorf("MOVE within the mailbox: %q", got)
	}
}

// TestNewKeywordAnnounced: a keyword new to the mailbox is announced in
// FLAGS and PERMANENTFLAGS before any FETCH shows it, whether this session
// or another one set it.
func TestNewKeywordAnnounced(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	env.deliver("INBOX", simpleMsg)
	a, b := env.login(), env.login()
	a.expectTaggedAfter("a1 SELECT INBOX", "a1", "OK")
	b.expectTaggedAfter("b1 SELECT INBOX", "b1", "OK")
	got := a.expectTaggedAfter("a2 STORE 1 +FLAGS ($hello)", "a2", "OK")
	if len(got) != 4 || got[0] != `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello)` ||
		!strings.HasPrefix(got[1], `* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $hello \*)]`) ||
		got[2] != `* 1 FETCH (FLAGS (\Recent $hello))` {
		t.Errorf("STORE of a new keyword: %q", got)
	}
	if got := a.expectTaggedAfter("a3 STORE 2 +FLAGS ($hello)", "a3", "OK"); len(got) != 2 {
		t.Errorf("STORE of a keyword announced already: %q", got)
	}
	got = b.expectTaggedAfter("b2 NOOP", "b2", "OK")
	if len(got) < 3 || !strings.HasPrefix(got[0], `* FLAGS (`) || !strings.Contains(got[0], "$hello") {
		t.Errorf("another session's new keyword: %q", got)
	}
}

// TestLogoutTellsNothingAfterBye: changes by another session are not
// reported after the BYE of LOGOUT (imaptest stress "seq too high").
func TestLogoutTellsNothingAfterBye(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	a, b := env.login(), env.login()
	a.expectTaggedAfter("a1 SELECT INBOX", "a1", "OK")
	b.expectTaggedAfter("b1 SELECT INBOX", "b1", "OK")
	b.expectTaggedAfter("b2 STORE 1 +FLAGS (\\Seen)", "b2", "OK")
	env.deliver("INBOX", simpleMsg)
	if got := a.expectTaggedAfter("a2 LOGOUT", "a2", "OK"); len(got) != 2 || got[0] != "* BYE logging out" {
		t.Errorf("LOGOUT with changes pending: %q", got)
	}
}

// TestFlagChangeOfNewMessageAfterExists: a message another session appends
// and then flags is told with EXISTS before any FETCH names its sequence
// number (imaptest stress "seq too high ... state=APPEND").
func TestFlagChangeOfNewMessageAfterExists(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	a, b := env.login(), env.login()
	a.expectTaggedAfter("a1 SELECT INBOX", "a1", "OK")
	b.expectTaggedAfter("b1 SELECT INBOX", "b1", "OK")
	env.deliver("INBOX", simpleMsg)
	b.expectTaggedAfter("b2 NOOP", "b2", "OK")
	b.expectTaggedAfter("b3 STORE 2 +FLAGS (\\Flagged)", "b3", "OK")
	got := a.expectTaggedAfter("a2 NOOP", "a2", "OK")
	exists := -1
	for i, l := range got {
		if l == "* 2 EXISTS" {
			exists = i
		}
		if strings.HasPrefix(l, "* 2 FETCH") && (exists < 0 || i < exists) {
			t.Errorf("FETCH of message 2 before its EXISTS: %q", got)
		}
	}
	if exists < 0 {
		t.Errorf("no EXISTS for the new message: %q", got)
	}
}
