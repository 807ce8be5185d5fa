package store

import (
	"context"
	"time"
)

// AccessToken is a bearer token of the HTTP API (JMAP, the webmail): a
// client that logged in once with a password presents it instead. The
// token itself is never stored, only its SHA-256 digest.
type AccessToken struct {
	ID        int64
	AccountID int64
	// Hash is the SHA-256 digest of the token (32 bytes).
	Hash      []byte
	CreatedAt time.Time
	// ExpiresAt moves forward on use (an idle timeout): the token is
	// refused from then on.
	ExpiresAt time.Time
	// LastUsed is the time of the last request with it (zero: never).
	LastUsed time.Time
}

// AccessTokens is the storage of bearer tokens. Every method is atomic on
// its own. Directory.SetCredentials and Directory.SetDisabled(true) delete
// the account's tokens in their transaction, and DeleteAccount deletes them
// with the account: a changed password or a disabled account leaves no
// token that works.
type AccessTokens interface {
	// AddAccessToken stores t (AccountID, Hash, ExpiresAt) and returns it
	// with ID and CreatedAt; ErrNotFound when there is no such account.
	// It also drops the account's tokens that have expired.
	AddAccessToken(ctx context.Context, t AccessToken) (AccessToken, error)
	// AccessToken returns the token with this digest and its account;
	// ErrNotFound when there is none. Expiry is the caller's to check.
	AccessToken(ctx context.Context, hash []byte) (AccessToken, Account, error)
	// TouchAccessToken records a use at and moves the expiry to expires;
	// a token deleted meanwhile is not an error.
	TouchAccessToken(ctx context.Context, id int64, at, expires time.Time) error
	// DeleteAccessToken revokes the token with this digest; ErrNotFound
	// when there is none.
	DeleteAccessToken(ctx context.Context, hash []byte) error
	// DeleteAccessTokens revokes every token of an account and returns how
	// many there were.
	DeleteAccessTokens(ctx context.Context, accountID int64) (int, error)
}
