package store

import "context"

// MetadataEntry is one annotation (RFC 5464): a name such as
// "/private/comment" and its value; a nil Value in SetMetadata removes it.
type MetadataEntry struct {
	Name  string
	Value []byte
}

// MetadataStore keeps the IMAP METADATA of an account: of each mailbox
// (its id) and of the server as the account sees it (mailbox 0). It stores
// what it is given: names and sizes are checked by the protocol.
type MetadataStore interface {
	// Metadata returns the mailbox's entries named by names, and with
	// depth 1 their children one level down, with depth -1 all their
	// descendants; sorted by name.
	Metadata(ctx context.Context, accountID, mailboxID int64, names []string, depth int) ([]MetadataEntry, error)
	// SetMetadata writes the entries (nil Value removes) in one
	// transaction; ErrLimit when the mailbox would hold more than
	// maxEntries entries.
	SetMetadata(ctx context.Context, accountID, mailboxID int64, entries []MetadataEntry, maxEntries int) error
}
