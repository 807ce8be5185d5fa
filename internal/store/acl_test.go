package store

import (
	"errors"
	"testing"
)

func TestParseRights(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"", ""},
		{"lrswipkxtea", "lrswipkxteacd"},
		{"alr", "lra"}, // any order in, RFC 4314 order out
		{"c", "kxc"},   // §2.1.1: c is k and x
		{"d", "ted"},   // d is t and e
		{"k", "kc"},
		{"e", "ed"},
		{"rr", "r"},
	} {
		r, err := ParseRights(tc.in)
		if err != nil || r.String() != tc.out {
			t.Errorf("ParseRights(%q) = %q, %v; want %q", tc.in, r.String(), err, tc.out)
		}
	}
	for _, bad := range []string{"z", "lr ", "L", "+l", "\x00"} {
		if _, err := ParseRights(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRights(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if !AllRights.Has(RightAdmin|RightLookup) || RightRead.Has(RightRead|RightSeen) {
		t.Error("Has")
	}
}
