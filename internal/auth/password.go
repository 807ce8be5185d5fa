package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"postern/internal/store"
)

// Argon2id cost of new hashes. OWASP's password storage cheat sheet suggests
// m=19 MiB, t=2, p=1 as a minimum; the parameters travel inside every PHC
// string, so raising them later only affects new hashes (see NeedsRehash).
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Limits on stored hashes, so that a corrupted or hostile database row cannot
// make one verification allocate gigabytes or spin for minutes.
const (
	maxPHCLen        = 512
	maxArgonMemory   = 1 << 20 // KiB, 1 GiB
	maxArgonTime     = 64
	maxArgonThreads  = 64
	minArgonSaltLen  = 8
	maxArgonSaltLen  = 64
	minArgonKeyLen   = 16
	maxArgonKeyLen   = 128
	maxPasswordBytes = 1024
	minPasswordChars = 8
)

// ErrBadHash means a stored hash is not a PHC argon2id string we can verify.
var ErrBadHash = errors.New("auth: malformed password hash")

// argonParams are the parameters and outputs of one argon2id PHC string.
type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// phcEncoding is the PHC string format's base64: standard alphabet, no padding.
var phcEncoding = base64.RawStdEncoding

// HashPassword derives everything the store keeps of a password: an argon2id
// PHC string for plain logins and SCRAM-SHA-256 keys for SCRAM logins, each
// with its own random salt.
func HashPassword(password string) (store.Credentials, error) {
	return hashPassword(password, "")
}

// ChangePassword is HashPassword for an account that has credentials
// already: the SCRAM keys keep the account's salt and iteration count, so
// that its app passwords, whose SCRAM keys were derived with them, keep
// working with SCRAM after the change. oldSCRAM is the account's current
// SCRAM string; an unreadable one gets a new salt.
func ChangePassword(password, oldSCRAM string) (store.Credentials, error) {
	return hashPassword(password, oldSCRAM)
}

func hashPassword(password, oldSCRAM string) (store.Credentials, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return store.Credentials{}, fmt.Errorf("auth: reading random salt: %w", err)
	}
	p := argonParams{
		memory:  argonMemoryKiB,
		time:    argonTime,
		threads: argonThreads,
		salt:    salt,
	}
	p.key = idKey(password, p)
	var keys SCRAMKeys
	var err error
	if old, perr := ParseSCRAM(oldSCRAM); oldSCRAM != "" && perr == nil {
		keys, err = deriveSCRAM(password, old.Salt, old.Iterations)
	} else {
		keys, err = NewSCRAMKeys(password)
	}
	if err != nil {
		return store.Credentials{}, err
	}
	return store.Credentials{PasswordHash: p.String(), SCRAMSHA256: keys.String()}, nil
}

// String encodes p as a PHC string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>.
func (p argonParams) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads,
		phcEncoding.EncodeToString(p.salt), phcEncoding.EncodeToString(p.key))
}

// decodeB64 decodes strictly. encoding/base64 skips CR and LF even in
// strict mode, which would let two different strings decode alike.
func decodeB64(enc *base64.Encoding, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	return enc.Strict().DecodeString(s)
}

// CheckPassword reports whether password matches the PHC hash. The final
// comparison is constant-time; an error means the hash itself is unusable.
func CheckPassword(hash, password string) (bool, error) {
	p, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// NeedsRehash reports whether hash was made with other parameters than new
// hashes get, so a caller that just verified the password can store a fresh
// hash.
func NeedsRehash(hash string) bool {
	p, err := parsePHC(hash)
	if err != nil {
		return true
	}
	return p.memory != argonMemoryKiB || p.time != argonTime ||
		p.threads != argonThreads || len(p.key) != argonKeyLen
}

// parsePHC reads an argon2id PHC string strictly: only the form String
// writes, parameters in the order m, t, p.
func parsePHC(s string) (argonParams, error) {
	var p argonParams
	if len(s) > maxPHCLen {
		return p, ErrBadHash
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, ErrBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("%w: unsupported argon2 version", ErrBadHash)
	}
	m, t, par, err := parseArgonCost(parts[3])
	if err != nil {
		return p, err
	}
	p.memory, p.time, p.threads = uint32(m), uint32(t), uint8(par)
	if p.salt, err = decodeB64(phcEncoding, parts[4]); err != nil ||
		len(p.salt) < minArgonSaltLen || len(p.salt) > maxArgonSaltLen {
		return p, fmt.Errorf("%w: bad salt", ErrBadHash)
	}
	if p.key, err = decodeB64(phcEncoding, parts[5]); err != nil ||
		len(p.key) < minArgonKeyLen || len(p.key) > maxArgonKeyLen {
		return p, fmt.Errorf("%w: bad key", ErrBadHash)
	}
	return p, nil
}

// parseArgonCost reads "m=<KiB>,t=<passes>,p=<lanes>" within our limits.
// Argon2 needs at least 8 KiB of memory per lane.
func parseArgonCost(s string) (m, t, p uint64, err error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, fmt.Errorf("%w: bad parameters", ErrBadHash)
	}
	vals := make([]uint64, 3)
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(fields[i], name)
		if !ok || v == "" || v[0] == '0' {
			return 0, 0, 0, fmt.Errorf("%w: bad parameters", ErrBadHash)
		}
		if vals[i], err = strconv.ParseUint(v, 10, 32); err != nil {
			return 0, 0, 0, fmt.Errorf("%w: bad parameters", ErrBadHash)
		}
	}
	m, t, p = vals[0], vals[1], vals[2]
	if m > maxArgonMemory || t > maxArgonTime || p > maxArgonThreads || m < 8*p {
		return 0, 0, 0, fmt.Errorf("%w: parameters out of range", ErrBadHash)
	}
	return m, t, p, nil
}

// ValidatePassword checks a new password chosen by a person. Its messages
// are meant to be shown to that person.
func ValidatePassword(pw string) error {
	if !utf8.ValidString(pw) {
		return errors.New("password is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(pw); n < minPasswordChars {
		return fmt.Errorf("password is too short: %d characters, at least %d needed", n, minPasswordChars)
	}
	if len(pw) > maxPasswordBytes {
		return fmt.Errorf("password is too long: at most %d bytes", maxPasswordBytes)
	}
	// A NUL cannot pass through SASL PLAIN (RFC 4616 §2), and CR or LF
	// cannot pass through any line-based protocol's LOGIN or USER/PASS.
	if strings.ContainsAny(pw, "\x00\r\n") {
		return errors.New("password must not contain NUL, carriage return or line feed")
	}
	return nil
}

// generatedAlphabet leaves out letters and digits that look alike
// (0/o, 1/l/i) and upper case, so a generated password can be read aloud and
// typed on a phone.
const generatedAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// GeneratePassword returns a new random password of four groups of five
// characters separated by dashes: 20 characters from a 31-letter alphabet,
// about 99 bits of entropy.
func GeneratePassword() string {
	var b strings.Builder
	for i := range 20 {
		if i > 0 && i%5 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(generatedAlphabet[randIndex(len(generatedAlphabet))])
	}
	return b.String()
}

// randIndex returns a uniform random number in [0, n) for n <= 256, by
// rejection sampling so that no character is more likely than another.
func randIndex(n int) int {
	limit := 256 - 256%n
	var buf [1]byte
	for {
		// crypto/rand.Read never returns an error (it crashes the program
		// if the kernel cannot supply randomness).
		_, _ = rand.Read(buf[:])
		if int(buf[0]) < limit {
			return int(buf[0]) % n
		}
	}
}

// idKey computes the argon2id key of password with p's parameters.
func idKey(password string, p argonParams) []byte {
	return argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, argonKeyLen)
}
