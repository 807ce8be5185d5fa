package jmapmail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"postern/internal/jmap"
	"postern/internal/store"
)

// Email/import (RFC 8621 §4.8): a message from a blob, appended as IMAP
// APPEND appends (parsed at arrival, threaded, indexed, counted against
// the quota). The blob's bytes are copied into a new body: the store
// keeps a message's body per message and has no call that would share an
// upload's.

// InvalidEmail is the SetError of RFC 8621 §4.8 for a blob that is not a
// message.
const InvalidEmail jmap.ErrorType = "invalidEmail"

type importArgs struct {
	AccountID string                     `json:"accountId"`
	IfInState *string                    `json:"ifInState"`
	Emails    map[string]json.RawMessage `json:"emails"`
}

// emailImportObject is an EmailImport object.
type emailImportObject struct {
	BlobID     string          `json:"blobId"`
	MailboxIDs map[string]bool `json:"mailboxIds"`
	Keywords   json.RawMessage `json:"keywords"`
	ReceivedAt *string         `json:"receivedAt"`
}

type importResponse struct {
	AccountID  string                    `json:"accountId"`
	OldState   string                    `json:"oldState"`
	NewState   string                    `json:"newState"`
	Created    map[string]map[string]any `json:"created"`
	NotCreated map[string]*jmap.Error    `json:"notCreated"`
}

func (h *handler) emailImport(ctx context.Context, c *jmap.Call) (any, error) {
	var a importArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	if a.Emails == nil {
		return nil, jmap.NewError(jmap.InvalidArguments, "emails is required")
	}
	r, release, err := h.begin(ctx, c, a.AccountID, a.IfInState, len(a.Emails))
	if err != nil {
		return nil, err
	}
	defer release()
	for _, cid := range sortedKeys(a.Emails) {
		o, e, err := r.importOne(ctx, a.Emails[cid])
		if err != nil {
			return nil, err
		}
		r.created(cid, o, e)
	}
	if err := r.finish(ctx); err != nil {
		return nil, err
	}
	return importResponse{AccountID: r.resp.AccountID, OldState: r.resp.OldState, NewState: r.resp.NewState,
		Created: r.resp.Created, NotCreated: r.resp.NotCreated}, nil
}

// created records the outcome of one creation.
func (r *emailRun) created(cid string, o map[string]any, e *jmap.Error) {
	if e != nil {
		setFail(&r.resp.NotCreated, cid, e)
		return
	}
	if r.resp.Created == nil {
		r.resp.Created = map[string]map[string]any{}
	}
	r.resp.Created[cid] = o
	r.c.CreatedIDs[cid] = o["id"].(string)
}

func (r *emailRun) importOne(ctx context.Context, raw json.RawMessage) (map[string]any, *jmap.Error, error) {
	var o emailImportObject
	if err := strictUnmarshal(raw, &o); err != nil || o.BlobID == "" || o.MailboxIDs == nil {
		return nil, invalidProps("an EmailImport has blobId, mailboxIds, keywords and receivedAt",
			"blobId", "mailboxIds"), nil
	}
	mb, e := r.oneMailbox(o.MailboxIDs)
	if e != nil {
		return nil, e, nil
	}
	var kw map[string]bool
	if o.Keywords != nil && string(o.Keywords) != "null" {
		if kw, e = decodeKeywords(o.Keywords); e != nil {
			return nil, e, nil
		}
	}
	received := time.Now()
	if o.ReceivedAt != nil {
		t, err := time.Parse(time.RFC3339, *o.ReceivedAt)
		if err != nil {
			return nil, invalidProps("receivedAt must be a UTCDate", "receivedAt"), nil
		}
		received = t
	}
	rc, size, _, err := r.h.openBlob(ctx, r.acct, o.BlobID)
	if errors.Is(err, jmap.ErrBlobNotFound) {
		return nil, blobNotFound(o.BlobID), nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	if size > r.c.Limits.MaxSizeUpload {
		return nil, jmap.NewError(jmap.TooLarge, "larger than maxSizeUpload"), nil
	}
	w, err := r.h.st.NewBody()
	if err != nil {
		return nil, nil, err
	}
	defer w.Abort()
	if _, err := io.Copy(w, rc); err != nil {
		return nil, nil, err
	}
	body, err := w.Finish()
	if err != nil {
		return nil, nil, err
	}
	flags, keywords := flagsOfKeywords(kw)
	return r.append(ctx, mb, body, store.DeliveryTarget{AccountID: r.acct, Flags: flags, Keywords: keywords}, received, true)
}

// blobNotFound is the SetError for blob ids that name nothing.
func blobNotFound(ids ...string) *jmap.Error {
	return jmap.NewError(BlobNotFound, "").With("notFound", ids)
}

// strictUnmarshal decodes raw into v, refusing unknown members.
func strictUnmarshal(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// append parses body as delivery does and appends it to mailbox mb; it
// owns body. With mustBeMessage, a body without a header is invalidEmail.
func (r *emailRun) append(ctx context.Context, mb int64, body store.Body, t store.DeliveryTarget, received time.Time,
	mustBeMessage bool) (map[string]any, *jmap.Error, error) {
	rc, err := body.Open()
	if err != nil {
		body.Discard()
		return nil, nil, err
	}
	meta, err := r.h.opts.Parse(rc)
	rc.Close()
	if err != nil {
		body.Discard()
		return nil, nil, err
	}
	if mustBeMessage && meta.Headers == "" {
		body.Discard()
		return nil, jmap.NewError(InvalidEmail, "the blob has no header fields"), nil
	}
	m, err := r.h.st.Append(ctx, mb, store.NewBlob{Body: body, Meta: meta}, t, received)
	switch {
	case errors.Is(err, store.ErrOverQuota):
		return nil, jmap.NewError(jmap.OverQuota, ""), nil
	case errors.Is(err, store.ErrNotFound):
		return nil, invalidProps("the mailbox is gone", "mailboxIds"), nil
	case err != nil:
		return nil, r.serverFail("append", "", err), nil
	}
	return createdEmail(m), nil, nil
}

// createdEmail is what a create answers of the new email (RFC 8621 §4.6,
// §4.8): the properties the server set.
func createdEmail(m store.Message) map[string]any {
	return map[string]any{"id": emailID(m.ID), "blobId": blobID(m.BlobID), "threadId": threadID(m.ThreadID), "size": m.Size}
}
