// Package auth checks passwords for every protocol: argon2id hashes, SCRAM-SHA-256
// keys derived at the same time, and a login throttle shared by SMTP, IMAP and
// POP3 so that a guesser gains nothing by switching protocols.
//
// What it owns:
//   - password.go: HashPassword (store.Credentials from a password),
//     CheckPassword, ValidatePassword, GeneratePassword.
//   - scram.go: SCRAM-SHA-256 keys (RFC 5802, RFC 7677) in the RFC 5803
//     encoding, and their conversion for github.com/xdg-go/scram.
//   - plain.go: decoding of SASL PLAIN responses (RFC 4616).
//   - service.go: Service, the Authenticator: account lookup, equal work for
//     unknown users, a semaphore around argon2id, logging, and the
//     SCRAM-SHA-256 lookup and result hooks.
//   - throttle.go: failed logins per source network and per account name in
//     a sliding window, in bounded memory.
//   - principal.go: LoginPrincipal, the same checks and throttle for a
//     second kind of principal than mail accounts (administrators of the
//     admin API), its names counted apart from account names.
//   - apppass.go: app passwords (generated, named, revocable), accepted by
//     Login and SCRAM beside the account password.
//   - saslscram.go: SCRAMServer, a SCRAM-SHA-256[-PLUS] exchange in the
//     shape of a go-sasl server, with tls-exporter (RFC 9266) and
//     tls-server-end-point (RFC 5929) channel binding.
//
// Nothing here keeps state outside a Service, so two servers can run in one
// process.
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
