package jmapmail

// The blob capability (RFC 9404): Blob/upload, Blob/get and Blob/lookup,
// over the same blobs as the HTTP endpoints (blobs.go).

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"postern/internal/jmap"
	"postern/internal/store"
)

// BlobCapability is the JMAP blob management capability (RFC 9404 §3).
const BlobCapability = "urn:ietf:params:jmap:blob"

// Bounds of the blob methods.
const (
	// maxDataSources is advertised; RFC 9404 §3.1 asks at least 64.
	maxDataSources = 64
	// maxBlobData bounds the data Blob/get puts in one response, all
	// blobs together; a larger range is cut there and isTruncated set.
	// Digests cover the whole range whatever its size.
	maxBlobData = 16 << 20
)

// blobAccountCapability is the capability's value in an account.
type blobAccountCapability struct {
	MaxSizeBlobSet            int64    `json:"maxSizeBlobSet"`
	MaxDataSources            int      `json:"maxDataSources"`
	SupportedTypeNames        []string `json:"supportedTypeNames"`
	SupportedDigestAlgorithms []string `json:"supportedDigestAlgorithms"`
}

// registerBody adds Email/parse and the blob capability with its methods.
func (h *handler) registerBody(srv *jmap.Server) {
	srv.Handle("Email/parse", Capability, h.emailParse)
	bc := blobAccountCapability{
		MaxSizeBlobSet:            srv.Limits().MaxSizeUpload,
		MaxDataSources:            maxDataSources,
		SupportedTypeNames:        []string{"Email", "Thread", "Mailbox"},
		SupportedDigestAlgorithms: []string{"sha", "sha-256"},
	}
	srv.AddCapability(jmap.Capability{
		URI:     BlobCapability,
		Session: struct{}{},
		Account: func(context.Context, jmap.Principal) any { return bc },
	})
	srv.Handle("Blob/upload", BlobCapability, h.blobUpload)
	srv.Handle("Blob/get", BlobCapability, h.blobGet)
	srv.Handle("Blob/lookup", BlobCapability, h.blobLookup)
}

type blobGetArgs struct {
	AccountID  string    `json:"accountId"`
	IDs        *[]string `json:"ids"`
	Properties *[]string `json:"properties"`
	Offset     *int64    `json:"offset"`
	Length     *int64    `json:"length"`
}

type blobGetResponse struct {
	AccountID string           `json:"accountId"`
	List      []map[string]any `json:"list"`
	NotFound  []string         `json:"notFound"`
}

// blobGet is Blob/get (RFC 9404 §4.2).
func (h *handler) blobGet(ctx context.Context, c *jmap.Call) (any, error) {
	var a blobGetArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	if a.IDs == nil {
		return nil, jmap.NewError(jmap.InvalidArguments, "ids must be given: blobs cannot be listed")
	}
	if err := c.CheckGet(len(*a.IDs)); err != nil {
		return nil, err
	}
	props := []string{"data", "size"}
	if a.Properties != nil {
		props = *a.Properties
	}
	for _, p := range props {
		switch p {
		case "data", "data:asText", "data:asBase64", "size", "digest:sha", "digest:sha-256":
		default:
			return nil, jmap.NewError(jmap.InvalidArguments, "unknown Blob property "+p)
		}
	}
	var offset int64
	if a.Offset != nil {
		if *a.Offset < 0 {
			return nil, jmap.NewError(jmap.InvalidArguments, "offset must not be negative")
		}
		offset = *a.Offset
	}
	if a.Length != nil && *a.Length < 0 {
		return nil, jmap.NewError(jmap.InvalidArguments, "length must not be negative")
	}
	resp := blobGetResponse{AccountID: a.AccountID, List: []map[string]any{}, NotFound: []string{}}
	budget := int64(maxBlobData)
	for _, id := range dedup(*a.IDs) {
		o, err := h.blobObject(ctx, acct, id, resolveCreated(c, id), props, blobRange{offset, a.Length}, &budget)
		if errors.Is(err, jmap.ErrBlobNotFound) {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		if err != nil {
			return nil, err
		}
		resp.List = append(resp.List, o)
	}
	return resp, nil
}

// blobRange is the offset and length of Blob/get.
type blobRange struct {
	offset int64
	length *int64
}

// blobObject is one Blob of Blob/get: the range of the blob read once,
// hashed as it goes, its data kept when asked, within what is left of
// budget.
func (h *handler) blobObject(ctx context.Context, acct int64, id, resolved string, props []string, rg blobRange, budget *int64) (map[string]any, error) {
	offset, length := rg.offset, rg.length
	rc, size, _, err := h.openBlob(ctx, acct, resolved)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	want := size - offset // what the range asks for within the blob
	truncated := offset > size
	if length != nil {
		if offset+*length > size {
			truncated = true
		}
		want = min(want, *length)
	}
	want = max(want, 0)
	if offset > 0 && offset < size {
		if _, err := io.CopyN(io.Discard, rc, offset); err != nil {
			return nil, err
		}
	}
	hashes := map[string]hash.Hash{}
	var sinks []io.Writer
	for _, p := range props {
		switch p {
		case "digest:sha":
			hashes[p] = sha1.New()
		case "digest:sha-256":
			hashes[p] = sha256.New()
		}
	}
	for _, hh := range hashes {
		sinks = append(sinks, hh)
	}
	wantData := slices.ContainsFunc(props, func(p string) bool { return strings.HasPrefix(p, "data") })
	var data bytes.Buffer
	if wantData {
		sinks = append(sinks, &capWriter{w: &data, left: *budget})
		if want > *budget {
			truncated = true
		}
	}
	if _, err := io.CopyN(io.MultiWriter(append(sinks, io.Discard)...), rc, want); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	*budget -= int64(data.Len())
	o := map[string]any{"id": id}
	problem := false
	for _, p := range props {
		switch p {
		case "size":
			o[p] = size
		case "digest:sha", "digest:sha-256":
			o[p] = base64.StdEncoding.EncodeToString(hashes[p].Sum(nil))
		case "data:asText":
			if utf8.Valid(data.Bytes()) {
				o[p] = data.String()
			} else {
				o[p], problem = nil, true
			}
		case "data:asBase64":
			o[p] = base64.StdEncoding.EncodeToString(data.Bytes())
		case "data":
			if utf8.Valid(data.Bytes()) {
				o["data:asText"] = data.String()
			} else {
				o["data:asBase64"] = base64.StdEncoding.EncodeToString(data.Bytes())
				problem = true
			}
		}
	}
	if wantData {
		o["isEncodingProblem"] = problem
		o["isTruncated"] = truncated
	}
	return o, nil
}

// capWriter keeps at most left bytes and swallows the rest.
type capWriter struct {
	w    io.Writer
	left int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	n := len(p)
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	c.left -= int64(len(p))
	if len(p) > 0 {
		if _, err := c.w.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}

type blobLookupArgs struct {
	AccountID string   `json:"accountId"`
	TypeNames []string `json:"typeNames"`
	IDs       []string `json:"ids"`
}

type blobLookupResponse struct {
	AccountID string           `json:"accountId"`
	List      []map[string]any `json:"list"`
	NotFound  []string         `json:"notFound"`
}

// blobLookup is Blob/lookup (RFC 9404 §4.3): the emails that use a blob
// (the message's body, or a part of it), their threads and mailboxes.
func (h *handler) blobLookup(ctx context.Context, c *jmap.Call) (any, error) {
	var a blobLookupArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	for _, t := range a.TypeNames {
		if t != "Email" && t != "Thread" && t != "Mailbox" {
			return nil, jmap.NewError("unknownDataType", "unknown type name "+t)
		}
	}
	if err := c.CheckGet(len(a.IDs)); err != nil {
		return nil, err
	}
	resp := blobLookupResponse{AccountID: a.AccountID, List: []map[string]any{}, NotFound: []string{}}
	for _, id := range dedup(a.IDs) {
		ref, ok := parseBlobID(resolveCreated(c, id))
		if !ok {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		ms, err := h.st.MessagesByBlob(ctx, acct, []int64{ref.body})
		if err != nil {
			return nil, storeErr(err)
		}
		if len(ms) == 0 {
			if _, err := h.st.Upload(ctx, acct, ref.body); errors.Is(err, store.ErrNotFound) {
				resp.NotFound = append(resp.NotFound, id)
				continue
			} else if err != nil {
				return nil, err
			}
		} else if ref.path != nil {
			// A part id must name a part of the body.
			rc, _, _, err := h.openBlob(ctx, acct, resolveCreated(c, id))
			if errors.Is(err, jmap.ErrBlobNotFound) {
				resp.NotFound = append(resp.NotFound, id)
				continue
			} else if err != nil {
				return nil, err
			}
			rc.Close()
		}
		resp.List = append(resp.List, map[string]any{"id": id, "matchedIds": matchedIDs(a.TypeNames, ms)})
	}
	return resp, nil
}

// matchedIDs lists, per type name asked, the ids of the messages ms, of
// their threads or of their mailboxes, each once, in order.
func matchedIDs(typeNames []string, ms []store.Message) map[string][]string {
	out := map[string][]string{}
	for _, t := range typeNames {
		ids := []string{}
		for _, m := range ms {
			var id string
			switch t {
			case "Email":
				id = emailID(m.ID)
			case "Thread":
				id = threadID(m.ThreadID)
			case "Mailbox":
				id = mailboxID(m.MailboxID)
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		out[t] = ids
	}
	return out
}

type blobUploadArgs struct {
	AccountID string          `json:"accountId"`
	Create    json.RawMessage `json:"create"`
}

type blobUploadObject struct {
	Data []map[string]json.RawMessage `json:"data"`
	Type *string                      `json:"type"`
}

type blobUploadResponse struct {
	AccountID  string                 `json:"accountId"`
	Created    map[string]any         `json:"created"`
	NotCreated map[string]*jmap.Error `json:"notCreated"`
}

// blobUpload is Blob/upload (RFC 9404 §4.1): blobs made of text, base64
// and ranges of other blobs, stored as uploads.
func (h *handler) blobUpload(ctx context.Context, c *jmap.Call) (any, error) {
	var a blobUploadArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	creates, err := orderedObject(a.Create)
	if err != nil {
		return nil, jmap.NewError(jmap.InvalidArguments, "create: "+err.Error())
	}
	if err := c.CheckSet(len(creates)); err != nil {
		return nil, err
	}
	resp := blobUploadResponse{AccountID: a.AccountID}
	// In the order the client wrote them, so that a blob may be made of
	// one created before it (RFC 9404 §4.1.2).
	for _, kv := range creates {
		cid := kv.key
		info, err := h.uploadOne(ctx, c, acct, kv.value)
		var je *jmap.Error
		switch {
		case errors.As(err, &je):
			if resp.NotCreated == nil {
				resp.NotCreated = map[string]*jmap.Error{}
			}
			resp.NotCreated[cid] = je
		case err != nil:
			return nil, err
		default:
			if resp.Created == nil {
				resp.Created = map[string]any{}
			}
			resp.Created[cid] = map[string]any{"id": info.BlobID, "type": info.Type, "size": info.Size}
			c.CreatedIDs[cid] = info.BlobID
		}
	}
	return resp, nil
}

// member is one member of a JSON object.
type member struct {
	key   string
	value json.RawMessage
}

// orderedObject reads a JSON object's members in their order; null is
// no members.
func orderedObject(raw json.RawMessage) ([]member, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	var out []member
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, errors.New("creation id " + key + " given twice")
		}
		seen[key] = true
		out = append(out, member{key, v})
	}
	return out, nil
}

// uploadOne makes one blob of Blob/upload; a *jmap.Error is its SetError.
func (h *handler) uploadOne(ctx context.Context, c *jmap.Call, acct int64, raw json.RawMessage) (jmap.BlobInfo, error) {
	var obj blobUploadObject
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&obj); err != nil {
		return jmap.BlobInfo{}, jmap.NewError(jmap.InvalidProperties, err.Error())
	}
	if len(obj.Data) > maxDataSources {
		return jmap.BlobInfo{}, jmap.NewError(jmap.TooLarge, "more data sources than maxDataSources")
	}
	ctype := "application/octet-stream"
	if obj.Type != nil && *obj.Type != "" {
		ctype = *obj.Type
	}
	limit, tooLarge, err := uploadLimit(ctx, h.st, acct, c.Limits.MaxSizeUpload)
	if err != nil {
		return jmap.BlobInfo{}, storeErr(err)
	}
	w, err := h.st.NewBody()
	if err != nil {
		return jmap.BlobInfo{}, err
	}
	defer w.Abort()
	var n int64
	for i, src := range obj.Data {
		k, err := h.copySource(ctx, c, acct, w, src, limit+1-n)
		if err != nil {
			var je *jmap.Error
			if errors.As(err, &je) {
				return jmap.BlobInfo{}, je.With("properties", []string{"data/" + strconv.Itoa(i)})
			}
			return jmap.BlobInfo{}, err
		}
		if n += k; n > limit {
			if errors.Is(tooLarge, errOverQuota) {
				return jmap.BlobInfo{}, jmap.NewError(jmap.OverQuota, "the blob would exceed the account's quota")
			}
			return jmap.BlobInfo{}, jmap.NewError(jmap.TooLarge, "larger than maxSizeUpload")
		}
	}
	body, err := w.Finish()
	if err != nil {
		return jmap.BlobInfo{}, err
	}
	up, err := h.st.PutUpload(ctx, acct, ctype, body)
	if err != nil {
		return jmap.BlobInfo{}, err
	}
	return jmap.BlobInfo{BlobID: blobID(up.BlobID), Type: up.Type, Size: up.Size}, nil
}

// copySource writes one DataSourceObject (RFC 9404 §4.1) to w, at most
// left octets (the caller tells too large from the count).
func (h *handler) copySource(ctx context.Context, c *jmap.Call, acct int64, w io.Writer, src map[string]json.RawMessage, left int64) (int64, error) {
	bad := func(why string) error { return jmap.NewError(jmap.InvalidProperties, why) }
	var text, b64, id string
	var offset, length *int64
	kinds := 0
	for k, v := range src {
		var err error
		switch k {
		case "data:asText":
			err, kinds = json.Unmarshal(v, &text), kinds+1
		case "data:asBase64":
			err, kinds = json.Unmarshal(v, &b64), kinds+1
		case "blobId":
			err, kinds = json.Unmarshal(v, &id), kinds+1
		case "offset":
			err = json.Unmarshal(v, &offset)
		case "length":
			err = json.Unmarshal(v, &length)
		default:
			return 0, bad("unknown data source property " + k)
		}
		if err != nil {
			return 0, bad("data source property " + k + ": " + err.Error())
		}
	}
	if kinds != 1 {
		return 0, bad("a data source has exactly one of data:asText, data:asBase64 and blobId")
	}
	switch {
	case src["data:asText"] != nil:
		return io.Copy(w, io.LimitReader(strings.NewReader(text), left))
	case src["data:asBase64"] != nil:
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return 0, bad("data:asBase64 is not base64")
		}
		return io.Copy(w, io.LimitReader(bytes.NewReader(data), left))
	}
	rc, size, _, err := h.openBlob(ctx, acct, resolveCreated(c, id))
	if errors.Is(err, jmap.ErrBlobNotFound) {
		return 0, bad("no blob " + id)
	}
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var off, n int64 = 0, size
	if offset != nil {
		off = *offset
	}
	if length != nil {
		n = *length
	} else {
		n = size - off
	}
	if off < 0 || n < 0 || off+n > size {
		return 0, bad("the range is not inside blob " + id)
	}
	if _, err := io.CopyN(io.Discard, rc, off); err != nil {
		return 0, err
	}
	return io.Copy(w, io.LimitReader(rc, min(n, left)))
}
