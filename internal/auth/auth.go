// Package auth checks passwords for every protocol: argon2id hashes, SCRAM-SHA-256
// keys derived at the same time, and a login throttle shared by SMTP, IMAP and
// POP3 so that a guesser gains nothing by switching protocols.
package auth

import (
	"context"
	"errors"
	"net/netip"

	"postern/internal/store"
)

// Errors of Login. Protocol servers map both to their "authentication failed"
// reply; ErrThrottled may add a "try later" hint but must not reveal whether
// the account exists.
var (
	ErrFailed    = errors.New("authentication failed")
	ErrThrottled = errors.New("too many failed logins, try later")
)

// Authenticator is what protocol servers need from this package.
type Authenticator interface {
	// Login checks username (an account address, case-insensitive) and
	// password and returns the account. Unknown users, wrong passwords and
	// disabled accounts all give ErrFailed after the same work.
	Login(ctx context.Context, remote netip.Addr, username, password string) (store.Account, error)
}
