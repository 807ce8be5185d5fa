package store

import (
	"reflect"
	"testing"
)

func TestDKIMResultsRoundTrip(t *testing.T) {
	in := []DKIMResult{{Domain: "Example.com", Selector: "s1", Result: "pass"}, {Domain: "b d/x=y", Selector: "", Result: "fail"}}
	got := ParseDKIMResults(FormatDKIMResults(in))
	want := []DKIMResult{{Domain: "example.com", Selector: "s1", Result: "pass"}, {Domain: "b_d_x_y", Selector: "", Result: "fail"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v; want %+v", got, want)
	}
	if got := ParseDKIMResults("junk =x a/b= c/d=pass"); len(got) != 1 || got[0].Domain != "c" {
		t.Fatalf("malformed entries: %+v", got)
	}
}

// FuzzDKIMResults: the domains and selectors come from signatures anyone
// can write; whatever they hold, the column reads back as many entries,
// each without a separator in it.
func FuzzDKIMResults(f *testing.F) {
	f.Add("example.com", "s1", "pass")
	f.Add("a b/c=d", "", "fail")
	f.Fuzz(func(t *testing.T, domain, selector, result string) {
		if domain == "" || result == "" {
			return
		}
		got := ParseDKIMResults(FormatDKIMResults([]DKIMResult{{domain, selector, result}, {"x.test", "s", "pass"}}))
		if len(got) != 2 || got[1] != (DKIMResult{"x.test", "s", "pass"}) {
			t.Fatalf("%q %q %q read back as %+v", domain, selector, result, got)
		}
	})
}
