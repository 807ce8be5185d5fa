package store

import (
	"context"
	"time"
)

// NewAccount is one account of an AddAccounts batch.
type NewAccount struct {
	Address     string
	Credentials Credentials
	// QuotaBytes is the storage limit; 0 means unlimited.
	QuotaBytes int64
}

// AccountImport creates many accounts at once: a bulk import.
type AccountImport interface {
	// AddAccounts creates every account of the batch, each with the
	// default mailboxes, in one transaction: all of them or, on the
	// first error (ErrNotFound for a domain that is not local,
	// ErrExists for an address taken by an account or alias, ErrInvalid),
	// none. The error then wraps *BatchError naming the entry.
	AddAccounts(ctx context.Context, accounts []NewAccount) ([]Account, error)
}

// BatchError says which entry of a batch failed; Err is the cause
// (errors.Is sees through it).
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return e.Err.Error() }

func (e *BatchError) Unwrap() error { return e.Err }

// LastLogin is when an account last logged in with one protocol.
type LastLogin struct {
	AccountID int64
	// Protocol is imap, pop3, smtp (submission), jmap, webmail or
	// managesieve.
	Protocol string
	At       time.Time
}

// LastLogins keeps each account's time of last successful login per
// protocol. Rows go with their account.
type LastLogins interface {
	// RecordLogins stores the logins of a batch in one transaction; a
	// time never moves back (an older one than stored is ignored), and
	// an account deleted since is skipped.
	RecordLogins(ctx context.Context, logins []LastLogin) error
	// LastLogins returns the last logins of the accounts by account id
	// and protocol; domain "" is every domain.
	LastLogins(ctx context.Context, domain string) (map[int64]map[string]time.Time, error)
	// AccountLastLogins returns one account's last logins by protocol
	// (empty when never).
	AccountLastLogins(ctx context.Context, accountID int64) (map[string]time.Time, error)
}
