package store

import (
	"context"
	"time"
)

// UploadTTL is how long an upload (RFC 8620 §6.1) stays when no message
// uses its body: a client uploads, then imports or attaches within a day.
const UploadTTL = 24 * time.Hour

// Upload is a body a JMAP client uploaded, recorded for its account.
type Upload struct {
	AccountID int64
	BlobID    int64
	Type      string
	Size      int64
	Created   time.Time
}

// Uploads keeps the bodies JMAP clients upload and tells which messages
// of an account use a body.
type Uploads interface {
	// PutUpload stores body (handed over, as to Deliver) as an upload of
	// the account with its media type. Until UploadTTL has passed, the
	// body is not collected even though no message references it; after
	// that it goes the way of any body nothing references.
	PutUpload(ctx context.Context, accountID int64, contentType string, body Body) (Upload, error)
	// Upload returns the account's upload of the body blobID;
	// ErrNotFound when there is none, or it is older than UploadTTL.
	Upload(ctx context.Context, accountID, blobID int64) (Upload, error)
	// MessagesByBlob returns the account's messages whose body is one of
	// blobIDs, without envelope, body structure and preview, in id order.
	MessagesByBlob(ctx context.Context, accountID int64, blobIDs []int64) ([]Message, error)
}
