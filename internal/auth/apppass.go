package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"postern/internal/store"
)

// App passwords are generated here, never chosen: 24 characters of a
// 31-letter alphabet carry 118 bits of entropy, so a stored SHA-256 digest
// is as safe as an argon2id hash would be and costs nothing to check. A
// login then still spends exactly one argon2id computation, whether the
// account has app passwords or not, which keeps the equal-timing rule.
const (
	appPasswordLen  = 24
	appHashPrefix   = "sha256$"
	appPasswordSize = appPasswordLen + appPasswordLen/6 - 1
)

// NewAppPassword generates an app password for acct and returns it (to show
// once) with the store record to keep (Name and AccountID set). The SCRAM
// keys use the account's salt and iteration count, so that one SCRAM
// exchange can try every app password (RFC 5802 §5.1 sends one salt before
// the server knows which password the client holds); an account without
// SCRAM keys gets app passwords usable with PLAIN and LOGIN only.
func NewAppPassword(acct store.Account, name string) (string, store.AppPassword, error) {
	var b strings.Builder
	for i := range appPasswordLen {
		if i > 0 && i%6 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(generatedAlphabet[randIndex(len(generatedAlphabet))])
	}
	secret := b.String()
	p := store.AppPassword{AccountID: acct.ID, Name: name, Hash: appPasswordHash(secret)}
	if acct.SCRAMSHA256 != "" {
		k, err := ParseSCRAM(acct.SCRAMSHA256)
		if err == nil {
			keys, err := deriveSCRAM(secret, k.Salt, k.Iterations)
			if err != nil {
				return "", p, err
			}
			p.SCRAMSHA256 = keys.String()
		}
	}
	return secret, p, nil
}

func appPasswordHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return appHashPrefix + hex.EncodeToString(sum[:])
}

// matchAppPassword returns the app password whose digest is that of
// password, or nil. It compares against every one in constant time, so the
// time taken depends only on how many the account has.
func matchAppPassword(apps []store.AppPassword, password string) *store.AppPassword {
	if len(password) != appPasswordSize {
		// Still hash, so a wrong length costs what a wrong password does.
		password = ""
	}
	h := []byte(appPasswordHash(password))
	var found *store.AppPassword
	for i := range apps {
		if subtle.ConstantTimeCompare(h, []byte(apps[i].Hash)) == 1 && password != "" {
			found = &apps[i]
		}
	}
	return found
}
