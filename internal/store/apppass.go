package store

import (
	"context"
	"time"
)

// AppPassword is a named, revocable password of an account (issue #4): a
// login with it is a login as the account, on every protocol. The secret
// itself is never stored; Hash and SCRAMSHA256 are what auth checks.
type AppPassword struct {
	ID        int64
	AccountID int64
	Name      string
	// Hash is auth's digest of the generated password.
	Hash string
	// SCRAMSHA256 holds SCRAM-SHA-256 keys derived with the account's
	// salt and iteration count (RFC 5803 encoding), or "".
	SCRAMSHA256 string
	CreatedAt   time.Time
	// LastUsed is the time of the last login with it (zero: never).
	LastUsed time.Time
}

// AppPasswords is the storage of app passwords. Names are unique per
// account; every method is atomic on its own.
type AppPasswords interface {
	// AddAppPassword stores p for p.AccountID; ErrExists when the account
	// already has one of that name, ErrNotFound when there is no such
	// account.
	AddAppPassword(ctx context.Context, p AppPassword) (AppPassword, error)
	// AppPasswords lists an account's app passwords by name.
	AppPasswords(ctx context.Context, accountID int64) ([]AppPassword, error)
	// DeleteAppPassword revokes one; ErrNotFound when there is none.
	DeleteAppPassword(ctx context.Context, accountID int64, name string) error
	// TouchAppPassword records a successful login with app password id.
	TouchAppPassword(ctx context.Context, id int64, at time.Time) error
}
