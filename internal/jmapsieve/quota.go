package jmapsieve

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"postern/internal/jmap"
	"postern/internal/store"
)

// An account has at most two quotas (RFC 9425): its storage limit,
// "storage", and its message-count limit, "messages", each present only
// when the administrator set it (a zero limit is no limit, as IMAP
// GETQUOTA shows). Usage is the store's count, kept by every delivery and
// expunge (store.Account.UsedBytes and UsedMessages).
//
// The state is the four numbers themselves, "usedBytes.quotaBytes.
// usedMessages.quotaMessages": Quota/changes then knows exactly which
// quota changed since any state it gave out, with no history kept.

var quotaProperties = []string{"id", "resourceType", "used", "hardLimit", "scope", "name", "types"}

// quota is one Quota object.
type quota struct {
	id, resourceType, name string
	used, limit            int64
}

func quotasOf(a store.Account) []quota {
	var out []quota
	if a.QuotaBytes > 0 {
		out = append(out, quota{id: "storage", resourceType: "octets", name: a.Address + " storage",
			used: max(a.UsedBytes, 0), limit: a.QuotaBytes})
	}
	if a.QuotaMessages > 0 {
		out = append(out, quota{id: "messages", resourceType: "count", name: a.Address + " messages",
			used: max(a.UsedMessages, 0), limit: a.QuotaMessages})
	}
	return out
}

func (q quota) object(props []string) map[string]any {
	o := make(map[string]any, len(props))
	for _, p := range props {
		switch p {
		case "id":
			o[p] = q.id
		case "resourceType":
			o[p] = q.resourceType
		case "used":
			o[p] = q.used
		case "hardLimit":
			o[p] = q.limit
		case "scope":
			o[p] = "account"
		case "name":
			o[p] = q.name
		case "types":
			o[p] = []string{"Mail"}
		}
	}
	return o
}

func quotaState(a store.Account) string {
	return fmt.Sprintf("%d.%d.%d.%d", max(a.UsedBytes, 0), a.QuotaBytes, max(a.UsedMessages, 0), a.QuotaMessages)
}

// parseQuotaState reads a state made by quotaState back into the account
// numbers it was made of.
func parseQuotaState(s string) (store.Account, bool) {
	var a store.Account
	if len(s) > 100 {
		return a, false
	}
	n, err := fmt.Sscanf(s, "%d.%d.%d.%d", &a.UsedBytes, &a.QuotaBytes, &a.UsedMessages, &a.QuotaMessages)
	return a, err == nil && n == 4 && quotaState(a) == s
}

// quotaGet is Quota/get (RFC 9425 §4.1).
func (h *Handler) quotaGet(ctx context.Context, c *jmap.Call) (any, error) {
	var a getArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	props, err := selectProperties(a.Properties, quotaProperties)
	if err != nil {
		return nil, err
	}
	qs := quotasOf(acct)
	resp := getResponse{AccountID: a.AccountID, State: quotaState(acct), List: []map[string]any{}, NotFound: []string{}}
	if a.IDs == nil {
		for _, q := range qs {
			resp.List = append(resp.List, q.object(props))
		}
		return resp, nil
	}
	if err := c.CheckGet(len(*a.IDs)); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, id := range *a.IDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		found := false
		for _, q := range qs {
			if q.id == id {
				resp.List = append(resp.List, q.object(props))
				found = true
			}
		}
		if !found {
			resp.NotFound = append(resp.NotFound, id)
		}
	}
	return resp, nil
}

type changesArgs struct {
	AccountID  string `json:"accountId"`
	SinceState string `json:"sinceState"`
	MaxChanges *int64 `json:"maxChanges"`
}

type changesResponse struct {
	AccountID      string   `json:"accountId"`
	OldState       string   `json:"oldState"`
	NewState       string   `json:"newState"`
	HasMoreChanges bool     `json:"hasMoreChanges"`
	Created        []string `json:"created"`
	Updated        []string `json:"updated"`
	Destroyed      []string `json:"destroyed"`
}

// quotaChanges is Quota/changes (RFC 9425 §4.2): the difference between
// the quotas the old state describes and today's.
func (h *Handler) quotaChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var a changesArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	if a.MaxChanges != nil && *a.MaxChanges <= 0 {
		return nil, jmap.NewError(jmap.InvalidArguments, "maxChanges must be a positive integer")
	}
	then, ok := parseQuotaState(a.SinceState)
	if !ok {
		return nil, jmap.NewError(jmap.CannotCalculateChanges, "not a state of this server")
	}
	resp := changesResponse{AccountID: a.AccountID, OldState: a.SinceState, NewState: quotaState(acct),
		Created: []string{}, Updated: []string{}, Destroyed: []string{}}
	before := map[string]quota{}
	then.Address = acct.Address
	for _, q := range quotasOf(then) {
		before[q.id] = q
	}
	for _, q := range quotasOf(acct) {
		old, had := before[q.id]
		delete(before, q.id)
		switch {
		case !had:
			resp.Created = append(resp.Created, q.id)
		case old != q:
			resp.Updated = append(resp.Updated, q.id)
		}
	}
	for _, id := range []string{"storage", "messages"} {
		if _, gone := before[id]; gone {
			resp.Destroyed = append(resp.Destroyed, id)
		}
	}
	if a.MaxChanges != nil && int64(len(resp.Created)+len(resp.Updated)+len(resp.Destroyed)) > *a.MaxChanges {
		// Two quotas at most: no intermediate state to stop at.
		return nil, jmap.NewError(jmap.CannotCalculateChanges, "more changes than maxChanges")
	}
	return resp, nil
}

// checkQuotaFilter accepts the FilterCondition of RFC 9425 §4.3.1.
func checkQuotaFilter(cond map[string]json.RawMessage) error {
	for k, v := range cond {
		var err error
		switch k {
		case "name", "resourceType", "type":
			var s string
			err = json.Unmarshal(v, &s)
		case "scope":
			var s []string
			err = json.Unmarshal(v, &s)
		default:
			return jmap.NewError(jmap.UnsupportedFilter, "unknown filter property "+k)
		}
		if err != nil {
			return jmap.NewError(jmap.InvalidArguments, "filter "+k+": wrong type")
		}
	}
	return nil
}

func quotaMatches(q quota) func(map[string]json.RawMessage) bool {
	return func(cond map[string]json.RawMessage) bool {
		for k, v := range cond {
			var s string
			var list []string
			switch k {
			case "name":
				json.Unmarshal(v, &s)
				if !strings.Contains(q.name, s) {
					return false
				}
			case "resourceType":
				json.Unmarshal(v, &s)
				if s != q.resourceType {
					return false
				}
			case "type":
				json.Unmarshal(v, &s)
				if s != "Mail" {
					return false
				}
			case "scope":
				json.Unmarshal(v, &list)
				in := false
				for _, x := range list {
					in = in || x == "account"
				}
				if !in {
					return false
				}
			}
		}
		return true
	}
}

// quotaQuery is Quota/query (RFC 9425 §4.3); sorts by name or used.
func (h *Handler) quotaQuery(ctx context.Context, c *jmap.Call) (any, error) {
	var a queryArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	f, err := decodeFilter(a.Filter, checkQuotaFilter)
	if err != nil {
		return nil, err
	}
	if err := checkSort(a.Sort, "name", "used"); err != nil {
		return nil, err
	}
	var qs []quota
	for _, q := range quotasOf(acct) {
		if f.matches(quotaMatches(q)) {
			qs = append(qs, q)
		}
	}
	order := make([]int, len(qs))
	for i := range order {
		order[i] = i
	}
	sortBy(order, a.Sort, func(p string, i, j int) int {
		if p == "name" {
			return strings.Compare(strings.ToLower(qs[i].name), strings.ToLower(qs[j].name))
		}
		return cmpInt(qs[i].used, qs[j].used)
	})
	ids := make([]string, len(order))
	for k, i := range order {
		ids[k] = qs[i].id
	}
	return window(ids, a, quotaState(acct))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// quotaQueryChanges is Quota/queryChanges: always cannotCalculateChanges
// (RFC 8620 §5.6 allows it); a client queries again, two ids at most.
func (h *Handler) quotaQueryChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var a queryChangesArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	if _, err := h.account(ctx, c, a.AccountID); err != nil {
		return nil, err
	}
	return nil, jmap.NewError(jmap.CannotCalculateChanges, "query again")
}
