package store

import "context"

// WebmailPrefs are an account's webmail preferences.
type WebmailPrefs struct {
	// Lang is the interface language ("en", "zh-CN"); "" means the
	// browser's choice.
	Lang string
	// TrustedSenders are the addresses (lower-case) whose HTML mail loads
	// remote images without asking, sorted.
	TrustedSenders []string
}

// MaxTrustedSenders bounds an account's trusted senders, so a script
// cannot grow the table without end.
const MaxTrustedSenders = 1000

// WebmailStore keeps the webmail's settings: each account's preferences,
// and the server's secrets (the key of the CSRF tokens). Every method is
// atomic on its own; an account's rows go with the account.
type WebmailStore interface {
	// WebmailPrefs returns the account's preferences (zero when never
	// set); ErrNotFound when there is no such account.
	WebmailPrefs(ctx context.Context, accountID int64) (WebmailPrefs, error)
	// SetWebmailLang sets the language; ErrNotFound for no such account.
	SetWebmailLang(ctx context.Context, accountID int64, lang string) error
	// TrustSender adds addr (lower-cased) to the trusted senders; adding
	// one already there is no error; ErrInvalid past MaxTrustedSenders or
	// for an empty address; ErrNotFound for no such account.
	TrustSender(ctx context.Context, accountID int64, addr string) error
	// UntrustSender removes addr; removing one not there is no error.
	UntrustSender(ctx context.Context, accountID int64, addr string) error
	// SenderTrusted reports whether addr is a trusted sender of the
	// account.
	SenderTrusted(ctx context.Context, accountID int64, addr string) (bool, error)
	// ServerSecret returns the secret called name, made of size random
	// bytes on the first call; every later call, from any process sharing
	// the store, returns the same bytes.
	ServerSecret(ctx context.Context, name string, size int) ([]byte, error)
}
