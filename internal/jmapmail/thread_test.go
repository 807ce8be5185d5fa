package jmapmail

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"postern/internal/store"
)

// reply is a raw message with Message-ID id answering parent ("" for
// none).
func reply(id, parent, subject string) string {
	s := fmt.Sprintf("Message-ID: <%s>\nFrom: x@example.net\nSubject: %s\n", id, subject)
	if parent != "" {
		s += fmt.Sprintf("In-Reply-To: <%s>\nReferences: <%s>\n", parent, parent)
	}
	return s + "\nbody\n"
}

func (e *env) threadChangesSince(state string, kv ...any) (c, u, d []string, newState string, more bool) {
	e.t.Helper()
	r := e.call("Thread/changes", e.args(append([]any{"sinceState", state}, kv...)...), "Thread/changes")
	if r["oldState"] != state || r["updatedProperties"] != nil {
		e.t.Errorf("changes: %v", r)
	}
	return strs(r["created"]), strs(r["updated"]), strs(r["destroyed"]), r["newState"].(string), r["hasMoreChanges"] == true
}

func TestThreadGet(t *testing.T) {
	e := newEnv(t, Options{})
	t0 := time.Unix(1700000000, 0)
	// The reply arrives first in time order but is received later than
	// the root: emailIds follow receivedAt, then id.
	root := e.deliverRaw("INBOX", reply("r@x", "", "plan"), t0.Add(time.Hour))
	r1 := e.deliverRaw("Archive", reply("r1@x", "r@x", "Re: plan"), t0)
	r2 := e.deliverRaw("INBOX", reply("r2@x", "r@x", "Re: plan"), t0.Add(time.Hour))
	other := e.deliverRaw("INBOX", reply("o@x", "", "other"), t0)
	if r1.ThreadID != root.ThreadID || r2.ThreadID != root.ThreadID || other.ThreadID == root.ThreadID {
		t.Fatalf("threads: %d %d %d %d", root.ThreadID, r1.ThreadID, r2.ThreadID, other.ThreadID)
	}
	tid := threadID(root.ThreadID)
	r := e.call("Thread/get", e.args("ids", []string{tid, threadID(other.ThreadID), "t999", "m1"}), "Thread/get")
	if r["state"] != e.state() {
		t.Errorf("state %v, want %v", r["state"], e.state())
	}
	list := r["list"].([]any)
	if len(list) != 2 {
		t.Fatalf("list %v", list)
	}
	th := list[0].(map[string]any)
	want := []string{emailID(r1.ID), emailID(root.ID), emailID(r2.ID)}
	if th["id"] != tid || !slices.Equal(strs(th["emailIds"]), want) {
		t.Errorf("thread %v, want emailIds %v", th, want)
	}
	if got := strs(list[1].(map[string]any)["emailIds"]); !slices.Equal(got, []string{emailID(other.ID)}) {
		t.Errorf("other thread %v", got)
	}
	if nf := strs(r["notFound"]); !slices.Equal(nf, []string{"t999", "m1"}) {
		t.Errorf("notFound %v", nf)
	}
	// The threadId of Email/get names the same thread.
	if o := e.getEmail(emailID(r2.ID), []string{"threadId"}); o["threadId"] != tid {
		t.Errorf("Email threadId %v", o["threadId"])
	}
	// ids null: every thread; properties.
	r = e.call("Thread/get", e.args("ids", nil, "properties", []string{"id"}), "Thread/get")
	if l := r["list"].([]any); len(l) != 2 || len(l[0].(map[string]any)) != 1 {
		t.Errorf("all threads, id only: %v", l)
	}
	if typ := e.errorType("Thread/get", e.args("properties", []string{"subject"})); typ != "invalidArguments" {
		t.Errorf("unknown property: %s", typ)
	}
	// A result reference from Email/get to Thread/get, as clients chain them.
	rs := e.api(
		"Email/get", e.args("ids", []string{emailID(r2.ID)}, "properties", []string{"threadId"}),
		"Thread/get", map[string]any{"accountId": e.aid, "#ids": map[string]any{"resultOf": "c0", "name": "Email/get", "path": "/list/*/threadId"}},
	)
	if rs[1].Name != "Thread/get" || len(rs[1].Args["list"].([]any)) != 1 {
		t.Errorf("chained: %+v", rs[1])
	}
}

func TestThreadChanges(t *testing.T) {
	e := newEnv(t, Options{})
	t0 := time.Unix(1700000000, 0)
	root := e.deliverRaw("INBOX", reply("r@x", "", "plan"), t0)
	gone := e.deliverRaw("INBOX", reply("g@x", "", "gone"), t0)
	s0 := e.state()
	if c, u, d, ns, _ := e.threadChangesSince(s0); len(c)+len(u)+len(d) != 0 || ns != s0 {
		t.Errorf("no change: %v %v %v %s", c, u, d, ns)
	}
	// A new reply updates its thread; a new message creates one; flags
	// and moves change no thread.
	re := e.deliverRaw("INBOX", reply("re@x", "r@x", "Re: plan"), t0.Add(time.Minute))
	fresh := e.deliverRaw("INBOX", reply("n@x", "", "new"), t0)
	if _, err := e.st.UpdateFlags(e.ctx, root.MailboxID, []uint32{root.UID}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.Copy(e.ctx, gone.MailboxID, []uint32{gone.UID}, e.mailbox("Archive").ID, true); err != nil {
		t.Fatal(err)
	}
	c, u, d, s1, _ := e.threadChangesSince(s0)
	if re.ThreadID != root.ThreadID || !slices.Equal(u, []string{threadID(root.ThreadID)}) ||
		!slices.Equal(c, []string{threadID(fresh.ThreadID)}) || len(d) != 0 || s1 != e.state() {
		t.Errorf("after reply: created %v updated %v destroyed %v (%s)", c, u, d, s1)
	}
	r := e.call("Thread/get", e.args("ids", u), "Thread/get")
	if got := strs(r["list"].([]any)[0].(map[string]any)["emailIds"]); !slices.Equal(got, []string{emailID(root.ID), emailID(re.ID)}) {
		t.Errorf("thread after reply: %v", got)
	}
	// The last message of a thread expunged: destroyed; one of two:
	// updated.
	archive := e.mailbox("Archive")
	if _, _, err := e.st.Expunge(e.ctx, archive.ID, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.Expunge(e.ctx, re.MailboxID, []uint32{re.UID}); err != nil {
		t.Fatal(err)
	}
	c, u, d, _, _ = e.threadChangesSince(s1)
	if len(c) != 0 || !slices.Equal(u, []string{threadID(root.ThreadID)}) || !slices.Equal(d, []string{threadID(gone.ThreadID)}) {
		t.Errorf("after expunge: created %v updated %v destroyed %v", c, u, d)
	}
	// Created and destroyed in between: destroyed, or nothing.
	s2 := e.state()
	tmp := e.deliverRaw("INBOX", reply("tmp@x", "", "tmp"), t0)
	if _, _, err := e.st.Expunge(e.ctx, tmp.MailboxID, []uint32{tmp.UID}); err != nil {
		t.Fatal(err)
	}
	c, u, d, _, _ = e.threadChangesSince(s2)
	if len(c)+len(u) != 0 || len(d) > 1 {
		t.Errorf("created and destroyed: %v %v %v", c, u, d)
	}
	for _, bad := range []string{"", "x", "007", "99999999"} {
		if typ := e.errorType("Thread/changes", e.args("sinceState", bad)); typ != "cannotCalculateChanges" {
			t.Errorf("sinceState %q: %s", bad, typ)
		}
	}
	if typ := e.errorType("Thread/changes", e.args("sinceState", s0, "maxChanges", 0)); typ != "invalidArguments" {
		t.Errorf("maxChanges 0: %s", typ)
	}
}

func TestThreadChangesMaxChanges(t *testing.T) {
	e := newEnv(t, Options{})
	t0 := time.Unix(1700000000, 0)
	old := e.deliverRaw("INBOX", reply("old@x", "", "old"), t0)
	s0 := e.state()
	var want []string
	for i := range 4 {
		m := e.deliverRaw("INBOX", reply(fmt.Sprintf("n%d@x", i), "", fmt.Sprintf("new %d", i)), t0)
		want = append(want, threadID(m.ThreadID))
	}
	e.deliverRaw("INBOX", reply("old2@x", "old@x", "Re: old"), t0)
	if _, _, err := e.st.Expunge(e.ctx, old.MailboxID, []uint32{old.UID}); err != nil {
		t.Fatal(err)
	}
	final := e.state()
	var created, updated, destroyed []string
	state := s0
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("no end")
		}
		c, u, d, ns, more := e.threadChangesSince(state, "maxChanges", 2)
		if len(c)+len(u)+len(d) > 2 {
			t.Fatalf("more than maxChanges: %v %v %v", c, u, d)
		}
		created, updated, destroyed = append(created, c...), append(updated, u...), append(destroyed, d...)
		state = ns
		if !more {
			break
		}
	}
	// The old thread lost the one message it had at s0, so nothing
	// proves it existed then (see threadDelta): it may come as created
	// as well as updated, which a client takes the same way.
	tOld := threadID(old.ThreadID)
	created = slices.DeleteFunc(created, func(s string) bool { return s == tOld })
	slices.Sort(created)
	slices.Sort(want)
	if state != final || !slices.Equal(created, want) || len(destroyed) != 0 ||
		len(updated) > 0 && !slices.Equal(dedup(updated), []string{tOld}) {
		t.Errorf("state %s (want %s), created %v (want %v), updated %v, destroyed %v", state, final, created, want, updated, destroyed)
	}
	c, u, _, _, _ := e.threadChangesSince(s0)
	if !slices.Contains(append(c, u...), tOld) {
		t.Errorf("old thread not reported: %v %v", c, u)
	}
}
