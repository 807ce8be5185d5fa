package jmapmail

import (
	"context"

	"postern/internal/jmap"
)

// properties of a Mailbox (RFC 8621 §2), in the order they are answered.
var properties = []string{"id", "name", "parentId", "role", "sortOrder", "totalEmails", "unreadEmails",
	"totalThreads", "unreadThreads", "myRights", "isSubscribed"}

func isProperty(p string) bool {
	for _, q := range properties {
		if p == q {
			return true
		}
	}
	return false
}

type getArgs struct {
	AccountID  string    `json:"accountId"`
	IDs        *[]string `json:"ids"`
	Properties *[]string `json:"properties"`
}

type getResponse struct {
	AccountID string           `json:"accountId"`
	State     string           `json:"state"`
	List      []map[string]any `json:"list"`
	NotFound  []string         `json:"notFound"`
}

// get is Mailbox/get (RFC 8620 §5.1, RFC 8621 §2.1).
func (h *handler) get(ctx context.Context, c *jmap.Call) (any, error) {
	var a getArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	props := properties
	if a.Properties != nil {
		props = []string{"id"} // always returned (RFC 8620 §5.1)
		for _, p := range *a.Properties {
			if !isProperty(p) {
				return nil, jmap.NewError(jmap.InvalidArguments, "unknown property "+p)
			}
			if p != "id" {
				props = append(props, p)
			}
		}
	}
	if a.IDs != nil {
		if err := c.CheckGet(len(*a.IDs)); err != nil {
			return nil, err
		}
	}
	// The state is read before the mailboxes: a change in between shows
	// in the list and again in the next Mailbox/changes, never nowhere.
	modseq, err := h.st.AccountModSeq(ctx, acct)
	if err != nil {
		return nil, storeErr(err)
	}
	v, err := h.loadView(ctx, acct)
	if err != nil {
		return nil, err
	}
	resp := getResponse{AccountID: a.AccountID, State: formatState(modseq), List: []map[string]any{}, NotFound: []string{}}
	var mbs []*mbox
	if a.IDs == nil {
		mbs = v.list
	} else {
		seen := map[string]bool{}
		for _, id := range *a.IDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			if m := v.lookup(c, id); m != nil {
				mbs = append(mbs, m)
			} else {
				resp.NotFound = append(resp.NotFound, id)
			}
		}
	}
	cs, err := h.counts(ctx, acct, v, mbs, props)
	if err != nil {
		return nil, err
	}
	for _, m := range mbs {
		resp.List = append(resp.List, object(m, cs[m.ID], props))
	}
	return resp, nil
}

// lookup finds a mailbox by JMAP id or "#creationId" (RFC 8620 §5.3).
func (v *view) lookup(c *jmap.Call, id string) *mbox {
	if len(id) > 1 && id[0] == '#' {
		var ok bool
		if id, ok = c.CreatedIDs[id[1:]]; !ok {
			return nil
		}
	}
	n, ok := parseMailboxID(id)
	if !ok {
		return nil
	}
	return v.byID[n]
}

// counts reads the counts props asks for, for mbs.
func (h *handler) counts(ctx context.Context, acct int64, v *view, mbs []*mbox, props []string) (map[int64]*counts, error) {
	var emails, threads bool
	for _, p := range props {
		switch p {
		case "totalEmails", "unreadEmails":
			emails = true
		case "totalThreads", "unreadThreads":
			threads = true
		}
	}
	cs := make(map[int64]*counts, len(mbs))
	if emails {
		var err error
		if cs, err = h.emailCounts(ctx, mbs); err != nil {
			return nil, err
		}
	} else {
		for _, m := range mbs {
			cs[m.ID] = &counts{}
		}
	}
	if threads && len(mbs) > 0 {
		if err := h.threadCounts(ctx, acct, v, cs); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// object is the Mailbox object of m with the properties props.
func object(m *mbox, c *counts, props []string) map[string]any {
	o := make(map[string]any, len(props))
	for _, p := range props {
		switch p {
		case "id":
			o[p] = m.id
		case "name":
			o[p] = m.name
		case "parentId":
			o[p] = m.parentID()
		case "role":
			if m.role == "" {
				o[p] = nil
			} else {
				o[p] = m.role
			}
		case "sortOrder":
			o[p] = sortOrder(m.role)
		case "totalEmails":
			o[p] = c.totalEmails
		case "unreadEmails":
			o[p] = c.unreadEmails
		case "totalThreads":
			o[p] = c.totalThreads
		case "unreadThreads":
			o[p] = c.unreadThreads
		case "myRights":
			o[p] = rightsOf(m)
		case "isSubscribed":
			o[p] = m.Subscribed
		}
	}
	return o
}
