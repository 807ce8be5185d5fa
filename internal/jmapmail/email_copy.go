package jmapmail

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"time"

	"postern/internal/jmap"
	"postern/internal/store"
)

// Email/copy (RFC 8621 §4.7, RFC 8620 §5.4). A login has one account, so
// the only copy there is happens within it (fromAccountId equal to
// accountId): the store's Copy, a new message with its own id that
// shares the body and counts against the quota. Any other account is
// fromAccountNotFound or accountNotFound. The store cannot set the
// received date of a copy, so receivedAt, when given, must be the
// original's.

type copyArgs struct {
	FromAccountID            string                     `json:"fromAccountId"`
	IfFromInState            *string                    `json:"ifFromInState"`
	AccountID                string                     `json:"accountId"`
	IfInState                *string                    `json:"ifInState"`
	Create                   map[string]json.RawMessage `json:"create"`
	OnSuccessDestroyOriginal bool                       `json:"onSuccessDestroyOriginal"`
	DestroyFromIfInState     *string                    `json:"destroyFromIfInState"`
}

type copyResponse struct {
	FromAccountID string                    `json:"fromAccountId"`
	AccountID     string                    `json:"accountId"`
	OldState      string                    `json:"oldState"`
	NewState      string                    `json:"newState"`
	Created       map[string]map[string]any `json:"created"`
	NotCreated    map[string]*jmap.Error    `json:"notCreated"`
}

// emailCopyObject is an Email/copy create: the id and what may differ.
type emailCopyObject struct {
	ID         string          `json:"id"`
	MailboxIDs map[string]bool `json:"mailboxIds"`
	Keywords   json.RawMessage `json:"keywords"`
	ReceivedAt *string         `json:"receivedAt"`
}

func (h *handler) emailCopy(ctx context.Context, c *jmap.Call) (any, error) {
	var a copyArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	if a.FromAccountID != c.Principal.AccountID {
		return nil, jmap.NewError(jmap.FromAccountNotFound, "")
	}
	r, release, err := h.begin(ctx, c, a.AccountID, a.IfInState, len(a.Create))
	if err != nil {
		return nil, err
	}
	defer release()
	if a.IfFromInState != nil && *a.IfFromInState != r.resp.OldState {
		return nil, jmap.NewError(jmap.StateMismatch, "ifFromInState")
	}
	var originals []string
	for _, cid := range sortedKeys(a.Create) {
		o, e, err := r.copyOne(ctx, a.Create[cid])
		if err != nil {
			return nil, err
		}
		r.created(cid, o, e)
		if e == nil {
			originals = append(originals, o["from"].(string))
			delete(o, "from")
		}
	}
	if err := r.finish(ctx); err != nil {
		return nil, err
	}
	resp := copyResponse{FromAccountID: a.FromAccountID, AccountID: a.AccountID, OldState: r.resp.OldState,
		NewState: r.resp.NewState, Created: r.resp.Created, NotCreated: r.resp.NotCreated}
	if !a.OnSuccessDestroyOriginal || len(originals) == 0 {
		return resp, nil
	}
	// The implicit Email/set of RFC 8620 §5.4, answered after the copy.
	if a.DestroyFromIfInState != nil && *a.DestroyFromIfInState != resp.NewState {
		return jmap.Responses{{Name: "Email/copy", Args: resp},
			{Name: "error", Args: jmap.NewError(jmap.StateMismatch, "destroyFromIfInState")}}, nil
	}
	d := &emailRun{h: h, c: c, acct: r.acct, v: r.v, resp: &setResponse{AccountID: a.FromAccountID, OldState: resp.NewState}}
	if err := d.destroy(ctx, originals); err != nil {
		return nil, err
	}
	if err := d.finish(ctx); err != nil {
		return nil, err
	}
	return jmap.Responses{{Name: "Email/copy", Args: resp}, {Name: "Email/set", Args: d.resp}}, nil
}

// copyOne copies one email; the created object carries "from", the
// original's id, for the caller.
func (r *emailRun) copyOne(ctx context.Context, raw json.RawMessage) (map[string]any, *jmap.Error, error) {
	var o emailCopyObject
	if err := strictUnmarshal(raw, &o); err != nil || o.ID == "" || o.MailboxIDs == nil {
		return nil, invalidProps("an Email/copy create has id, mailboxIds, keywords and receivedAt",
			"id", "mailboxIds"), nil
	}
	m, ok, err := r.message(ctx, o.ID)
	if err != nil {
		return nil, nil, storeErr(err)
	}
	if !ok {
		return nil, jmap.NewError(jmap.NotFound, "no such email: "+o.ID), nil
	}
	target, e := r.oneMailbox(o.MailboxIDs)
	if e != nil {
		return nil, e, nil
	}
	kw := keywordsOf(m)
	if o.Keywords != nil && string(o.Keywords) != "null" {
		if kw, e = decodeKeywords(o.Keywords); e != nil {
			return nil, e, nil
		}
	}
	if o.ReceivedAt != nil {
		t, err := time.Parse(time.RFC3339, *o.ReceivedAt)
		if err != nil || !t.Equal(m.InternalDate) {
			return nil, invalidProps("the copy keeps the original's receivedAt", "receivedAt"), nil
		}
	}
	_, dst, err := r.h.st.Copy(ctx, m.MailboxID, []uint32{m.UID}, target, false)
	switch {
	case errors.Is(err, store.ErrOverQuota):
		return nil, jmap.NewError(jmap.OverQuota, ""), nil
	case errors.Is(err, store.ErrNotFound):
		return nil, invalidProps("the mailbox is gone", "mailboxIds"), nil
	case err != nil:
		return nil, r.serverFail("copy", o.ID, err), nil
	case len(dst) == 0:
		return nil, jmap.NewError(jmap.NotFound, "the email went away"), nil
	}
	rows, err := r.h.st.Messages(ctx, target, dst[0], dst[0])
	if err != nil || len(rows) == 0 {
		return nil, r.serverFail("copy", o.ID, errors.Join(err, errors.New("the copy is gone"))), nil
	}
	nm := rows[0]
	if !maps.Equal(kw, keywordsOf(nm)) {
		flags, keywords := flagsOfKeywords(kw)
		_, err := r.h.st.UpdateFlags(ctx, target, []uint32{nm.UID}, store.FlagUpdate{
			Op: store.FlagsReplace, Flags: flags | nm.Flags&store.FlagDeleted, Keywords: keywords})
		if err != nil {
			r.h.st.Expunge(ctx, target, []uint32{nm.UID})
			return nil, r.serverFail("copy", o.ID, err), nil
		}
	}
	out := createdEmail(nm)
	out["from"] = emailID(m.ID)
	return out, nil, nil
}
