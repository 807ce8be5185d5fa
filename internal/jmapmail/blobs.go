package jmapmail

// Blobs (RFC 8620 §6): upload and download over the store, and openBlob,
// which every method that reads a blob by id goes through.
//
// Blob ids: "b<N>" is stored body N whole (a message's blobId, or an
// upload); "b<N>p<path>" is the body part at IMAP section path <path>
// ("b12p1.2") of body N, with its transfer encoding undone. An account
// sees body N when one of its messages uses it, or when it uploaded N
// less than store.UploadTTL ago; anything else is not found, whether it
// exists or not.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"postern/internal/jmap"
	"postern/internal/message"
	"postern/internal/store"
)

// maxPartDepth bounds the levels of a part path in a blob id, as
// message.DefaultLimits bounds nesting.
const maxPartDepth = 20

// blobRef is a parsed blob id.
type blobRef struct {
	body int64
	path []int // nil: the whole body
}

// parseBlobID reads "b<N>" or "b<N>p<n>[.<n>...]".
func parseBlobID(s string) (blobRef, bool) {
	head, path, hasPath := strings.Cut(s, "p")
	n, ok := parseID(head, 'b')
	if !ok {
		return blobRef{}, false
	}
	ref := blobRef{body: n}
	if !hasPath {
		return ref, true
	}
	for _, seg := range strings.Split(path, ".") {
		if len(ref.path) == maxPartDepth || seg == "" || seg[0] == '0' || len(seg) > 6 {
			return blobRef{}, false
		}
		v, err := strconv.Atoi(seg)
		if err != nil || v <= 0 {
			return blobRef{}, false
		}
		ref.path = append(ref.path, v)
	}
	return ref, true
}

// partBlobID is the blob id of the part at path (e.g. "1.2") of body n.
func partBlobID(n int64, path string) string { return blobID(n) + "p" + path }

// blobOwner is why an account may see a body: a message of it that uses
// the body (light row), or its upload of it.
type blobOwner struct {
	msg    *store.Message
	upload *store.Upload
}

// ownerOf finds why account acct may see body n; ok is false when it may
// not.
func ownerOf(ctx context.Context, st store.Store, acct, n int64) (blobOwner, bool, error) {
	ms, err := st.MessagesByBlob(ctx, acct, []int64{n})
	if err != nil {
		return blobOwner{}, false, err
	}
	if len(ms) > 0 {
		return blobOwner{msg: &ms[0]}, true, nil
	}
	up, err := st.Upload(ctx, acct, n)
	if errors.Is(err, store.ErrNotFound) {
		return blobOwner{}, false, nil
	}
	if err != nil {
		return blobOwner{}, false, err
	}
	return blobOwner{upload: &up}, true, nil
}

// rawBlob is an open stored body: random access, and what it is.
type rawBlob struct {
	rc    io.ReadCloser
	ra    io.ReaderAt
	size  int64
	owner blobOwner
}

// openRaw opens body n for account acct, or returns jmap.ErrBlobNotFound.
func openRaw(ctx context.Context, st store.Store, acct, n int64) (*rawBlob, error) {
	owner, ok, err := ownerOf(ctx, st, acct, n)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, jmap.ErrBlobNotFound
	}
	rc, err := st.OpenBlob(ctx, n)
	if errors.Is(err, store.ErrNotFound) {
		return nil, jmap.ErrBlobNotFound
	}
	if err != nil {
		return nil, err
	}
	ra, ok1 := rc.(io.ReaderAt)
	sk, ok2 := rc.(io.Seeker)
	if !ok1 || !ok2 {
		rc.Close()
		return nil, fmt.Errorf("jmapmail: blob %d has no random access", n)
	}
	size, err := sk.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = sk.Seek(0, io.SeekStart)
	}
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &rawBlob{rc: rc, ra: ra, size: size, owner: owner}, nil
}

// structure is the body structure of the open body: the one delivery
// stored for a message, or else (an upload, an old row) parsed now, in
// one streaming pass.
func (b *rawBlob) structure(ctx context.Context, st store.Store, acct int64) (*message.Part, error) {
	if b.owner.msg != nil {
		ms, err := st.MessagesByID(ctx, acct, []int64{b.owner.msg.ID})
		if err != nil {
			return nil, err
		}
		if len(ms) == 1 {
			if root, err := message.UnmarshalBody(ms[0].BodyStructure); err == nil {
				return root, nil
			}
		}
	}
	p, err := message.Parse(io.NewSectionReader(b.ra, 0, b.size), message.DefaultLimits())
	if err != nil {
		return nil, err
	}
	return p.Body, nil
}

// sectionCloser is a part's bytes in an open body: seekable, so that
// downloads answer Range requests.
type sectionCloser struct {
	*io.SectionReader
	io.Closer
}

// decodedCloser is a part's decoded bytes.
type decodedCloser struct {
	io.Reader
	io.Closer
}

// openBlob opens blob id of account acct: its content, size and media
// type; jmap.ErrBlobNotFound when the account has no such blob. The
// reader of a whole body and of a part without transfer encoding is an
// io.ReadSeeker and io.ReaderAt.
func (h *handler) openBlob(ctx context.Context, acct int64, blobID string) (rc io.ReadCloser, size int64, contentType string, err error) {
	return openBlob(ctx, h.st, acct, blobID)
}

func openBlob(ctx context.Context, st store.Store, acct int64, id string) (io.ReadCloser, int64, string, error) {
	ref, ok := parseBlobID(id)
	if !ok {
		return nil, 0, "", jmap.ErrBlobNotFound
	}
	b, err := openRaw(ctx, st, acct, ref.body)
	if err != nil {
		return nil, 0, "", err
	}
	if ref.path == nil {
		ctype := "message/rfc822"
		if b.owner.msg == nil {
			ctype = b.owner.upload.Type
		}
		return sectionCloser{io.NewSectionReader(b.ra, 0, b.size), b.rc}, b.size, ctype, nil
	}
	root, err := b.structure(ctx, st, acct)
	if err != nil {
		b.rc.Close()
		return nil, 0, "", err
	}
	p := root.Find(ref.path)
	if p == nil || p.IsMultipart() || p.End > b.size {
		b.rc.Close()
		return nil, 0, "", jmap.ErrBlobNotFound
	}
	ctype := p.Type + "/" + p.Subtype
	if cs := p.Param("charset"); cs != "" && p.Type == "text" {
		ctype += "; charset=" + strconv.Quote(cs)
	}
	if identityEncoding(p.Encoding) {
		return sectionCloser{io.NewSectionReader(b.ra, p.BodyStart, p.Size), b.rc}, p.Size, ctype, nil
	}
	// The size is exact (a Content-Length, an upload's size): one pass
	// counts it, the reader returned makes the second.
	n, err := io.Copy(io.Discard, partReader(b.ra, p))
	if err != nil {
		b.rc.Close()
		return nil, 0, "", err
	}
	return decodedCloser{partReader(b.ra, p), b.rc}, n, ctype, nil
}

// Blobs is the jmap.Blobs of the store: uploads kept for a day
// (store.Uploads), downloads through openBlob.
type Blobs struct{ st store.Store }

// NewBlobs returns the Blobs of st, for jmap.Options.
func NewBlobs(st store.Store) *Blobs { return &Blobs{st: st} }

// errOverQuota is an upload larger than what is left of the account's
// quota: a jmap.ErrBlobTooLarge (413) for the endpoint.
var errOverQuota = fmt.Errorf("%w: over the account's quota", jmap.ErrBlobTooLarge)

// Upload implements jmap.Blobs: at most max octets, and no more than what
// is left of the account's quota (store.Account.QuotaBytes).
func (b *Blobs) Upload(ctx context.Context, accountID, contentType string, r io.Reader, max int64) (jmap.BlobInfo, error) {
	acct, ok := jmap.ParseAccountID(accountID)
	if !ok {
		return jmap.BlobInfo{}, jmap.ErrBlobNotFound
	}
	limit, tooLarge, err := uploadLimit(ctx, b.st, acct, max)
	if err != nil {
		return jmap.BlobInfo{}, err
	}
	w, err := b.st.NewBody()
	if err != nil {
		return jmap.BlobInfo{}, err
	}
	defer w.Abort()
	n, err := io.Copy(w, io.LimitReader(r, limit+1))
	if err != nil {
		return jmap.BlobInfo{}, err
	}
	if n > limit {
		return jmap.BlobInfo{}, tooLarge
	}
	body, err := w.Finish()
	if err != nil {
		return jmap.BlobInfo{}, err
	}
	up, err := b.st.PutUpload(ctx, acct, contentType, body)
	if err != nil {
		return jmap.BlobInfo{}, err
	}
	return jmap.BlobInfo{BlobID: blobID(up.BlobID), Type: up.Type, Size: up.Size}, nil
}

// uploadLimit is the largest upload account acct may make: max, or what
// is left of its quota when that is less (then tooLarge is errOverQuota).
func uploadLimit(ctx context.Context, st store.Store, acct, maxSize int64) (limit int64, tooLarge, err error) {
	a, err := st.AccountByID(ctx, acct)
	if err != nil {
		return 0, nil, err
	}
	if left := a.QuotaBytes - a.UsedBytes; a.QuotaBytes > 0 && left < maxSize {
		return max(left, 0), errOverQuota, nil
	}
	return maxSize, jmap.ErrBlobTooLarge, nil
}

// Download implements jmap.Blobs.
func (b *Blobs) Download(ctx context.Context, accountID, id string) (io.ReadCloser, int64, string, error) {
	acct, ok := jmap.ParseAccountID(accountID)
	if !ok {
		return nil, 0, "", jmap.ErrBlobNotFound
	}
	return openBlob(ctx, b.st, acct, id)
}
