package jmapsieve

import (
	"bytes"
	"encoding/json"
	"sort"

	"postern/internal/jmap"
)

// The /query methods here list a handful of objects (at most the
// account's scripts, or its two quotas): they filter and sort in memory.

type comparator struct {
	Property    string `json:"property"`
	IsAscending *bool  `json:"isAscending"`
	Collation   string `json:"collation"`
}

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

type queryResponse struct {
	AccountID           string   `json:"accountId"`
	QueryState          string   `json:"queryState"`
	CanCalculateChanges bool     `json:"canCalculateChanges"`
	Position            int64    `json:"position"`
	IDs                 []string `json:"ids"`
	Total               *int64   `json:"total,omitempty"`
	Limit               *int64   `json:"limit,omitempty"`
}

type queryChangesArgs struct {
	AccountID       string          `json:"accountId"`
	Filter          json.RawMessage `json:"filter"`
	Sort            []comparator    `json:"sort"`
	SinceQueryState string          `json:"sinceQueryState"`
	MaxChanges      *int64          `json:"maxChanges"`
	UpToID          *string         `json:"upToId"`
	CalculateTotal  bool            `json:"calculateTotal"`
}

// filter is a FilterOperator or a FilterCondition (RFC 8620 §5.5).
type filter struct {
	op         string // "AND", "OR", "NOT"; "" for a condition
	conditions []*filter
	cond       map[string]json.RawMessage
}

// maxFilterDepth and maxFilterNodes bound a filter tree.
const (
	maxFilterDepth = 10
	maxFilterNodes = 100
)

// decodeFilter reads a filter; check validates each condition (its error
// is the method's: unsupportedFilter or invalidArguments). null is no
// filter.
func decodeFilter(raw json.RawMessage, check func(map[string]json.RawMessage) error) (*filter, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	nodes := 0
	return decodeFilterNode(raw, check, 0, &nodes)
}

func decodeFilterNode(raw json.RawMessage, check func(map[string]json.RawMessage) error, depth int, nodes *int) (*filter, error) {
	if *nodes++; depth > maxFilterDepth || *nodes > maxFilterNodes {
		return nil, jmap.NewError(jmap.UnsupportedFilter, "filter too deep or too large")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, jmap.NewError(jmap.InvalidArguments, "filter must be an object")
	}
	opRaw, isOp := m["operator"]
	if !isOp {
		if err := check(m); err != nil {
			return nil, err
		}
		return &filter{cond: m}, nil
	}
	var f filter
	var subs []json.RawMessage
	if len(m) != 2 || json.Unmarshal(opRaw, &f.op) != nil || json.Unmarshal(m["conditions"], &subs) != nil ||
		(f.op != "AND" && f.op != "OR" && f.op != "NOT") {
		return nil, jmap.NewError(jmap.InvalidArguments, "a FilterOperator is {operator: AND|OR|NOT, conditions: [...]}")
	}
	for _, s := range subs {
		sub, err := decodeFilterNode(s, check, depth+1, nodes)
		if err != nil {
			return nil, err
		}
		f.conditions = append(f.conditions, sub)
	}
	return &f, nil
}

// matches evaluates the filter with cond deciding each condition; a nil
// filter matches everything.
func (f *filter) matches(cond func(map[string]json.RawMessage) bool) bool {
	if f == nil {
		return true
	}
	switch f.op {
	case "":
		return cond(f.cond)
	case "AND":
		for _, c := range f.conditions {
			if !c.matches(cond) {
				return false
			}
		}
		return true
	case "OR":
		for _, c := range f.conditions {
			if c.matches(cond) {
				return true
			}
		}
		return false
	default: // NOT: none of them
		for _, c := range f.conditions {
			if c.matches(cond) {
				return false
			}
		}
		return true
	}
}

// sortBy orders n objects by the comparators; less compares object i and
// j on one property (negative, 0, positive). Ties keep id order.
func sortBy(order []int, cs []comparator, cmp func(property string, i, j int) int) {
	sort.SliceStable(order, func(x, y int) bool {
		for _, c := range cs {
			r := cmp(c.Property, order[x], order[y])
			if c.IsAscending != nil && !*c.IsAscending {
				r = -r
			}
			if r != 0 {
				return r < 0
			}
		}
		return false
	})
}

// checkSort refuses sorts on other properties, or with a collation the
// server does not have (RFC 8620 §5.5 unsupportedSort).
func checkSort(cs []comparator, properties ...string) error {
	for _, c := range cs {
		ok := false
		for _, p := range properties {
			ok = ok || c.Property == p
		}
		if !ok || (c.Collation != "" && c.Collation != "i;unicode-casemap" && c.Collation != "i;ascii-casemap" && c.Collation != "i;octet") {
			return jmap.NewError(jmap.UnsupportedSort, "sort by "+c.Property+" is not supported")
		}
	}
	return nil
}

// window cuts the sorted ids as position, anchor and limit ask (RFC 8620
// §5.5).
func window(ids []string, a queryArgs, state string) (queryResponse, error) {
	resp := queryResponse{AccountID: a.AccountID, QueryState: state, IDs: []string{}}
	n := int64(len(ids))
	if a.CalculateTotal {
		resp.Total = &n
	}
	if a.Limit != nil && *a.Limit < 0 {
		return resp, jmap.NewError(jmap.InvalidArguments, "limit must not be negative")
	}
	start := a.Position
	if a.Anchor != nil {
		at := int64(-1)
		for i, id := range ids {
			if id == *a.Anchor {
				at = int64(i)
			}
		}
		if at < 0 {
			return resp, jmap.NewError(jmap.AnchorNotFound, "")
		}
		start = max(at+a.AnchorOffset, 0)
	} else if start < 0 {
		start = max(n+start, 0)
	}
	start = min(start, n)
	end := n
	if a.Limit != nil && start+*a.Limit < end {
		end = start + *a.Limit
	}
	resp.Position = start
	resp.IDs = append(resp.IDs, ids[start:end]...)
	return resp, nil
}
