package store

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzFoldText checks the fast path against the per-rune definition.
func FuzzFoldText(f *testing.F) {
	for _, s := range []string{"Hello WORLD", "Straße ſ K İ", "\xff\xfeabc", "Ünïcödé"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := strings.Map(func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }, s)
		if got := FoldText(s); got != want {
			t.Fatalf("FoldText(%q) = %q, want %q", s, got, want)
		}
	})
}
