package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDecodePlain(t *testing.T) {
	tests := []struct {
		name              string
		in                string
		authz, user, pass string
		wantErr           error
	}{
		{"no authzid", b64("\x00alice@example.org\x00secret pw"), "", "alice@example.org", "secret pw", nil},
		{"same authzid", b64("alice@example.org\x00alice@example.org\x00pw"), "alice@example.org", "alice@example.org", "pw", nil},
		{"authzid other case", b64("Alice@Example.org\x00alice@example.org\x00pw"), "Alice@Example.org", "alice@example.org", "pw", nil},
		{"unpadded", base64.RawStdEncoding.EncodeToString([]byte("\x00bob\x00pw1")), "", "bob", "pw1", nil},
		{"unicode", b64("\x00jörg\x00pässwörd"), "", "jörg", "pässwörd", nil},
		{"other authzid", b64("admin@example.org\x00alice@example.org\x00pw"), "", "", "", ErrAuthzid},
		{"one NUL", b64("alice\x00pw"), "", "", "", ErrBadPlain},
		{"no NUL", b64("alicepw"), "", "", "", ErrBadPlain},
		{"three NULs", b64("\x00alice\x00pw\x00x"), "", "", "", ErrBadPlain},
		{"empty user", b64("\x00\x00pw"), "", "", "", ErrBadPlain},
		{"empty password", b64("\x00alice\x00"), "", "", "", ErrBadPlain},
		{"empty", "", "", "", "", ErrBadPlain},
		{"not base64", "!!!!", "", "", "", ErrBadPlain},
		{"bad UTF-8", b64("\x00alice\x00pw\xff"), "", "", "", ErrBadPlain},
		{"too long", b64("\x00alice\x00" + strings.Repeat("p", 4000)), "", "", "", ErrBadPlain},
		{"embedded newline in base64", b64("\x00alice\x00pw")[:4] + "\r\n" + b64("\x00alice\x00pw")[4:], "", "", "", ErrBadPlain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			authz, user, pass, err := DecodePlain(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if user != "" || pass != "" {
					t.Fatalf("error case returned %q/%q", user, pass)
				}
				return
			}
			if err != nil || authz != tt.authz || user != tt.user || pass != tt.pass {
				t.Fatalf("got %q %q %q %v, want %q %q %q", authz, user, pass, err, tt.authz, tt.user, tt.pass)
			}
		})
	}
}
