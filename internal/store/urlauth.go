package store

import "context"

// URLAuthStore keeps the per-mailbox secrets of IMAP URLAUTH (RFC 4467
// §7): a URL's verifier is a MAC of the URL under its mailbox's secret, so
// deleting the secret (RESETKEY) revokes every URL made with it. A secret
// goes with its mailbox.
type URLAuthStore interface {
	// URLAuthKey returns the secret of the account's mailbox. When there
	// is none, it stores fresh (durably, before returning it) and returns
	// it; with fresh nil it returns ErrNotFound instead. ErrNotFound too
	// when the mailbox is not the account's.
	URLAuthKey(ctx context.Context, accountID, mailboxID int64, fresh []byte) ([]byte, error)
	// ResetURLAuthKeys deletes the secret of one mailbox, or of all the
	// account's mailboxes when mailboxID is 0.
	ResetURLAuthKeys(ctx context.Context, accountID, mailboxID int64) error
}
