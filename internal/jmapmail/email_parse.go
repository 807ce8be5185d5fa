package jmapmail

// Email/parse (RFC 8621 §4.9): the Email properties of a blob that holds
// a message, an upload or a message/rfc822 part ("b12p2"), parsed now in
// one streaming pass. Its parts get blob ids under the blob's own
// ("b12p2.1"): the IMAP section numbering goes on into an encapsulated
// message, so they open like any part.

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"postern/internal/jmap"
	"postern/internal/message"
)

// emailParseDefault is the RFC's default properties for Email/parse.
var emailParseDefault = []string{"messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
	"replyTo", "subject", "sentAt", "hasAttachment", "preview", "bodyValues", "textBody", "htmlBody", "attachments"}

type emailParseArgs struct {
	AccountID           string    `json:"accountId"`
	BlobIDs             []string  `json:"blobIds"`
	Properties          *[]string `json:"properties"`
	BodyProperties      *[]string `json:"bodyProperties"`
	FetchTextBodyValues bool      `json:"fetchTextBodyValues"`
	FetchHTMLBodyValues bool      `json:"fetchHTMLBodyValues"`
	FetchAllBodyValues  bool      `json:"fetchAllBodyValues"`
	MaxBodyValueBytes   *int64    `json:"maxBodyValueBytes"`
}

type emailParseResponse struct {
	AccountID   string                    `json:"accountId"`
	Parsed      map[string]map[string]any `json:"parsed"`
	NotParsable []string                  `json:"notParsable"`
	NotFound    []string                  `json:"notFound"`
}

func (h *handler) emailParse(ctx context.Context, c *jmap.Call) (any, error) {
	var a emailParseArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	if err := c.CheckGet(len(a.BlobIDs)); err != nil {
		return nil, err
	}
	bo, err := newBodyOptions(a.BodyProperties, a.FetchTextBodyValues, a.FetchHTMLBodyValues, a.FetchAllBodyValues, a.MaxBodyValueBytes)
	if err != nil {
		return nil, err
	}
	props := emailParseDefault
	if a.Properties != nil {
		isKnown := func(p string) bool { return slices.Contains(emailProperties, p) }
		if err := checkHeaderProps(*a.Properties, isKnown, "Email"); err != nil {
			return nil, err
		}
		props = *a.Properties
	}
	resp := emailParseResponse{AccountID: a.AccountID}
	for _, id := range dedup(a.BlobIDs) {
		o, err := h.parseBlob(ctx, acct, resolveCreated(c, id), props, bo)
		switch {
		case errors.Is(err, jmap.ErrBlobNotFound):
			resp.NotFound = append(resp.NotFound, id)
		case errors.Is(err, errNotParsable):
			resp.NotParsable = append(resp.NotParsable, id)
		case err != nil:
			return nil, err
		default:
			if resp.Parsed == nil {
				resp.Parsed = map[string]map[string]any{}
			}
			resp.Parsed[id] = o
		}
	}
	return resp, nil
}

// errNotParsable is a blob that is not a message.
var errNotParsable = errors.New("jmapmail: not a message")

// parseBlob is the Email object of blob id with props.
func (h *handler) parseBlob(ctx context.Context, acct int64, id string, props []string, bo bodyOptions) (map[string]any, error) {
	ref, ok := parseBlobID(id)
	if !ok {
		return nil, jmap.ErrBlobNotFound
	}
	rc, size, _, err := h.openBlob(ctx, acct, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	ra, release, err := randomAccess(rc, size)
	if err != nil {
		return nil, err
	}
	defer release()
	p, err := message.Parse(io.NewSectionReader(ra, 0, size), message.DefaultLimits())
	if err != nil {
		return nil, err
	}
	if size == 0 || p.Body.BodyStart == 0 {
		return nil, errNotParsable // no header: not a message
	}
	src := &emailSource{ctx: ctx, body: ref.body, base: joinPath(ref.path), root: p.Body, ra: ra}
	var hdr *headerFields
	if slices.Contains(props, "references") || slices.Contains(props, "sender") || slices.Contains(props, "replyTo") {
		if hdr, err = readHeader(src); err != nil {
			return nil, err
		}
	}
	o := make(map[string]any, len(props))
	for _, k := range props {
		switch k {
		case "id", "threadId", "mailboxIds", "keywords", "receivedAt":
			o[k] = nil // not in the account (§4.9)
		case "blobId":
			o[k] = id
		case "size":
			o[k] = size
		case "preview":
			o[k] = p.Preview
		default:
			if v, ok := envelopeValue(k, p.Envelope, p.Body, hdr); ok {
				o[k] = v
			}
		}
	}
	if err := src.addBodyProps(o, props, bo); err != nil {
		return nil, err
	}
	return o, nil
}

// joinPath writes a part path as in a blob id ("2.1").
func joinPath(path []int) string {
	s := make([]string, len(path))
	for i, n := range path {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}

// randomAccess gives random access to a blob's content: its own when it
// has it (a whole body, a part without transfer encoding), else a
// temporary file it is decoded into (the rare encoded message/rfc822).
func randomAccess(rc io.Reader, size int64) (io.ReaderAt, func(), error) {
	if ra, ok := rc.(io.ReaderAt); ok {
		return ra, func() {}, nil
	}
	f, err := os.CreateTemp("", "postern-parse-*")
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		f.Close()
		os.Remove(f.Name())
	}
	if _, err := io.Copy(f, io.LimitReader(rc, size)); err != nil {
		release()
		return nil, nil, err
	}
	return f, release, nil
}
