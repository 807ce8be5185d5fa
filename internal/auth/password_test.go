package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestHashCheckRoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse battery", "pässwörd-ünicode", strings.Repeat("x", maxPasswordBytes)} {
		cred, err := HashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(cred.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("unexpected PHC string %q", cred.PasswordHash)
		}
		if strings.Contains(cred.PasswordHash, pw) || strings.Contains(cred.SCRAMSHA256, pw) {
			t.Fatal("credentials contain the password")
		}
		ok, err := CheckPassword(cred.PasswordHash, pw)
		if err != nil || !ok {
			t.Fatalf("CheckPassword(right) = %v, %v", ok, err)
		}
		ok, err = CheckPassword(cred.PasswordHash, pw+"x")
		if err != nil || ok {
			t.Fatalf("CheckPassword(wrong) = %v, %v", ok, err)
		}
		if NeedsRehash(cred.PasswordHash) {
			t.Fatal("fresh hash needs rehash")
		}
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	a, _ := HashPassword("same password")
	b, _ := HashPassword("same password")
	if a.PasswordHash == b.PasswordHash || a.SCRAMSHA256 == b.SCRAMSHA256 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestCheckPasswordOtherParameters(t *testing.T) {
	// A hash made with cheaper parameters still verifies (parameters are
	// read from the string) and is flagged for rehashing.
	p := argonParams{memory: 64, time: 1, threads: 1, salt: []byte("0123456789abcdef")}
	p.key = idKey("pw", p)
	h := p.String()
	ok, err := CheckPassword(h, "pw")
	if err != nil || !ok {
		t.Fatalf("CheckPassword = %v, %v", ok, err)
	}
	if !NeedsRehash(h) {
		t.Fatal("cheap hash not flagged for rehash")
	}
}

func TestCheckPasswordBadHashes(t *testing.T) {
	good, _ := HashPassword("pw")
	parts := strings.Split(good.PasswordHash, "$")
	bad := []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4194304,t=2,p=1$" + parts[4] + "$" + parts[5], // 4 GiB
		"$argon2id$v=19$m=19456,t=1000,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=19456,t=0,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$t=2,m=19456,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=019456,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=19456,t=2,p=1$$" + parts[5],
		"$argon2id$v=19$m=19456,t=2,p=1$" + parts[4] + "$",
		"$argon2id$v=19$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5] + "$",
		"$argon2id$v=19$m=19456,t=2,p=1$" + parts[4] + "=$" + parts[5],
		good.PasswordHash + strings.Repeat("A", maxPHCLen),
	}
	for _, h := range bad {
		ok, err := CheckPassword(h, "pw")
		if ok || !errors.Is(err, ErrBadHash) {
			t.Errorf("CheckPassword(%q) = %v, %v; want ErrBadHash", h, ok, err)
		}
		if !NeedsRehash(h) {
			t.Errorf("NeedsRehash(%q) = false", h)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		pw      string
		wantErr string
	}{
		{"abcdefgh", ""},
		{"äöüßéèêë", ""}, // 8 characters, 16 bytes
		{"abcdefg", "too short: 7 characters, at least 8"},
		{"äöüßéèê", "too short: 7 characters"},
		{"", "too short"},
		{strings.Repeat("a", 1024), ""},
		{strings.Repeat("a", 1025), "too long"},
		{"abcd\x00efgh", "NUL"},
		{"abcdefgh\r", "carriage return"},
		{"abcd\nefgh", "line feed"},
		{"abcdefg\xff", "UTF-8"},
	}
	for _, tt := range tests {
		err := ValidatePassword(tt.pw)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidatePassword(%q) = %v, want nil", tt.pw, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ValidatePassword(%q) = %v, want %q", tt.pw, err, tt.wantErr)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 200 {
		pw := GeneratePassword()
		if err := ValidatePassword(pw); err != nil {
			t.Fatalf("generated %q: %v", pw, err)
		}
		groups := strings.Split(pw, "-")
		if len(groups) != 4 {
			t.Fatalf("generated %q: want 4 groups", pw)
		}
		for _, g := range groups {
			if len(g) != 5 {
				t.Fatalf("generated %q: group %q not 5 long", pw, g)
			}
			for _, r := range g {
				if !strings.ContainsRune(generatedAlphabet, r) {
					t.Fatalf("generated %q: %q outside alphabet", pw, r)
				}
				counts[r]++
			}
		}
		if seen[pw] {
			t.Fatalf("generated %q twice", pw)
		}
		seen[pw] = true
	}
	// 4000 draws: every one of the 31 characters must appear.
	if len(counts) != len(generatedAlphabet) {
		t.Fatalf("only %d of %d characters ever generated", len(counts), len(generatedAlphabet))
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("benchmark password"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckPassword(b *testing.B) {
	cred, _ := HashPassword("benchmark password")
	for b.Loop() {
		if ok, _ := CheckPassword(cred.PasswordHash, "benchmark password"); !ok {
			b.Fatal("no match")
		}
	}
}
