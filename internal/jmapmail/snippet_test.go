package jmapmail

import (
	"html"
	"strings"
	"testing"
)

func TestSearchSnippet(t *testing.T) {
	f := newQueryFixture(t)
	get := func(filter any, names ...string) map[string]map[string]any {
		t.Helper()
		r := f.call("SearchSnippet/get", f.args("filter", filter, "emailIds", append(f.ids(names...), "e999999")), "SearchSnippet/get")
		if nf := strs(r["notFound"]); len(nf) != 1 || nf[0] != "e999999" {
			t.Errorf("notFound %v", r["notFound"])
		}
		out := map[string]map[string]any{}
		for _, s := range r["list"].([]any) {
			s := s.(map[string]any)
			out[f.names([]string{s["emailId"].(string)})[0]] = s
		}
		return out
	}
	s := get(map[string]any{"text": "budget"}, "m1", "m3")
	if s["m1"]["subject"] != "<mark>Budget</mark> report" || s["m1"]["preview"] != nil {
		t.Errorf("m1: %v", s["m1"])
	}
	if s["m3"]["subject"] != nil || s["m3"]["preview"] != nil {
		t.Errorf("m3 has no match: %v", s["m3"])
	}
	// Body terms: in the stored preview, escaped; subject terms only in
	// the subject; NOT conditions highlight nothing.
	s = get(map[string]any{"operator": "AND", "conditions": []any{
		map[string]any{"body": "FINE"}, map[string]any{"subject": "re:"},
		map[string]any{"operator": "NOT", "conditions": []any{map[string]any{"text": "looks"}}}}}, "m2")
	if s["m2"]["preview"] != "looks <mark>fine</mark> &amp; &lt;ok&gt;" || s["m2"]["subject"] != "<mark>Re:</mark> Budget report" {
		t.Errorf("m2: %v", s["m2"])
	}
	s = get(map[string]any{"body": "ten things"}, "m4")
	if p, _ := s["m4"]["preview"].(string); !strings.HasPrefix(p, "<mark>ten things</mark> and more") {
		t.Errorf("m4 preview %q", p)
	}
	// A term past the stored preview: a window of the text around it.
	s = get(map[string]any{"body": "zebra"}, "m4")
	if p, _ := s["m4"]["preview"].(string); !strings.HasSuffix(strings.TrimSpace(p), "<mark>zebra</mark>") || len(p) > snippetWindow+len("<mark></mark>") {
		t.Errorf("m4 preview %q", p)
	}
	// No filter: no terms, both null.
	s = get(nil, "m1")
	if s["m1"]["subject"] != nil || s["m1"]["preview"] != nil {
		t.Errorf("no filter: %v", s["m1"])
	}
	if typ := f.errorType("SearchSnippet/get", f.args("filter", map[string]any{"nope": 1}, "emailIds", []string{})); typ != "unsupportedFilter" {
		t.Errorf("bad filter: %s", typ)
	}
	if typ := f.errorType("SearchSnippet/get", f.args("filter", nil)); typ != "invalidArguments" {
		t.Errorf("no emailIds: %s", typ)
	}
}

func TestHighlight(t *testing.T) {
	for _, tc := range []struct {
		s     string
		terms []string
		want  string
	}{
		{"Straße & STRASSE", []string{"straße"}, "<mark>Straße</mark> &amp; STRASSE"},
		{"aaa", []string{"aa"}, "<mark>aaa</mark>"},
		{"Über <b>über</b>", []string{"ÜBER"}, "<mark>Über</mark> &lt;b&gt;<mark>über</mark>&lt;/b&gt;"},
		{"ab cd", []string{"b", "c"}, "a<mark>b</mark> <mark>c</mark>d"},
		{"K", []string{"\u212a"}, "<mark>K</mark>"}, // KELVIN SIGN folds to k
	} {
		got := highlight(tc.s, tc.terms)
		if got == nil || *got != tc.want {
			t.Errorf("highlight(%q, %q) = %v, want %q", tc.s, tc.terms, got, tc.want)
		}
	}
	if got := highlight("abc", []string{"x"}); got != nil {
		t.Errorf("no match: %q", *got)
	}
}

// FuzzHighlight: any text and term highlight without a crash, and the
// answer is the text again once the marks are taken out and the escapes
// undone, with every mark around a match of the term.
func FuzzHighlight(f *testing.F) {
	for _, seed := range [][2]string{{"Straße", "SS"}, {"K\u212a", "k"}, {"ǅ<ǆ>", "ǆ"}, {"\xff\xfe a", "a"}, {"ﬃ", "fi"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, s, term string) {
		got := highlight(s, []string{term})
		if got == nil {
			return
		}
		plain := strings.NewReplacer("<mark>", "", "</mark>", "").Replace(*got)
		if html.UnescapeString(plain) != strings.ToValidUTF8(s, "\uFFFD") && html.UnescapeString(plain) != s {
			t.Fatalf("highlight(%q, %q) = %q: text changed", s, term, *got)
		}
	})
}

func TestSearchSnippetTooMany(t *testing.T) {
	f := newQueryFixture(t)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = emailID(int64(i + 1))
	}
	if typ := f.errorType("SearchSnippet/get", f.args("filter", map[string]any{"text": "x"}, "emailIds", ids)); typ != "requestTooLarge" {
		t.Errorf("1000 ids: %s", typ)
	}
}
