package query

import (
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

func TestCasemapKey(t *testing.T) {
	if casemapKey("hello") != casemapKey("HELLO") {
		t.Fatal("case must not matter")
	}
	// RFC 5051: decomposition makes precomposed and combining forms equal.
	if casemapKey("caf\u00e9") != casemapKey("CAFE\u0301") {
		t.Fatal("canonical equivalents must compare equal")
	}
	if casemapKey("a") >= casemapKey("B") {
		t.Fatal("order must ignore case")
	}
}

// FuzzCasemapKey checks the ASCII fast path against the definition.
func FuzzCasemapKey(f *testing.F) {
	for _, s := range []string{"Re: [x] hello (fwd)", "Ünïcödé", "ǆ ß ſ", "plain ascii", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := casemapKey(s), norm.NFKD.String(strings.Map(unicode.ToTitle, s)); got != want {
			t.Fatalf("casemapKey(%q) = %q, want %q", s, got, want)
		}
	})
}
