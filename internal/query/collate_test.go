package query

import (
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"postern/internal/message"
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

// TestSortKeysOfGroups: a list that starts with a group sorts on the
// group's name, for CC and DISPLAYTO alike (imaptest sort-addresses and
// sort-display-to).
func TestSortKeysOfGroups(t *testing.T) {
	env := func(cc string) *message.Envelope {
		p, err := message.Parse(strings.NewReader("To: "+cc+"\r\nCc: "+cc+"\r\n\r\n"), message.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		return p.Envelope
	}
	for _, c := range []struct{ field, want string }{
		{"user2: blah@domain1.org;", "user2"},
		{"empty:;", "empty"},
		{"foo bar <a@b.c>", "a"},
	} {
		if got := sortString(env(c.field), SortCc); casemapKey(got) != casemapKey(c.want) {
			t.Errorf("CC key of %q: %q, want %q", c.field, got, c.want)
		}
	}
	for _, c := range []struct{ field, want string }{
		{"a: xx@xx.org, yy@yy.org;", "a"},
		{"=?iso-8859-1?q?foo_aar?= <e@f.g>", "foo aar"},
		{"b@c.d", "b@c.d"},
	} {
		if got := sortString(env(c.field), SortDisplayTo); casemapKey(got) != casemapKey(c.want) {
			t.Errorf("DISPLAYTO key of %q: %q, want %q", c.field, got, c.want)
		}
	}
}
