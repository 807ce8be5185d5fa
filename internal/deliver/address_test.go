package deliver

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"User@Example.TEST", "User@example.test", nil},
		{"a.b+tag@example.test", "a.b+tag@example.test", nil},
		{`"plain"@example.test`, "plain@example.test", nil},
		{"user@[127.0.0.1]", "user@[127.0.0.1]", nil},
		{"üser@example.test", "üser@example.test", nil},
		{"user%other.test@example.test", "", ErrRouting},
		{"other.test!user@example.test", "", ErrRouting},
		{`"user@other.test"@example.test`, "", ErrRouting},
		{`"user%other"@example.test`, "", ErrRouting},
		{"user@example.test.", "", ErrAddressSyntax},
		{"user@", "", ErrAddressSyntax},
		{"@example.test", "", ErrAddressSyntax},
		{"user", "", ErrAddressSyntax},
		{".user@example.test", "", ErrAddressSyntax},
		{"us..er@example.test", "", ErrAddressSyntax},
		{"user@-example.test", "", ErrAddressSyntax},
		{"user@exa_mple.test", "", ErrAddressSyntax},
		{"user@example..test", "", ErrAddressSyntax},
		{`"a b"@example.test`, "", ErrAddressSyntax},
		{`"unterminated@example.test`, "", ErrAddressSyntax},
		{strings.Repeat("a", 65) + "@example.test", "", ErrAddressSyntax},
		{"user@[127.0.0.1", "", ErrAddressSyntax},
	}
	for _, c := range cases {
		a, err := ParseAddress(c.in)
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("ParseAddress(%q) err = %v, want %v", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || a.String() != c.want {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", c.in, a.String(), err, c.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	got, err := Normalize("Demo+Tag@Example.Test")
	if err != nil || got != "demo+tag@example.test" {
		t.Fatalf("Normalize = %q, %v", got, err)
	}
	if _, err := Normalize("user@[10.0.0.1]"); err == nil {
		t.Fatal("address literal accepted as an account address")
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"a@b.c", `"x y"@z`, "a%b@c", "a!b@c", "@a:b@c", "a@[1.2.3.4]", "a@b.", "\"\\\"\"@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(a.Local, "%!@") {
			t.Fatalf("routing characters survived in %q", a.Local)
		}
		if a.Local == "" || a.Domain == "" {
			t.Fatalf("empty part accepted: %q", s)
		}
		if !a.IsLiteral() && strings.HasSuffix(a.Domain, ".") {
			t.Fatalf("trailing dot accepted: %q", s)
		}
	})
}
