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
