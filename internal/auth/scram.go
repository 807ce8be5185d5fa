package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xdg-go/scram"
	"github.com/xdg-go/stringprep"
)

// SCRAM-SHA-256 parameters of new keys. RFC 7677 §4 asks for at least 4096
// iterations; we take four times that, which costs a client a few
// milliseconds once per login. The count is stored with the keys.
const (
	scramIterations    = 16384
	scramSaltLen       = 16
	minSCRAMIterations = 4096
	maxSCRAMIterations = 10_000_000
	minSCRAMSaltLen    = 8
	maxSCRAMSaltLen    = 64
	maxSCRAMLen        = 512
	scramPrefix        = "SCRAM-SHA-256$"
)

// ErrBadSCRAM means a stored SCRAM string is not in our encoding.
var ErrBadSCRAM = errors.New("auth: malformed SCRAM keys")

// SCRAMKeys are what a server keeps for SCRAM-SHA-256 (RFC 5802 §3): the salt
// and iteration count the client needs to derive its keys, StoredKey to check
// the client's proof and ServerKey to prove itself back.
type SCRAMKeys struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
}

// NewSCRAMKeys derives SCRAM-SHA-256 keys for password with a new random
// salt.
func NewSCRAMKeys(password string) (SCRAMKeys, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return SCRAMKeys{}, fmt.Errorf("auth: reading random salt: %w", err)
	}
	return deriveSCRAM(password, salt, scramIterations)
}

// deriveSCRAM computes, per RFC 5802 §3:
//
//	SaltedPassword = Hi(Normalize(password), salt, i)   (Hi is PBKDF2)
//	ClientKey      = HMAC(SaltedPassword, "Client Key")
//	StoredKey      = H(ClientKey)
//	ServerKey      = HMAC(SaltedPassword, "Server Key")
func deriveSCRAM(password string, salt []byte, iters int) (SCRAMKeys, error) {
	salted, err := pbkdf2.Key(sha256.New, normalizeSCRAMPassword(password), salt, iters, sha256.Size)
	if err != nil {
		return SCRAMKeys{}, fmt.Errorf("auth: deriving SCRAM keys: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return SCRAMKeys{
		Iterations: iters,
		Salt:       salt,
		StoredKey:  stored[:],
		ServerKey:  hmacSHA256(salted, "Server Key"),
	}, nil
}

// normalizeSCRAMPassword applies SASLprep (RFC 5802 §2.2, RFC 4013), as
// clients do before deriving their keys. A password SASLprep refuses (an
// unassigned code point such as an emoji) is used as it is, which is what
// clients that skip normalisation send; clients that insist on SASLprep
// could not log in with it by SCRAM anyway.
func normalizeSCRAMPassword(password string) string {
	if p, err := stringprep.SASLprep.Prepare(password); err == nil {
		return p
	}
	return password
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// String encodes the keys as
// SCRAM-SHA-256$<iterations>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>,
// the authPassword layout of RFC 5803 §3, so keys can be exported to LDAP.
func (k SCRAMKeys) String() string {
	enc := base64.StdEncoding
	return scramPrefix + strconv.Itoa(k.Iterations) + ":" + enc.EncodeToString(k.Salt) +
		"$" + enc.EncodeToString(k.StoredKey) + ":" + enc.EncodeToString(k.ServerKey)
}

// Credentials returns the keys in the form a scram.Server's CredentialLookup
// returns.
func (k SCRAMKeys) Credentials() scram.StoredCredentials {
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(k.Salt), Iters: k.Iterations},
		StoredKey:  k.StoredKey,
		ServerKey:  k.ServerKey,
	}
}

// ParseSCRAM decodes what String encoded, within limits: at least 4096
// iterations (RFC 7677 §4), SHA-256 sized keys.
func ParseSCRAM(s string) (SCRAMKeys, error) {
	var k SCRAMKeys
	if len(s) > maxSCRAMLen {
		return k, ErrBadSCRAM
	}
	rest, ok := strings.CutPrefix(s, scramPrefix)
	if !ok {
		return k, ErrBadSCRAM
	}
	factors, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return k, ErrBadSCRAM
	}
	iters, salt, ok1 := strings.Cut(factors, ":")
	stored, server, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 || iters == "" || iters[0] == '0' {
		return k, ErrBadSCRAM
	}
	n, err := strconv.Atoi(iters)
	if err != nil || n < minSCRAMIterations || n > maxSCRAMIterations {
		return k, fmt.Errorf("%w: bad iteration count", ErrBadSCRAM)
	}
	k.Iterations = n
	if k.Salt, err = decodeB64(base64.StdEncoding, salt); err != nil ||
		len(k.Salt) < minSCRAMSaltLen || len(k.Salt) > maxSCRAMSaltLen {
		return k, fmt.Errorf("%w: bad salt", ErrBadSCRAM)
	}
	if k.StoredKey, err = decodeB64(base64.StdEncoding, stored); err != nil || len(k.StoredKey) != sha256.Size {
		return k, fmt.Errorf("%w: bad StoredKey", ErrBadSCRAM)
	}
	if k.ServerKey, err = decodeB64(base64.StdEncoding, server); err != nil || len(k.ServerKey) != sha256.Size {
		return k, fmt.Errorf("%w: bad ServerKey", ErrBadSCRAM)
	}
	return k, nil
}
