package sqlstore

import (
	"context"
	"time"

	"postern/internal/store"
)

// Uploads. An upload is a body like any other (a blobs row with its
// location) plus an uploads row naming its account and type. The row is
// what keeps the purge off the body while no message references it;
// expireUploads drops rows older than store.UploadTTL, after which the
// body is collected like any body nothing references.

// PutUpload implements store.Uploads.
func (s *Store) PutUpload(ctx context.Context, accountID int64, contentType string, body store.Body) (store.Upload, error) {
	if body == nil {
		return store.Upload{}, invalid("upload without a body")
	}
	loc, err := s.putBody(body)
	if err != nil {
		return store.Upload{}, err
	}
	created := time.Unix(now(), 0)
	up := store.Upload{AccountID: accountID, Type: contentType, Size: loc.Size, Created: created}
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE id = ?`, accountID).Scan(&one); err != nil {
			return notFound(err)
		}
		id, err := insertBlob(ctx, tx, e, loc, nil)
		if err != nil {
			return err
		}
		up.BlobID = id
		_, err = tx.ExecContext(ctx, `INSERT INTO uploads (blob_id, account_id, content_type, created_at) VALUES (?, ?, ?, ?)`,
			id, accountID, contentType, created.Unix())
		return err
	})
	if err != nil {
		s.dropLoc(loc)
		return store.Upload{}, err
	}
	return up, nil
}

// Upload implements store.Uploads.
func (s *Store) Upload(ctx context.Context, accountID, blobID int64) (store.Upload, error) {
	up := store.Upload{AccountID: accountID, BlobID: blobID}
	var created int64
	err := s.rdb.QueryRowContext(ctx, `SELECT u.content_type, u.created_at, b.size FROM uploads u JOIN blobs b ON b.id = u.blob_id
		WHERE u.blob_id = ? AND u.account_id = ? AND u.created_at > ?`,
		blobID, accountID, time.Now().Add(-store.UploadTTL).Unix()).Scan(&up.Type, &created, &up.Size)
	if err != nil {
		return store.Upload{}, notFound(err)
	}
	up.Created = time.Unix(created, 0)
	return up, nil
}

// MessagesByBlob implements store.Uploads.
func (s *Store) MessagesByBlob(ctx context.Context, accountID int64, blobIDs []int64) ([]store.Message, error) {
	if len(blobIDs) == 0 {
		return nil, nil
	}
	return queryMessages(ctx, s.rdb, `SELECT id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id, thread_id,
		NULL, NULL, '', NULL FROM messages
		WHERE blob_id IN (SELECT value FROM json_each(?))
		AND mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?) ORDER BY id`, idSet(blobIDs), accountID)
}

// expireUploads drops the upload rows older than store.UploadTTL, so the
// purge that follows collects their bodies when no message took them.
func expireUploads(ctx context.Context, tx *wtx) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM uploads WHERE created_at <= ?`, time.Now().Add(-store.UploadTTL).Unix())
	return err
}
