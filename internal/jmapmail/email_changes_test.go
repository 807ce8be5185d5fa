package jmapmail

import (
	"slices"
	"testing"
	"time"

	"postern/internal/store"
)

func (f *queryFixture) queryState() string {
	f.t.Helper()
	_, r := f.query("filter", map[string]any{"inMailbox": f.inbox})
	return r["queryState"].(string)
}

func (f *queryFixture) move(name, to string) {
	f.t.Helper()
	m := f.m[name]
	if _, _, err := f.st.Copy(f.ctx, m.MailboxID, []uint32{m.UID}, f.mailbox(to).ID, true); err != nil {
		f.t.Fatal(err)
	}
}

func (f *queryFixture) expunge(name string) {
	f.t.Helper()
	m := f.m[name]
	if _, _, err := f.st.Expunge(f.ctx, m.MailboxID, []uint32{m.UID}); err != nil {
		f.t.Fatal(err)
	}
}

// reply delivers a reply to m1 (in its thread) into INBOX, received last.
func (f *queryFixture) reply(name string, hours int) {
	f.t.Helper()
	f.m[name] = f.deliverRaw("INBOX", `Message-ID: <`+name+`@x.org>
In-Reply-To: <a1@x.org>
From: Zed <zed@x.org>
Subject: Re: Budget report

agreed
`, f.t0.Add(time.Duration(hours)*time.Hour))
}

func (f *queryFixture) emailChanges(since string, kv ...any) map[string]any {
	f.t.Helper()
	return f.call("Email/changes", f.args(append([]any{"sinceState", since}, kv...)...), "Email/changes")
}

func TestEmailChanges(t *testing.T) {
	f := newQueryFixture(t)
	s0 := f.queryState()
	r := f.emailChanges(s0)
	if r["oldState"] != s0 || r["newState"] != s0 || len(strs(r["created"]))+len(strs(r["updated"]))+len(strs(r["destroyed"])) != 0 {
		t.Errorf("no change: %v", r)
	}
	f.reply("r1", 10)
	f.flags("m1", store.FlagSeen)
	f.move("m2", "Archive")
	f.expunge("m4")
	f.reply("r2", 11)
	f.expunge("r2") // created and destroyed since s0: reported destroyed
	r = f.emailChanges(s0)
	check := func(what string, got any, want ...string) {
		t.Helper()
		if g := f.names(strs(got)); !slices.Equal(g, want) {
			t.Errorf("%s: %v, want %v", what, g, want)
		}
	}
	check("created", r["created"], "r1")
	check("updated", r["updated"], "m1", "m2")
	check("destroyed", r["destroyed"], "m4", "r2")
	if r["hasMoreChanges"] != false || r["newState"] == s0 {
		t.Errorf("changes: %v", r)
	}
	// The same in pages of one: every change comes, none twice, and the
	// last page reaches the state of the whole answer.
	seen := map[string]int{}
	state, pages := s0, 0
	for ; pages < 20; pages++ {
		p := f.emailChanges(state, "maxChanges", 1)
		n := 0
		for _, k := range []string{"created", "updated", "destroyed"} {
			for _, id := range f.names(strs(p[k])) {
				seen[k+" "+id]++
				n++
			}
		}
		if n > 1 {
			t.Errorf("page of %d changes with maxChanges 1: %v", n, p)
		}
		state = p["newState"].(string)
		if p["hasMoreChanges"] == false {
			break
		}
	}
	if state != r["newState"] {
		t.Errorf("paged to %s, want %s", state, r["newState"])
	}
	for _, want := range []string{"created r1", "updated m1", "updated m2", "destroyed m4"} {
		if seen[want] != 1 {
			t.Errorf("paged: %q seen %d times (%v)", want, seen[want], seen)
		}
	}
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"sinceState", "x"}, "cannotCalculateChanges"},
		{[]any{"sinceState", "99999999"}, "cannotCalculateChanges"},
		{[]any{"sinceState", s0, "maxChanges", 0}, "invalidArguments"},
	} {
		if got := f.errorType("Email/changes", f.args(tc.args...)); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.args, got, tc.want)
		}
	}
}

// applyQueryChanges updates ids as a client does with an
// Email/queryChanges answer (RFC 8620 §5.6): remove, then insert the
// added in index order.
func applyQueryChanges(t *testing.T, ids []string, r map[string]any) []string {
	t.Helper()
	removed := strs(r["removed"])
	out := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(removed, id) })
	for _, a := range r["added"].([]any) {
		item := a.(map[string]any)
		i := int(item["index"].(float64))
		if i > len(out) {
			t.Fatalf("added at %d past the end of %v", i, out)
		}
		out = slices.Insert(out, i, item["id"].(string))
	}
	return out
}

func TestEmailQueryChanges(t *testing.T) {
	for _, collapse := range []bool{false, true} {
		f := newQueryFixture(t)
		args := []any{"filter", map[string]any{"inMailbox": f.inbox}, "sort", []map[string]any{{"property": "receivedAt", "isAscending": false}},
			"collapseThreads", collapse}
		q := f.call("Email/query", f.args(args...), "Email/query")
		ids, state := strs(q["ids"]), q["queryState"].(string)
		steps := []struct {
			name string
			do   func()
		}{
			{"delivery", func() { f.reply("r1", 10) }},
			{"older delivery in the thread", func() { f.reply("r0", -5) }},
			{"flag change", func() { f.flags("m1", store.FlagSeen) }},
			{"move out", func() { f.move("m4", "Archive") }},
			{"move in", func() { f.move("m3", "INBOX") }},
			{"expunge", func() { f.expunge("r1") }},
		}
		for _, s := range steps {
			s.do()
			r := f.call("Email/queryChanges", f.args(append(args, "sinceQueryState", state, "calculateTotal", true)...), "Email/queryChanges")
			now := f.call("Email/query", f.args(args...), "Email/query")
			want := strs(now["ids"])
			if got := applyQueryChanges(t, ids, r); !slices.Equal(got, want) {
				t.Errorf("collapse %v, %s: applied %v, query says %v (%v)", collapse, s.name, f.names(got), f.names(want), r)
			}
			if r["oldQueryState"] != state || r["newQueryState"] != now["queryState"] || r["total"] != float64(len(want)) {
				t.Errorf("collapse %v, %s: %v", collapse, s.name, r)
			}
			ids, state = want, now["queryState"].(string)
		}
		// Nothing changed: nothing to apply.
		r := f.call("Email/queryChanges", f.args(append(args, "sinceQueryState", state)...), "Email/queryChanges")
		if len(strs(r["removed"])) != 0 || len(r["added"].([]any)) != 0 {
			t.Errorf("no change: %v", r)
		}
		f.reply("r3", 12)
		f.reply("r4", 13)
		if typ := f.errorType("Email/queryChanges", f.args(append(args, "sinceQueryState", state, "maxChanges", 1)...)); typ != "tooManyChanges" {
			t.Errorf("maxChanges 1: %s", typ)
		}
		for _, tc := range []struct {
			args []any
			want string
		}{
			{[]any{"sinceQueryState", "x"}, "cannotCalculateChanges"},
			{[]any{"sinceQueryState", "99999999"}, "cannotCalculateChanges"},
			{[]any{"sinceQueryState", state, "maxChanges", 0}, "invalidArguments"},
			{[]any{"sinceQueryState", state, "filter", map[string]any{"text": "x"}}, "cannotCalculateChanges"},
			{[]any{"sinceQueryState", state, "sort", []map[string]any{{"property": "size"}}}, "cannotCalculateChanges"},
			{[]any{"sinceQueryState", state, "filter", map[string]any{"bogus": 1}}, "unsupportedFilter"},
		} {
			a := append(slices.Clone(args), tc.args...)
			if got := f.errorType("Email/queryChanges", f.args(a...)); got != tc.want {
				t.Errorf("%v: %s, want %s", tc.args, got, tc.want)
			}
		}
	}
}

// TestEmailChangesOneStepTooBig: a single change of more emails than
// maxChanges cannot be cut into pages.
func TestEmailChangesOneStepTooBig(t *testing.T) {
	f := newQueryFixture(t)
	s0 := f.queryState()
	inbox := f.mailbox("INBOX")
	if _, err := f.st.UpdateFlags(f.ctx, inbox.ID, []uint32{f.m["m1"].UID, f.m["m2"].UID},
		store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagAnswered}); err != nil {
		t.Fatal(err)
	}
	if typ := f.errorType("Email/changes", f.args("sinceState", s0, "maxChanges", 1)); typ != "cannotCalculateChanges" {
		t.Errorf("maxChanges 1 for one change of two emails: %s", typ)
	}
	if r := f.emailChanges(s0, "maxChanges", 2); len(strs(r["updated"])) != 2 || r["hasMoreChanges"] != false {
		t.Errorf("maxChanges 2: %v", r)
	}
}
