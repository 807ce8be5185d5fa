package jmapmail

import (
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

// queryFixture is five emails of alice with every property a filter or
// sort looks at, received an hour apart in the order m5, m1, m2, m3, m4
// and delivered (so numbered) m1 to m5. m1 and m2 are one thread.
type queryFixture struct {
	*env
	m                      map[string]store.Message
	inbox, archive         string // JMAP mailbox ids
	t0                     time.Time
	sizeLargest, sizeOther int64
}

func newQueryFixture(t *testing.T) *queryFixture {
	e := newEnv(t, Options{})
	f := &queryFixture{env: e, m: map[string]store.Message{}, inbox: e.id("INBOX"), archive: e.id("Archive"),
		t0: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.m["m1"] = e.deliverRaw("INBOX", `Message-ID: <a1@x.org>
Date: Thu, 05 Jan 2023 10:00:00 +0000
From: Zed <zed@x.org>
To: "Alice A." <alice@example.org>
Subject: Budget report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

quarterly numbers attached
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename=q.pdf

JVBERi0=
--b--
`, f.t0.Add(time.Hour))
	f.m["m2"] = e.deliverRaw("INBOX", `Message-ID: <a2@x.org>
In-Reply-To: <a1@x.org>
References: <a1@x.org>
Date: Wed, 04 Jan 2023 10:00:00 +0000
From: amy <amy@x.org>
To: bob@example.org
Cc: carol@example.net
Subject: Re: Budget report

looks fine & <ok>
`, f.t0.Add(2*time.Hour))
	f.m["m3"] = e.deliverRaw("Archive", `Message-ID: <a3@x.org>
Date: Tue, 03 Jan 2023 10:00:00 +0000
From: Bob <bob@x.org>
To: dan@x.org
Bcc: eve@x.org
X-Tag: blue
Subject: Lunch

pizza on friday
`, f.t0.Add(3*time.Hour))
	f.m["m4"] = e.deliverRaw("INBOX", `Message-ID: <a4@x.org>
Date: Fri, 06 Jan 2023 10:00:00 +0000
From: carl <carl@x.org>
To: Yvonne <y@x.org>
Subject: 10 items

ten things `+strings.Repeat("and more ", 200)+`zebra
`, f.t0.Add(4*time.Hour))
	f.m["m5"] = e.deliverRaw("INBOX", `Message-ID: <a5@x.org>
Date: Sat, 07 Jan 2023 10:00:00 +0000
From: Ann <ann@x.org>
To: zoe@x.org
Subject: 9 items

nine things
`, f.t0)
	f.flags("m1", store.FlagFlagged, "work")
	f.flags("m2", store.FlagSeen)
	f.flags("m3", store.FlagSeen)
	f.sizeLargest = f.m["m4"].Size
	for _, k := range []string{"m1", "m2", "m3", "m5"} {
		f.sizeOther = max(f.sizeOther, f.m[k].Size)
	}
	return f
}

// flags adds flags and keywords to an email of the fixture.
func (f *queryFixture) flags(name string, fl store.Flags, kw ...string) {
	f.t.Helper()
	m := f.m[name]
	res, err := f.st.UpdateFlags(f.ctx, m.MailboxID, []uint32{m.UID}, store.FlagUpdate{Op: store.FlagsAdd, Flags: fl, Keywords: kw})
	if err != nil || len(res.Changed) != 1 {
		f.t.Fatalf("UpdateFlags %s: %v %+v", name, err, res)
	}
}

// names maps email ids back to the fixture's names.
func (f *queryFixture) names(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		found := id
		for n, m := range f.m {
			if emailID(m.ID) == id {
				found = n
			}
		}
		out = append(out, found)
	}
	return out
}

func (f *queryFixture) ids(names ...string) []string {
	out := []string{}
	for _, n := range names {
		out = append(out, emailID(f.m[n].ID))
	}
	return out
}

// query runs Email/query and returns the names of the ids found.
func (f *queryFixture) query(kv ...any) ([]string, map[string]any) {
	f.t.Helper()
	r := f.call("Email/query", f.args(kv...), "Email/query")
	return f.names(strs(r["ids"])), r
}

var ascReceived = []map[string]any{{"property": "receivedAt", "isAscending": true}}

func TestEmailQueryFilters(t *testing.T) {
	f := newQueryFixture(t)
	at := func(h int) string { return f.t0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	cases := []struct {
		name   string
		filter any
		want   []string
	}{
		{"none", nil, []string{"m5", "m1", "m2", "m3", "m4"}},
		{"inMailbox", map[string]any{"inMailbox": f.inbox}, []string{"m5", "m1", "m2", "m4"}},
		{"inMailbox unknown", map[string]any{"inMailbox": "m999"}, []string{}},
		{"inMailboxOtherThan", map[string]any{"inMailboxOtherThan": []string{f.inbox}}, []string{"m3"}},
		{"before", map[string]any{"before": at(2)}, []string{"m5", "m1"}},
		{"after", map[string]any{"after": at(2)}, []string{"m2", "m3", "m4"}},
		{"minSize", map[string]any{"minSize": f.sizeLargest}, []string{"m4"}},
		{"maxSize", map[string]any{"maxSize": f.sizeOther + 1}, []string{"m5", "m1", "m2", "m3"}},
		{"allInThreadHaveKeyword", map[string]any{"allInThreadHaveKeyword": "$seen"}, []string{"m3"}},
		{"someInThreadHaveKeyword", map[string]any{"someInThreadHaveKeyword": "$seen"}, []string{"m1", "m2", "m3"}},
		{"noneInThreadHaveKeyword", map[string]any{"noneInThreadHaveKeyword": "$seen"}, []string{"m5", "m4"}},
		{"hasKeyword flag", map[string]any{"hasKeyword": "$flagged"}, []string{"m1"}},
		{"hasKeyword keyword", map[string]any{"hasKeyword": "WORK"}, []string{"m1"}},
		{"notKeyword", map[string]any{"notKeyword": "$seen"}, []string{"m5", "m1", "m4"}},
		{"hasAttachment", map[string]any{"hasAttachment": true}, []string{"m1"}},
		{"no attachment", map[string]any{"hasAttachment": false}, []string{"m5", "m2", "m3", "m4"}},
		{"text in body", map[string]any{"text": "PIZZA"}, []string{"m3"}},
		{"text in subject", map[string]any{"text": "budget"}, []string{"m1", "m2"}},
		{"from", map[string]any{"from": "amy"}, []string{"m2"}},
		{"to", map[string]any{"to": "bob@example.org"}, []string{"m2"}},
		{"cc", map[string]any{"cc": "carol"}, []string{"m2"}},
		{"bcc", map[string]any{"bcc": "eve"}, []string{"m3"}},
		{"subject", map[string]any{"subject": "lunch"}, []string{"m3"}},
		{"body", map[string]any{"body": "ten things"}, []string{"m4"}},
		{"body not subject", map[string]any{"body": "budget"}, []string{}},
		{"header name", map[string]any{"header": []string{"X-Tag"}}, []string{"m3"}},
		{"header value", map[string]any{"header": []string{"x-tag", "blue"}}, []string{"m3"}},
		{"header other value", map[string]any{"header": []string{"X-Tag", "red"}}, []string{}},
		{"several properties are AND", map[string]any{"inMailbox": f.inbox, "text": "items"}, []string{"m5", "m4"}},
		{"OR", map[string]any{"operator": "OR", "conditions": []any{
			map[string]any{"from": "amy"}, map[string]any{"subject": "lunch"}}}, []string{"m2", "m3"}},
		{"NOT", map[string]any{"operator": "NOT", "conditions": []any{
			map[string]any{"inMailbox": f.inbox}}}, []string{"m3"}},
		{"NOT of several is none of them", map[string]any{"operator": "NOT", "conditions": []any{
			map[string]any{"from": "amy"}, map[string]any{"from": "zed"}}}, []string{"m5", "m3", "m4"}},
		{"nested", map[string]any{"operator": "AND", "conditions": []any{
			map[string]any{"inMailbox": f.inbox},
			map[string]any{"operator": "NOT", "conditions": []any{
				map[string]any{"operator": "OR", "conditions": []any{
					map[string]any{"hasKeyword": "$seen"}, map[string]any{"hasAttachment": true}}}}}}},
			[]string{"m5", "m4"}},
		{"empty OR matches none", map[string]any{"operator": "OR", "conditions": []any{}}, []string{}},
	}
	for _, tc := range cases {
		got, _ := f.query("filter", tc.filter, "sort", ascReceived)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestEmailQuerySorts(t *testing.T) {
	f := newQueryFixture(t)
	cmp := func(prop string, asc bool, extra ...any) map[string]any {
		c := map[string]any{"property": prop, "isAscending": asc}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i].(string)] = extra[i+1]
		}
		return c
	}
	received := cmp("receivedAt", true)
	bySize := []string{"m1", "m2", "m3", "m4", "m5"}
	slices.SortStableFunc(bySize, func(a, b string) int { return int(f.m[a].Size - f.m[b].Size) })
	cases := []struct {
		name string
		sort []map[string]any
		want []string
	}{
		{"receivedAt", []map[string]any{received}, []string{"m5", "m1", "m2", "m3", "m4"}},
		{"receivedAt desc", []map[string]any{cmp("receivedAt", false)}, []string{"m4", "m3", "m2", "m1", "m5"}},
		{"default is newest first", nil, []string{"m4", "m3", "m2", "m1", "m5"}},
		{"sentAt", []map[string]any{cmp("sentAt", true)}, []string{"m3", "m2", "m1", "m4", "m5"}},
		{"size", []map[string]any{cmp("size", true)}, bySize},
		{"from", []map[string]any{cmp("from", true)}, []string{"m2", "m5", "m3", "m4", "m1"}},
		{"from ascii-casemap", []map[string]any{cmp("from", false, "collation", "i;ascii-casemap")},
			[]string{"m1", "m4", "m3", "m5", "m2"}},
		{"to", []map[string]any{cmp("to", true)}, []string{"m1", "m2", "m3", "m4", "m5"}},
		{"subject", []map[string]any{cmp("subject", true)}, []string{"m4", "m5", "m1", "m2", "m3"}},
		{"subject unicode-casemap", []map[string]any{cmp("subject", true, "collation", "i;unicode-casemap")},
			[]string{"m4", "m5", "m1", "m2", "m3"}},
		{"subject ascii-numeric", []map[string]any{cmp("subject", true, "collation", "i;ascii-numeric")},
			[]string{"m5", "m4", "m1", "m2", "m3"}},
		{"hasKeyword", []map[string]any{cmp("hasKeyword", true, "keyword", "$seen"), received},
			[]string{"m5", "m1", "m4", "m2", "m3"}},
		{"hasKeyword custom desc", []map[string]any{cmp("hasKeyword", false, "keyword", "work"), received},
			[]string{"m1", "m5", "m2", "m3", "m4"}},
		{"allInThreadHaveKeyword", []map[string]any{cmp("allInThreadHaveKeyword", true, "keyword", "$seen"), received},
			[]string{"m5", "m1", "m2", "m4", "m3"}},
		{"someInThreadHaveKeyword desc", []map[string]any{cmp("someInThreadHaveKeyword", false, "keyword", "$seen"), received},
			[]string{"m1", "m2", "m3", "m5", "m4"}},
	}
	for _, tc := range cases {
		args := []any{}
		if tc.sort != nil {
			args = append(args, "sort", tc.sort)
		}
		got, _ := f.query(args...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestEmailQueryCollapseAndPaging(t *testing.T) {
	f := newQueryFixture(t)
	inbox := map[string]any{"inMailbox": f.inbox}
	desc := []map[string]any{{"property": "receivedAt", "isAscending": false}}
	// The webmail's list (read from the received-order index) and the
	// same list searched (a filter it cannot read from the index) agree.
	notArchive := map[string]any{"inMailboxOtherThan": []string{f.archive}}
	inboxLight := map[string]any{"operator": "AND", "conditions": []any{inbox, map[string]any{"maxSize": 1 << 30}}}
	for _, filter := range []map[string]any{inbox, notArchive, inboxLight} {
		got, r := f.query("filter", filter, "sort", desc, "collapseThreads", true, "calculateTotal", true)
		if want := []string{"m4", "m2", "m5"}; !slices.Equal(got, want) {
			t.Errorf("%v collapsed: %v, want %v", filter, got, want)
		}
		if r["total"] != 3.0 || r["collapseThreads"] != true || r["position"] != 0.0 {
			t.Errorf("%v collapsed: %v", filter, r)
		}
		if r["canCalculateChanges"] != (filter["inMailbox"] != nil) {
			t.Errorf("%v: canCalculateChanges %v", filter, r["canCalculateChanges"])
		}
		got, r = f.query("filter", filter, "sort", desc, "calculateTotal", true)
		if want := []string{"m4", "m2", "m1", "m5"}; !slices.Equal(got, want) || r["total"] != 4.0 {
			t.Errorf("%v: %v total %v", filter, got, r["total"])
		}
		type pg struct {
			args []any
			want []string
			pos  float64
		}
		for _, p := range []pg{
			{[]any{"position", 1, "limit", 2}, []string{"m2", "m1"}, 1},
			{[]any{"position", -1}, []string{"m5"}, 3},
			{[]any{"position", -2, "limit", 1}, []string{"m1"}, 2},
			{[]any{"position", -10, "limit", 1}, []string{"m4"}, 0},
			{[]any{"position", 4}, []string{}, -1}, // past the end: no ids
			{[]any{"position", 9, "limit", 5}, []string{}, -1},
			{[]any{"limit", 0}, []string{}, -1},
			{[]any{"anchor", emailID(f.m["m2"].ID)}, []string{"m2", "m1", "m5"}, 1},
			{[]any{"anchor", emailID(f.m["m1"].ID), "anchorOffset", -1, "limit", 2}, []string{"m2", "m1"}, 1},
			{[]any{"anchor", emailID(f.m["m2"].ID), "anchorOffset", -5, "limit", 1}, []string{"m4"}, 0},
			{[]any{"anchor", emailID(f.m["m5"].ID), "anchorOffset", 3}, []string{}, -1},
		} {
			args := append([]any{"filter", filter, "sort", desc}, p.args...)
			got, r := f.query(args...)
			if !slices.Equal(got, p.want) || p.pos >= 0 && r["position"] != p.pos {
				t.Errorf("%v %v: %v at %v, want %v at %v", filter, p.args, got, r["position"], p.want, p.pos)
			}
		}
		// The anchor must be in the results.
		if typ := f.errorType("Email/query", f.args("filter", filter, "anchor", emailID(f.m["m3"].ID))); typ != "anchorNotFound" {
			t.Errorf("%v: anchor outside: %s", filter, typ)
		}
	}
	// Oldest first, read from the index.
	if got, _ := f.query("filter", inbox, "sort", ascReceived, "collapseThreads", true); !slices.Equal(got, []string{"m5", "m1", "m4"}) {
		t.Errorf("oldest first collapsed: %v", got)
	}
	// Another account's mailbox is no mailbox.
	bob, _ := f.st.Account(f.ctx, "bob@example.org")
	bobInbox, _ := f.st.Mailbox(f.ctx, bob.ID, "INBOX")
	if got, _ := f.query("filter", map[string]any{"inMailbox": mailboxID(bobInbox.ID)}); len(got) != 0 {
		t.Errorf("bob's inbox: %v", got)
	}
}

func TestEmailQueryErrors(t *testing.T) {
	f := newQueryFixture(t)
	deep := map[string]any{"hasKeyword": "x"}
	for range maxEmailFilterDepth + 2 {
		deep = map[string]any{"operator": "AND", "conditions": []any{deep}}
	}
	wide := []any{}
	for range maxEmailFilterNodes + 1 {
		wide = append(wide, map[string]any{"hasKeyword": "x"})
	}
	cases := []struct {
		name string
		args []any
		want string
	}{
		{"unknown filter property", []any{"filter", map[string]any{"sender": "x"}}, "unsupportedFilter"},
		{"unknown operator", []any{"filter", map[string]any{"operator": "XOR", "conditions": []any{}}}, "unsupportedFilter"},
		{"too deep", []any{"filter", deep}, "unsupportedFilter"},
		{"too many", []any{"filter", map[string]any{"operator": "OR", "conditions": wide}}, "unsupportedFilter"},
		{"bad date", []any{"filter", map[string]any{"before": "yesterday"}}, "invalidArguments"},
		{"bad keyword", []any{"filter", map[string]any{"hasKeyword": "a b"}}, "invalidArguments"},
		{"bad size", []any{"filter", map[string]any{"minSize": -1}}, "invalidArguments"},
		{"bad header", []any{"filter", map[string]any{"header": []string{}}}, "invalidArguments"},
		{"too long", []any{"filter", map[string]any{"text": strings.Repeat("x", 1025)}}, "invalidArguments"},
		{"not an object", []any{"filter", "x"}, "invalidArguments"},
		{"null condition", []any{"filter", map[string]any{"operator": "AND", "conditions": []any{nil}}}, "invalidArguments"},
		{"unknown sort", []any{"sort", []map[string]any{{"property": "id"}}}, "unsupportedSort"},
		{"unknown collation", []any{"sort", []map[string]any{{"property": "subject", "collation": "i;octet"}}}, "unsupportedSort"},
		{"hasKeyword without keyword", []any{"sort", []map[string]any{{"property": "hasKeyword"}}}, "invalidArguments"},
		{"negative limit", []any{"limit", -1}, "invalidArguments"},
		{"unknown anchor", []any{"anchor", "e999999"}, "anchorNotFound"},
		{"bad anchor", []any{"anchor", "x"}, "anchorNotFound"},
	}
	for _, tc := range cases {
		if got := f.errorType("Email/query", f.args(tc.args...)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	r := f.call("Email/query", map[string]any{"accountId": "a999"}, "error")
	if r["type"] != "accountNotFound" {
		t.Errorf("unknown account: %v", r)
	}
}

// TestEmailQueryResultReference: the webmail's first request, the list
// then Email/get of its ids by reference.
func TestEmailQueryResultReference(t *testing.T) {
	f := newQueryFixture(t)
	rs := f.api("Email/query", f.args("filter", map[string]any{"inMailbox": f.inbox}, "collapseThreads", true, "limit", 2),
		"Email/get", map[string]any{"accountId": f.aid, "#ids": map[string]any{"resultOf": "c0", "name": "Email/query", "path": "/ids"},
			"properties": []string{"subject", "preview", "keywords", "from"}})
	if len(rs) != 2 || rs[1].Name != "Email/get" {
		t.Fatalf("%+v", rs)
	}
	list := rs[1].Args["list"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["subject"] != "10 items" || list[1].(map[string]any)["subject"] != "Re: Budget report" {
		t.Errorf("Email/get of the page: %v", list)
	}
}

// TestEmailQueryRFCExample is the request of RFC 8621 §4.10: the first
// page of a mailbox by threads, their threads, and the emails of those
// threads, all by result references.
func TestEmailQueryRFCExample(t *testing.T) {
	f := newQueryFixture(t)
	ref := func(call, name, path string) map[string]any {
		return map[string]any{"resultOf": call, "name": name, "path": path}
	}
	rs := f.api(
		"Email/query", f.args("filter", map[string]any{"inMailbox": f.inbox},
			"sort", []map[string]any{{"isAscending": false, "property": "receivedAt"}},
			"collapseThreads", true, "position", 0, "limit", 20, "calculateTotal", true),
		"Email/get", map[string]any{"accountId": f.aid, "#ids": ref("c0", "Email/query", "/ids"), "properties": []string{"threadId"}},
		"Thread/get", map[string]any{"accountId": f.aid, "#ids": ref("c1", "Email/get", "/list/*/threadId")},
		"Email/get", map[string]any{"accountId": f.aid, "#ids": ref("c2", "Thread/get", "/list/*/emailIds"),
			"properties": []string{"threadId", "mailboxIds", "keywords", "hasAttachment", "from", "subject", "receivedAt", "size", "preview"}},
	)
	if len(rs) != 4 || rs[0].Name != "Email/query" || rs[3].Name != "Email/get" {
		t.Fatalf("%+v", rs)
	}
	if got := f.names(strs(rs[0].Args["ids"])); !slices.Equal(got, []string{"m4", "m2", "m5"}) || rs[0].Args["total"] != 3.0 {
		t.Errorf("query: %v %v", got, rs[0].Args)
	}
	// The threads' emails: m4, then m1 and m2, then m5.
	var got []string
	for _, o := range rs[3].Args["list"].([]any) {
		got = append(got, f.names([]string{o.(map[string]any)["id"].(string)})[0])
	}
	if !slices.Equal(got, []string{"m4", "m1", "m2", "m5"}) {
		t.Errorf("emails of the threads: %v", got)
	}
}

// TestEmailQueryByDateBatches: a list of one mailbox by date with
// conditions on light rows (read from the received-order index a batch
// at a time) gives what the search of the same gives, across batches.
func TestEmailQueryByDateBatches(t *testing.T) {
	e := newEnv(t, Options{})
	fillInbox(t, e, 3*byDateBatch+100) // every other one \Seen, threads of three
	inbox := map[string]any{"inMailbox": e.id("INBOX")}
	unread := map[string]any{"notKeyword": "$seen"}
	everyone := map[string]any{"text": "message"} // in every one; text makes it searched
	for _, collapse := range []bool{false, true} {
		for _, desc := range []bool{true, false} {
			sort := []map[string]any{{"property": "receivedAt", "isAscending": !desc}}
			for _, page := range [][]any{
				{"limit", 50}, {"position", 300, "limit", 100}, {"position", -30}, {"calculateTotal", true, "limit", 10},
			} {
				fast := e.call("Email/query", e.args(append([]any{"filter", map[string]any{"operator": "AND", "conditions": []any{inbox, unread}},
					"sort", sort, "collapseThreads", collapse}, page...)...), "Email/query")
				slow := e.call("Email/query", e.args(append([]any{"filter", map[string]any{"operator": "AND", "conditions": []any{inbox, unread, everyone}},
					"sort", sort, "collapseThreads", collapse}, page...)...), "Email/query")
				if !slices.Equal(strs(fast["ids"]), strs(slow["ids"])) || fast["total"] != slow["total"] {
					t.Errorf("collapse %v desc %v %v: %v at %v (total %v), searched %v at %v (total %v)", collapse, desc, page,
						strs(fast["ids"]), fast["position"], fast["total"], strs(slow["ids"]), slow["position"], slow["total"])
				}
			}
		}
	}
}

// TestEmailQueryTotalFollowsChanges: the total of the webmail's list is
// counted apart from the page and remembered per state of the mailbox: a
// delivery and an expunge show at once, collapsed or not.
func TestEmailQueryTotalFollowsChanges(t *testing.T) {
	f := newQueryFixture(t)
	inbox := map[string]any{"inMailbox": f.inbox}
	desc := []map[string]any{{"property": "receivedAt", "isAscending": false}}
	total := func(collapse bool) any {
		_, r := f.query("filter", inbox, "sort", desc, "collapseThreads", collapse, "calculateTotal", true, "limit", 1)
		return r["total"]
	}
	if total(false) != 4.0 || total(true) != 3.0 {
		t.Fatalf("totals: %v %v", total(false), total(true))
	}
	f.env.deliver("INBOX", "fresh@x.org", "")
	if total(false) != 5.0 || total(true) != 4.0 {
		t.Errorf("after a delivery: %v %v", total(false), total(true))
	}
	if _, _, err := f.env.st.Expunge(f.env.ctx, f.env.mailbox("INBOX").ID, []uint32{f.m["m1"].UID}); err != nil {
		t.Fatal(err)
	}
	if total(false) != 4.0 {
		t.Errorf("after an expunge: %v", total(false))
	}
}
