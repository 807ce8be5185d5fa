package jmap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// BlobInfo describes a stored blob.
type BlobInfo struct {
	BlobID string
	Type   string
	Size   int64
}

// Blobs stores and reads the binary data of accounts (RFC 8620 §6).
type Blobs interface {
	// Upload stores r as a blob of accountID. It reads at most max+1
	// octets and returns ErrBlobTooLarge when r holds more than max.
	Upload(ctx context.Context, accountID, contentType string, r io.Reader, max int64) (BlobInfo, error)
	// Download opens a blob of accountID, giving its size and stored type
	// (may be ""). A blob the account may not see is ErrBlobNotFound. If
	// the reader is an io.ReadSeeker, Range requests are served.
	Download(ctx context.Context, accountID, blobID string) (rc io.ReadCloser, size int64, contentType string, err error)
}

// Errors of Blobs.
var (
	ErrBlobNotFound = errors.New("jmap: blob not found")
	ErrBlobTooLarge = errors.New("jmap: blob too large")
)

// uploadResponse is the response of an upload (RFC 8620 §6.1).
type uploadResponse struct {
	AccountID string `json:"accountId"`
	BlobID    string `json:"blobId"`
	Type      string `json:"type"`
	Size      int64  `json:"size"`
}

// capReader fails with ErrBlobTooLarge once more than max octets are read,
// whatever the Blobs implementation does with max.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, ErrBlobTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, ErrBlobTooLarge
	}
	return n, err
}

// serveUpload answers POST /jmap/upload/{accountId}/ (RFC 8620 §6.1).
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if s.opts.Blobs == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		httpProblem(w, http.StatusMethodNotAllowed, "")
		return
	}
	account := r.PathValue("account")
	if account != p.AccountID {
		httpProblem(w, http.StatusNotFound, "no such account")
		return
	}
	max := s.limits.MaxSizeUpload
	if r.ContentLength > max {
		httpProblem(w, http.StatusRequestEntityTooLarge, "larger than maxSizeUpload ("+strconv.FormatInt(max, 10)+" octets)")
		return
	}
	release, ok := s.acquire(s.uploads, p.AccountID, s.limits.MaxConcurrentUpload)
	if !ok {
		w.Header().Set("Retry-After", "1")
		writeProblem(w, problem{Type: ProblemLimit, Status: http.StatusTooManyRequests, Limit: "maxConcurrentUpload",
			Detail: "too many concurrent uploads"})
		return
	}
	defer release()
	ctype := r.Header.Get("Content-Type")
	if _, _, err := mime.ParseMediaType(ctype); err != nil {
		ctype = "application/octet-stream"
	}
	info, err := s.opts.Blobs.Upload(r.Context(), p.AccountID, ctype, &capReader{r: r.Body, left: max}, max)
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrBlobTooLarge) || errors.As(err, &mbe):
		httpProblem(w, http.StatusRequestEntityTooLarge, "larger than maxSizeUpload ("+strconv.FormatInt(max, 10)+" octets)")
		return
	case err != nil:
		s.log.Error("jmap: upload", "account", p.AccountID, "err", err)
		httpProblem(w, http.StatusInternalServerError, "")
		return
	}
	if info.Type == "" {
		info.Type = ctype
	}
	b, _ := json.Marshal(uploadResponse{AccountID: p.AccountID, BlobID: info.BlobID, Type: info.Type, Size: info.Size})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusCreated)
	w.Write(b)
}

// serveDownload answers GET /jmap/download/{accountId}/{blobId}/{name}
// (RFC 8620 §6.2): the blob as an attachment named name, with the type the
// client asks for in "accept".
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if s.opts.Blobs == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpProblem(w, http.StatusMethodNotAllowed, "")
		return
	}
	if r.PathValue("account") != p.AccountID {
		httpProblem(w, http.StatusNotFound, "")
		return
	}
	rc, size, stored, err := s.opts.Blobs.Download(r.Context(), p.AccountID, r.PathValue("blob"))
	switch {
	case errors.Is(err, ErrBlobNotFound):
		httpProblem(w, http.StatusNotFound, "")
		return
	case err != nil:
		s.log.Error("jmap: download", "account", p.AccountID, "err", err)
		httpProblem(w, http.StatusInternalServerError, "")
		return
	}
	defer rc.Close()
	ctype := mediaType(r.URL.Query().Get("accept"))
	if ctype == "" {
		ctype = mediaType(stored)
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", ContentDisposition(r.PathValue("name")))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", time.Time{}, rs)
		return
	}
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, rc); err != nil {
		s.log.Debug("jmap: download", "account", p.AccountID, "err", err)
	}
}

// mediaType returns t cleaned by a parse and format round trip, or "" if
// it is not a media type.
func mediaType(t string) string {
	if t == "" {
		return ""
	}
	mt, params, err := mime.ParseMediaType(t)
	if err != nil || !strings.Contains(mt, "/") {
		return ""
	}
	return mime.FormatMediaType(mt, params)
}

// ContentDisposition returns an "attachment" disposition naming name, with
// an ASCII fallback filename and the exact name as filename* in the RFC
// 8187 (formerly RFC 5987) encoding that RFC 6266 §4.3 describes.
func ContentDisposition(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if name == "" {
		return "attachment"
	}
	var fallback, ext strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == '%' || r >= utf8.RuneSelf:
			fallback.WriteByte('_')
		default:
			fallback.WriteRune(r)
		}
	}
	for _, b := range []byte(name) {
		if attrChar(b) {
			ext.WriteByte(b)
		} else {
			fmt.Fprintf(&ext, "%%%02X", b)
		}
	}
	return `attachment; filename="` + fallback.String() + `"; filename*=UTF-8''` + ext.String()
}

// attrChar reports whether b may appear unencoded in an RFC 8187 value.
func attrChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}
