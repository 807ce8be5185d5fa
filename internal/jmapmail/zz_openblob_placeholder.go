package jmapmail

// PLACEHOLDER, deleted at merge: the uploads engineer's openBlob replaces
// it. It answers "b<N>" ids from the store's bodies, without checking the
// account, so that Email/set and Email/import build and test on their own.

import (
	"context"
	"errors"
	"io"

	"postern/internal/jmap"
	"postern/internal/store"
)

func (h *handler) openBlob(ctx context.Context, acct int64, blobID string) (rc io.ReadCloser, size int64, contentType string, err error) {
	n, ok := parseID(blobID, 'b')
	if !ok {
		return nil, 0, "", jmap.ErrBlobNotFound
	}
	r, err := h.st.OpenBlob(ctx, n)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, "", jmap.ErrBlobNotFound
	}
	if err != nil {
		return nil, 0, "", err
	}
	size, err = r.(io.Seeker).Seek(0, io.SeekEnd)
	if err == nil {
		_, err = r.(io.Seeker).Seek(0, io.SeekStart)
	}
	if err != nil {
		r.Close()
		return nil, 0, "", err
	}
	return r, size, "application/octet-stream", nil
}
