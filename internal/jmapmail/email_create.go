package jmapmail

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"postern/internal/jmap"
	"postern/internal/store"
)

// create is one Email/set create: the draft is checked (draft.go), its
// blobs looked up and measured, written as a message (draft_mime.go)
// into a new body, and appended like Email/import.
func (r *emailRun) create(ctx context.Context, cid string, raw json.RawMessage) error {
	o, e, err := r.createOne(ctx, raw)
	if err != nil {
		return err
	}
	r.created(cid, o, e)
	return nil
}

func (r *emailRun) createOne(ctx context.Context, raw json.RawMessage) (map[string]any, *jmap.Error, error) {
	d, e := decodeDraft(raw)
	if e != nil {
		return nil, e, nil
	}
	mb, e := r.oneMailbox(d.mailboxIDs)
	if e != nil {
		return nil, e, nil
	}
	if e, err := r.checkBlobs(ctx, d.body); e != nil || err != nil {
		return nil, e, err
	}
	domain := "localhost"
	if a, err := r.h.st.AccountByID(ctx, r.acct); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
			domain = a.Address[i+1:]
		}
	}
	w, err := r.h.st.NewBody()
	if err != nil {
		return nil, nil, err
	}
	defer w.Abort()
	env := draftEnv{now: time.Now(), msgDomain: domain, open: func(id string) (io.ReadCloser, error) {
		rc, _, _, err := r.h.openBlob(ctx, r.acct, id)
		return rc, err
	}}
	if err := writeDraft(w, d, env); err != nil {
		if errors.Is(err, jmap.ErrBlobNotFound) {
			return nil, jmap.NewError(BlobNotFound, "a blob went away"), nil
		}
		if errors.Is(err, errLongLine) {
			return nil, invalidProps(err.Error()), nil
		}
		return nil, nil, err
	}
	body, err := w.Finish()
	if err != nil {
		return nil, nil, err
	}
	received := d.receivedAt
	if received.IsZero() {
		received = env.now
	}
	flags, keywords := flagsOfKeywords(d.keywords)
	return r.append(ctx, mb, body, store.DeliveryTarget{AccountID: r.acct, Flags: flags, Keywords: keywords}, received, false)
}

// checkBlobs looks up every blob the draft's parts refer to: those that
// exist nowhere are blobNotFound, and together they may not exceed
// maxSizeAttachmentsPerEmail (tooLarge).
func (r *emailRun) checkBlobs(ctx context.Context, root *draftPart) (*jmap.Error, error) {
	var missing []string
	var total int64
	var walk func(p *draftPart) error
	walk = func(p *draftPart) error {
		for _, c := range p.sub {
			if err := walk(c); err != nil {
				return err
			}
		}
		if p.blobID == "" {
			return nil
		}
		rc, size, _, err := r.h.openBlob(ctx, r.acct, p.blobID)
		if errors.Is(err, jmap.ErrBlobNotFound) {
			missing = append(missing, p.blobID)
			return nil
		}
		if err != nil {
			return err
		}
		rc.Close()
		total += size
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return blobNotFound(dedup(missing)...), nil
	}
	if total > r.h.opts.MaxSizeAttachmentsPerEmail {
		return jmap.NewError(jmap.TooLarge, "attachments exceed maxSizeAttachmentsPerEmail"), nil
	}
	return nil, nil
}
