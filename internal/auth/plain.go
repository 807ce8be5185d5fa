package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"
)

// maxPlainB64 bounds a SASL PLAIN response: two identities of at most 320
// bytes (an address) and a password of at most 1024, base64-encoded, with
// room to spare. RFC 4616 §2 only requires servers to take 255 octets each.
const maxPlainB64 = 4096

// ErrBadPlain means a SASL PLAIN response is malformed; protocol servers
// answer it with a syntax error, not an authentication failure.
var ErrBadPlain = errors.New("malformed SASL PLAIN response")

// ErrAuthzid means a SASL PLAIN response asks to act as another identity
// than the one authenticating; protocol servers answer it like a failed
// login.
var ErrAuthzid = errors.New("authorization identity differs from authentication identity")

// DecodePlain decodes a base64 SASL PLAIN response (RFC 4616 §2):
// [authzid] NUL authcid NUL passwd. The authcid and password must not be
// empty and no field may hold a NUL; an authzid other than empty or the
// authcid itself is refused, since no account may act as another.
func DecodePlain(b64 string) (authzid, user, pass string, err error) {
	if len(b64) > maxPlainB64 {
		return "", "", "", ErrBadPlain
	}
	raw, err := decodeB64(base64.StdEncoding, b64)
	if err != nil {
		// Some clients leave out the padding.
		if raw, err = decodeB64(base64.RawStdEncoding, b64); err != nil {
			return "", "", "", ErrBadPlain
		}
	}
	// Exactly two NULs: SplitN with 3 keeps a third NUL inside the password,
	// which we then refuse.
	fields := bytes.SplitN(raw, []byte{0}, 3)
	if len(fields) != 3 || bytes.IndexByte(fields[2], 0) >= 0 {
		return "", "", "", ErrBadPlain
	}
	authzid, user, pass = string(fields[0]), string(fields[1]), string(fields[2])
	if user == "" || pass == "" {
		return "", "", "", ErrBadPlain
	}
	// RFC 4616 §2: the fields are UTF-8.
	if !utf8.ValidString(authzid) || !utf8.ValidString(user) || !utf8.ValidString(pass) {
		return "", "", "", ErrBadPlain
	}
	if authzid != "" && !strings.EqualFold(authzid, user) {
		return "", "", "", ErrAuthzid
	}
	return authzid, user, pass, nil
}
