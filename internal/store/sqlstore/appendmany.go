package sqlstore

import (
	"context"

	"postern/internal/store"
)

// AppendMany implements store.MultiAppender: one operation of the group
// commit, so its savepoint undoes every message when one fails.
func (s *Store) AppendMany(ctx context.Context, mailboxID int64, items []store.AppendItem) ([]store.Message, error) {
	for _, it := range items {
		if err := checkBlob(it.Blob); err != nil {
			s.dropBlobs(items)
			return nil, err
		}
	}
	if len(items) == 0 {
		return nil, invalid("nothing to append")
	}
	out := make([]store.Message, len(items))
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		for i, it := range items {
			blobID, err := insertBlob(ctx, tx, e, it.Blob)
			if err != nil {
				return err
			}
			if out[i], _, err = addMessage(ctx, tx, e, blobID, it.Blob, it.InternalDate, it.Target, mailboxID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.dropBlobs(items)
		return nil, err
	}
	return out, nil
}

func (s *Store) dropBlobs(items []store.AppendItem) {
	for _, it := range items {
		if it.Blob.Inline == nil {
			s.dropUnusedBlob(it.Blob.Key)
		}
	}
}
