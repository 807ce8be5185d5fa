package jmapsubmit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"postern/internal/jmap"
	"postern/internal/store"
)

// EmailSubmission/query (RFC 8621 §7.3) over the account's records, which
// are few: they are purged after Options.KeepFor.

type queryArgs struct {
	AccountID      string          `json:"accountId"`
	Filter         json.RawMessage `json:"filter"`
	Sort           []comparator    `json:"sort"`
	Position       int64           `json:"position"`
	Anchor         *string         `json:"anchor"`
	AnchorOffset   int64           `json:"anchorOffset"`
	Limit          *int64          `json:"limit"`
	CalculateTotal bool            `json:"calculateTotal"`
}

type comparator struct {
	Property    string `json:"property"`
	IsAscending *bool  `json:"isAscending"`
	Collation   string `json:"collation"`
}

type queryResponse struct {
	AccountID           string   `json:"accountId"`
	QueryState          string   `json:"queryState"`
	CanCalculateChanges bool     `json:"canCalculateChanges"`
	Position            int64    `json:"position"`
	IDs                 []string `json:"ids"`
	Total               *int64   `json:"total,omitempty"`
	Limit               *int64   `json:"limit,omitempty"`
}

// filter is a FilterOperator or a FilterCondition.
type filter struct {
	operator   string
	conditions []*filter

	identityIDs, emailIDs, threadIDs []string
	undoStatus                       *string
	before, after                    *time.Time
}

const maxFilterDepth = 10

// parseFilter decodes a Filter: an operator with "conditions", or a
// condition of RFC 8621 §7.3; null is no filter.
func parseFilter(raw json.RawMessage, depth int) (*filter, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	if depth > maxFilterDepth {
		return nil, jmap.NewError(jmap.UnsupportedFilter, "filter nested too deep")
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, jmap.NewError(jmap.InvalidArguments, "filter is not an object")
	}
	if _, ok := probe["operator"]; ok {
		var op struct {
			Operator   string            `json:"operator"`
			Conditions []json.RawMessage `json:"conditions"`
		}
		if err := strictDecode(raw, &op); err != nil || (op.Operator != "AND" && op.Operator != "OR" && op.Operator != "NOT") {
			return nil, jmap.NewError(jmap.InvalidArguments, "not a FilterOperator")
		}
		f := &filter{operator: op.Operator}
		for _, c := range op.Conditions {
			sub, err := parseFilter(c, depth+1)
			if err != nil {
				return nil, err
			}
			if sub != nil {
				f.conditions = append(f.conditions, sub)
			}
		}
		return f, nil
	}
	var cond struct {
		IdentityIDs []string `json:"identityIds"`
		EmailIDs    []string `json:"emailIds"`
		ThreadIDs   []string `json:"threadIds"`
		UndoStatus  *string  `json:"undoStatus"`
		Before      *string  `json:"before"`
		After       *string  `json:"after"`
	}
	if err := strictDecode(raw, &cond); err != nil {
		return nil, jmap.NewError(jmap.UnsupportedFilter, err.Error())
	}
	f := &filter{identityIDs: cond.IdentityIDs, emailIDs: cond.EmailIDs, threadIDs: cond.ThreadIDs, undoStatus: cond.UndoStatus}
	for _, d := range []struct {
		in  *string
		out **time.Time
	}{{cond.Before, &f.before}, {cond.After, &f.after}} {
		if d.in == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339, *d.in)
		if err != nil || t.Location() != time.UTC {
			return nil, jmap.NewError(jmap.InvalidArguments, "not a UTCDate: "+*d.in)
		}
		*d.out = &t
	}
	return f, nil
}

func strictDecode(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// match tells whether s passes the filter; ids in the filter may be
// "#creationId" references.
func (f *filter) match(c *jmap.Call, s store.EmailSubmission) bool {
	switch f.operator {
	case "AND":
		for _, sub := range f.conditions {
			if !sub.match(c, s) {
				return false
			}
		}
		return true
	case "OR":
		for _, sub := range f.conditions {
			if sub.match(c, s) {
				return true
			}
		}
		return false
	case "NOT":
		for _, sub := range f.conditions {
			if sub.match(c, s) {
				return false
			}
		}
		return true
	}
	in := func(list []string, id string) bool {
		for _, x := range list {
			if got, _ := resolveID(c, x); got == id {
				return true
			}
		}
		return false
	}
	switch {
	case f.identityIDs != nil && !in(f.identityIDs, formatID('i', s.IdentityID)),
		f.emailIDs != nil && !in(f.emailIDs, formatID('e', s.EmailID)),
		f.threadIDs != nil && !in(f.threadIDs, formatID('t', s.ThreadID)),
		f.undoStatus != nil && *f.undoStatus != s.UndoStatus,
		f.before != nil && !s.SendAt.Before(*f.before),
		f.after != nil && s.SendAt.Before(*f.after):
		return false
	}
	return true
}

// sortFunc builds the order of a sort: emailId, threadId, sentAt (RFC
// 8621 §7.3), ties broken by id.
func sortFunc(cs []comparator) (func(a, b store.EmailSubmission) int, error) {
	var keys []func(a, b store.EmailSubmission) int
	for _, c := range cs {
		var key func(a, b store.EmailSubmission) int
		switch c.Property {
		case "emailId":
			key = func(a, b store.EmailSubmission) int { return cmp.Compare(a.EmailID, b.EmailID) }
		case "threadId":
			key = func(a, b store.EmailSubmission) int { return cmp.Compare(a.ThreadID, b.ThreadID) }
		case "sentAt":
			key = func(a, b store.EmailSubmission) int { return a.SendAt.Compare(b.SendAt) }
		default:
			return nil, jmap.NewError(jmap.UnsupportedSort, "cannot sort by "+c.Property)
		}
		if c.Collation != "" && !slices.Contains([]string{"i;ascii-numeric", "i;ascii-casemap", "i;unicode-casemap"}, c.Collation) {
			return nil, jmap.NewError(jmap.UnsupportedSort, "unknown collation "+c.Collation)
		}
		if c.IsAscending != nil && !*c.IsAscending {
			asc := key
			key = func(a, b store.EmailSubmission) int { return -asc(a, b) }
		}
		keys = append(keys, key)
	}
	return func(a, b store.EmailSubmission) int {
		for _, k := range keys {
			if r := k(a, b); r != 0 {
				return r
			}
		}
		return cmp.Compare(a.ID, b.ID)
	}, nil
}

// submissionQuery is EmailSubmission/query.
func (h *handler) submissionQuery(ctx context.Context, c *jmap.Call) (any, error) {
	var a queryArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	f, err := parseFilter(a.Filter, 0)
	if err != nil {
		return nil, err
	}
	order, err := sortFunc(a.Sort)
	if err != nil {
		return nil, err
	}
	if a.Limit != nil && *a.Limit < 0 {
		return nil, jmap.NewError(jmap.InvalidArguments, "limit must not be negative")
	}
	all, state, err := h.st.EmailSubmissions(ctx, acct.ID, nil)
	if err != nil {
		return nil, storeErr(err)
	}
	var res []store.EmailSubmission
	for _, s := range all {
		if f == nil || f.match(c, s) {
			res = append(res, s)
		}
	}
	slices.SortStableFunc(res, order)
	total := int64(len(res))
	start := a.Position
	if a.Anchor != nil {
		anchor, _ := resolveID(c, *a.Anchor)
		i := slices.IndexFunc(res, func(s store.EmailSubmission) bool { return formatID('s', s.ID) == anchor })
		if i < 0 {
			return nil, jmap.NewError(jmap.AnchorNotFound, "")
		}
		start = int64(i) + a.AnchorOffset
	} else if start < 0 {
		start += total
	}
	start = min(max(start, 0), total)
	end := total
	if a.Limit != nil {
		end = min(total, start+*a.Limit)
	}
	resp := queryResponse{AccountID: a.AccountID, QueryState: formatState(state), Position: start, IDs: []string{}}
	for _, s := range res[start:end] {
		resp.IDs = append(resp.IDs, formatID('s', s.ID))
	}
	if a.CalculateTotal {
		resp.Total = &total
	}
	return resp, nil
}

// submissionQueryChanges is EmailSubmission/queryChanges: the records keep
// no history of the results, so it always answers cannotCalculateChanges
// (RFC 8620 §5.6), and query says canCalculateChanges false.
func (h *handler) submissionQueryChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var a struct {
		AccountID       string          `json:"accountId"`
		Filter          json.RawMessage `json:"filter"`
		Sort            []comparator    `json:"sort"`
		SinceQueryState string          `json:"sinceQueryState"`
		MaxChanges      *int64          `json:"maxChanges"`
		UpToID          *string         `json:"upToId"`
		CalculateTotal  bool            `json:"calculateTotal"`
	}
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	if _, err := h.account(ctx, c, a.AccountID); err != nil {
		return nil, err
	}
	return nil, jmap.NewError(jmap.CannotCalculateChanges, "")
}
