package store

import (
	"context"
	"time"
)

// AppendItem is one message of an atomic multi-message append.
type AppendItem struct {
	Blob         NewBlob
	Target       DeliveryTarget
	InternalDate time.Time
}

// MultiAppender stores several messages in one mailbox atomically: IMAP
// MULTIAPPEND (RFC 3502 §6.3.11) must add all of them or none.
type MultiAppender interface {
	// AppendMany appends the items in order, in one transaction. On any
	// failure (over quota, mailbox gone) nothing is stored and the error
	// is that of the first item that failed. Like Append it owns the
	// blobs: those not stored are removed. Results are in item order.
	AppendMany(ctx context.Context, mailboxID int64, items []AppendItem) ([]Message, error)
}
