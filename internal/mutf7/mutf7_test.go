package mutf7

import (
	"testing"
	"unicode/utf8"
)

func TestModifiedUTF7(t *testing.T) {
	for _, c := range []struct{ utf8, utf7 string }{
		{"INBOX", "INBOX"}, {"A&B", "A&-B"}, {"Entwürfe", "Entw&APw-rfe"}, {"日本語", "&ZeVnLIqe-"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	} {
		if got := Encode(c.utf8); got != c.utf7 {
			t.Errorf("encode %q = %q, want %q", c.utf8, got, c.utf7)
		}
		if got, err := Decode(c.utf7); err != nil || got != c.utf8 {
			t.Errorf("decode %q = %q %v", c.utf7, got, err)
		}
	}
	if got, _ := Decode("Entw&-ü"); got != "Entw&ü" {
		t.Errorf("escaped UTF-8: %q", got)
	}
	for _, bad := range []string{"&", "&Jjo", "&AGE-", "&Jjo!-"} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("decode %q succeeded", bad)
		}
	}
}

// FuzzRoundTrip: every UTF-8 name survives Encode then Decode, and Decode
// takes any input without panicking.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"INBOX", "A&B", "Entwürfe", "&ZeVnLIqe-", "&", "Été/2024"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		Decode(s)
		if !utf8.ValidString(s) {
			return
		}
		if got, err := Decode(Encode(s)); err != nil || got != s {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", s, got, err)
		}
	})
}
