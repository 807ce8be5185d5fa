package jmapmail

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"

	"postern/internal/jmap"
	"postern/internal/store"
)

type queryArgs struct {
	AccountID      string          `json:"accountId"`
	Filter         json.RawMessage `json:"filter"`
	Sort           []comparator    `json:"sort"`
	Position       int64           `json:"position"`
	Anchor         *string         `json:"anchor"`
	AnchorOffset   int64           `json:"anchorOffset"`
	Limit          *int64          `json:"limit"`
	CalculateTotal bool            `json:"calculateTotal"`
	SortAsTree     bool            `json:"sortAsTree"`
	FilterAsTree   bool            `json:"filterAsTree"`
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
}

// query is Mailbox/query (RFC 8620 §5.5, RFC 8621 §2.3), over the whole
// list of the account's mailboxes (a few hundred at most), with
// sortAsTree and filterAsTree.
func (h *handler) query(ctx context.Context, c *jmap.Call) (any, error) {
	var a queryArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	f, err := parseFilter(a.Filter, 0)
	if err != nil {
		return nil, err
	}
	less, err := sortFunc(a.Sort)
	if err != nil {
		return nil, err
	}
	if a.Limit != nil && *a.Limit < 0 {
		return nil, jmap.NewError(jmap.InvalidArguments, "limit must not be negative")
	}
	modseq, err := h.st.AccountModSeq(ctx, acct)
	if err != nil {
		return nil, storeErr(err)
	}
	v, err := h.loadView(ctx, acct)
	if err != nil {
		return nil, err
	}
	match := map[*mbox]bool{}
	for _, m := range v.list {
		if f == nil || f.match(c, m) {
			match[m] = true
		}
	}
	var res []*mbox
	for _, m := range v.list {
		if !match[m] {
			continue
		}
		if a.FilterAsTree {
			ok := true
			for p := m.parent; p != nil && ok; p = p.parent {
				ok = match[p]
			}
			if !ok {
				continue
			}
		}
		res = append(res, m)
	}
	if a.SortAsTree {
		sort.SliceStable(res, func(i, j int) bool { return treeLess(res[i], res[j], less) })
	} else {
		sort.SliceStable(res, func(i, j int) bool { return less(res[i], res[j]) })
	}
	return page(c, a, res, formatState(modseq))
}

// page cuts the sorted results by position or anchor and limit (RFC 8620
// §5.5).
func page(c *jmap.Call, a queryArgs, res []*mbox, state string) (any, error) {
	total := int64(len(res))
	start := a.Position
	if a.Anchor != nil {
		m := indexOf(c, res, *a.Anchor)
		if m < 0 {
			return nil, jmap.NewError(jmap.AnchorNotFound, "")
		}
		start = int64(m) + a.AnchorOffset
	} else if start < 0 {
		start += total
	}
	start = max(start, 0)
	resp := queryResponse{AccountID: a.AccountID, QueryState: state, Position: start, IDs: []string{}}
	end := total
	if a.Limit != nil {
		end = min(total, start+*a.Limit)
	}
	for i := start; i < end; i++ {
		resp.IDs = append(resp.IDs, res[i].id)
	}
	if a.CalculateTotal {
		resp.Total = &total
	}
	return resp, nil
}

// indexOf returns the index in res of the mailbox id (or #creationId)
// names, or -1.
func indexOf(c *jmap.Call, res []*mbox, id string) int {
	if len(id) > 1 && id[0] == '#' {
		id = c.CreatedIDs[id[1:]]
	}
	for i, m := range res {
		if m.id == id {
			return i
		}
	}
	return -1
}

// treeLess orders a before its descendants, and otherwise compares the
// ancestors of a and b that are siblings (RFC 8621 §2.3 sortAsTree).
func treeLess(a, b *mbox, less func(a, b *mbox) bool) bool {
	pa, pb := path(a), path(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			return less(pa[i], pb[i])
		}
	}
	return len(pa) < len(pb)
}

// path is m's ancestors from the top, then m.
func path(m *mbox) []*mbox {
	var p []*mbox
	for ; m != nil; m = m.parent {
		p = append(p, m)
	}
	for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// sortFunc builds the order of the comparators; the store's name order
// (then id) breaks ties and is the order when none is given.
func sortFunc(cs []comparator) (func(a, b *mbox) bool, error) {
	type cmpFn func(a, b *mbox) int
	var fns []cmpFn
	for _, c := range cs {
		var fn cmpFn
		switch c.Property {
		case "sortOrder":
			fn = func(a, b *mbox) int { return sortOrder(a.role) - sortOrder(b.role) }
		case "name":
			coll, ok := collations[c.Collation]
			if !ok {
				return nil, jmap.NewError(jmap.UnsupportedSort, "unknown collation "+c.Collation)
			}
			fn = func(a, b *mbox) int { return coll(a.name, b.name) }
		default:
			return nil, jmap.NewError(jmap.UnsupportedSort, "cannot sort by "+c.Property)
		}
		if c.IsAscending != nil && !*c.IsAscending {
			asc := fn
			fn = func(a, b *mbox) int { return -asc(a, b) }
		}
		fns = append(fns, fn)
	}
	return func(a, b *mbox) bool {
		for _, fn := range fns {
			if r := fn(a, b); r != 0 {
				return r < 0
			}
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	}, nil
}

// collations are the ones the core advertises (RFC 4790); "" is the
// default, i;unicode-casemap.
var collations = map[string]func(a, b string) int{
	"":                  unicodeCasemap,
	"i;unicode-casemap": unicodeCasemap,
	"i;ascii-casemap": func(a, b string) int {
		return strings.Compare(asciiLower(a), asciiLower(b))
	},
	"i;ascii-numeric": asciiNumeric,
}

func unicodeCasemap(a, b string) int { return strings.Compare(store.FoldText(a), store.FoldText(b)) }

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// asciiNumeric compares the numbers the strings start with; a string that
// starts with no digit is above every number (RFC 4790 §9.1.1).
func asciiNumeric(a, b string) int {
	da, db := leadingDigits(a), leadingDigits(b)
	switch {
	case da == "" && db == "":
		return 0
	case da == "":
		return 1
	case db == "":
		return -1
	}
	da, db = strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
	if len(da) != len(db) {
		return len(da) - len(db)
	}
	return strings.Compare(da, db)
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// filter is a FilterOperator or a FilterCondition (RFC 8620 §5.5, RFC 8621
// §2.3).
type filter struct {
	operator string // "AND", "OR", "NOT"; "" for a condition
	conds    []*filter

	parentID     *string // with hasParentID: nil asks for top-level
	hasParentID  bool
	name         *string
	role         *string // with hasRole: nil asks for no role
	hasRole      bool
	hasAnyRole   *bool
	isSubscribed *bool
}

// maxFilterDepth bounds nested operators.
const maxFilterDepth = 16

func parseFilter(raw json.RawMessage, depth int) (*filter, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if depth > maxFilterDepth {
		return nil, jmap.NewError(jmap.UnsupportedFilter, "filter nested too deep")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, jmap.NewError(jmap.InvalidArguments, "filter: "+err.Error())
	}
	if _, ok := fields["operator"]; ok {
		var o struct {
			Operator   string            `json:"operator"`
			Conditions []json.RawMessage `json:"conditions"`
		}
		if err := json.Unmarshal(raw, &o); err != nil || len(fields) != 2 || fields["conditions"] == nil {
			return nil, jmap.NewError(jmap.InvalidArguments, "filter operator needs operator and conditions")
		}
		if o.Operator != "AND" && o.Operator != "OR" && o.Operator != "NOT" {
			return nil, jmap.NewError(jmap.UnsupportedFilter, "unknown operator "+o.Operator)
		}
		f := &filter{operator: o.Operator}
		for _, cr := range o.Conditions {
			sub, err := parseFilter(cr, depth+1)
			if err != nil {
				return nil, err
			}
			if sub == nil {
				return nil, jmap.NewError(jmap.InvalidArguments, "null condition")
			}
			f.conds = append(f.conds, sub)
		}
		return f, nil
	}
	f := &filter{}
	for k, v := range fields {
		var err error
		switch k {
		case "parentId":
			f.hasParentID = true
			err = json.Unmarshal(v, &f.parentID)
		case "name":
			err = json.Unmarshal(v, &f.name)
		case "role":
			f.hasRole = true
			err = json.Unmarshal(v, &f.role)
		case "hasAnyRole":
			err = json.Unmarshal(v, &f.hasAnyRole)
		case "isSubscribed":
			err = json.Unmarshal(v, &f.isSubscribed)
		default:
			return nil, jmap.NewError(jmap.UnsupportedFilter, "cannot filter by "+k)
		}
		if err != nil {
			return nil, jmap.NewError(jmap.InvalidArguments, "filter "+k+": "+err.Error())
		}
	}
	return f, nil
}

func (f *filter) match(c *jmap.Call, m *mbox) bool {
	switch f.operator {
	case "AND":
		for _, s := range f.conds {
			if !s.match(c, m) {
				return false
			}
		}
		return true
	case "OR":
		for _, s := range f.conds {
			if s.match(c, m) {
				return true
			}
		}
		return false
	case "NOT":
		for _, s := range f.conds {
			if s.match(c, m) {
				return false
			}
		}
		return true
	}
	if f.hasParentID {
		switch {
		case f.parentID == nil:
			if m.parent != nil {
				return false
			}
		default:
			want := *f.parentID
			if len(want) > 1 && want[0] == '#' {
				want = c.CreatedIDs[want[1:]]
			}
			if m.parent == nil || m.parent.id != want {
				return false
			}
		}
	}
	if f.name != nil && !strings.Contains(store.FoldText(m.name), store.FoldText(*f.name)) {
		return false
	}
	if f.hasRole {
		if f.role == nil && m.role != "" || f.role != nil && m.role != *f.role {
			return false
		}
	}
	if f.hasAnyRole != nil && *f.hasAnyRole != (m.role != "") {
		return false
	}
	if f.isSubscribed != nil && *f.isSubscribed != m.Subscribed {
		return false
	}
	return true
}

type queryChangesArgs struct {
	AccountID       string          `json:"accountId"`
	Filter          json.RawMessage `json:"filter"`
	Sort            []comparator    `json:"sort"`
	SinceQueryState string          `json:"sinceQueryState"`
	MaxChanges      *int64          `json:"maxChanges"`
	UpToID          *string         `json:"upToId"`
	CalculateTotal  bool            `json:"calculateTotal"`
	SortAsTree      bool            `json:"sortAsTree"`
	FilterAsTree    bool            `json:"filterAsTree"`
}

// queryChanges is Mailbox/queryChanges (RFC 8620 §5.6). Mailbox/query
// says canCalculateChanges false, and this always answers
// cannotCalculateChanges: a mailbox list is small, and the client runs the
// query again.
func (h *handler) queryChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var a queryChangesArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	if _, err := account(ctx, c, a.AccountID); err != nil {
		return nil, err
	}
	if _, err := parseFilter(a.Filter, 0); err != nil {
		return nil, err
	}
	if _, err := sortFunc(a.Sort); err != nil {
		return nil, err
	}
	return nil, jmap.NewError(jmap.CannotCalculateChanges, "Mailbox/query results are not tracked; query again")
}
