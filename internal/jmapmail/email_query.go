package jmapmail

// Email/query (RFC 8620 §5.5, RFC 8621 §4.4) has three ways to its
// answer:
//
//   - The webmail's list, one inMailbox condition sorted by receivedAt
//     (either way, with or without collapseThreads), is read from the
//     store's received-order index (MessagesByDate) and stops at the end
//     of the page: its cost follows position + limit, not the mailbox
//     (unless it is asked for a total, a negative position or an anchor,
//     which walk the index, still without reading a row). Only this query
//     says canCalculateChanges, and Email/queryChanges answers it.
//   - A list of one mailbox by receivedAt with conditions a light row
//     decides (keywords, sizes, dates, attachments: the unread, the
//     flagged) reads the same index a batch at a time and searches each
//     batch, until the page is full (byDateFiltered).
//   - Any other query is translated into internal/query criteria and
//     searched mailbox by mailbox (the mailboxes the filter can match),
//     then ordered with query.Order; the light rows carry the threads for
//     collapseThreads. Thread conditions and sorts read the account's
//     light listing (threads, flags, keywords).

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"

	"postern/internal/jmap"
	"postern/internal/query"
	"postern/internal/store"
)

// maxQueryLimit bounds the ids of one Email/query answer; a larger limit
// (or none) is cut to it and the response says so (RFC 8620 §5.5).
const maxQueryLimit = 10000

type emailQueryArgs struct {
	AccountID       string            `json:"accountId"`
	Filter          json.RawMessage   `json:"filter"`
	Sort            []emailComparator `json:"sort"`
	Position        int64             `json:"position"`
	Anchor          *string           `json:"anchor"`
	AnchorOffset    int64             `json:"anchorOffset"`
	Limit           *int64            `json:"limit"`
	CalculateTotal  bool              `json:"calculateTotal"`
	CollapseThreads bool              `json:"collapseThreads"`
}

// emailComparator is a Comparator of Email/query (RFC 8621 §4.4.2).
type emailComparator struct {
	Property    string `json:"property"`
	IsAscending *bool  `json:"isAscending"`
	Collation   string `json:"collation"`
	Keyword     string `json:"keyword"`
}

type emailQueryResponse struct {
	AccountID           string   `json:"accountId"`
	QueryState          string   `json:"queryState"`
	CanCalculateChanges bool     `json:"canCalculateChanges"`
	Position            int64    `json:"position"`
	IDs                 []string `json:"ids"`
	Total               *int64   `json:"total,omitempty"`
	Limit               *int64   `json:"limit,omitempty"`
	CollapseThreads     bool     `json:"collapseThreads"`
}

// emailSortProperties are the sorts Email/query supports, advertised as
// emailQuerySortOptions.
var emailSortProperties = []string{"receivedAt", "sentAt", "size", "from", "to", "subject",
	"hasKeyword", "allInThreadHaveKeyword", "someInThreadHaveKeyword"}

var sortCollations = map[string]query.Collation{
	"":                  query.CollateUnicodeCasemap,
	"i;unicode-casemap": query.CollateUnicodeCasemap,
	"i;ascii-casemap":   query.CollateASCIICasemap,
	"i;ascii-numeric":   query.CollateASCIINumeric,
}

// emailQuery is a decoded, checked Email/query (or queryChanges).
type emailQuery struct {
	filter   *emailFilter
	sort     []emailComparator
	keys     []query.SortKey // without the thread sets, filled later
	collapse bool
	// byDate is set for the webmail's list (see the top of this file),
	// with its mailbox; newestFirst for every query by receivedAt alone.
	byDate      bool
	mailbox     string
	newestFirst bool
}

func parseEmailQuery(raw json.RawMessage, sort []emailComparator, collapse bool) (*emailQuery, error) {
	f, err := parseEmailFilter(raw)
	if err != nil {
		return nil, err
	}
	q := &emailQuery{filter: f, sort: sort, collapse: collapse}
	if len(sort) == 0 {
		// No sort asked: the newest first, as a mail list shows.
		q.sort = []emailComparator{{Property: "receivedAt", IsAscending: new(bool)}}
	}
	for _, c := range q.sort {
		k, err := sortKey(c)
		if err != nil {
			return nil, err
		}
		q.keys = append(q.keys, k)
	}
	if len(q.keys) == 1 && q.keys[0].Field == query.SortArrival {
		q.newestFirst = q.keys[0].Reverse
		q.mailbox, q.byDate = f.onlyInMailbox()
	}
	return q, nil
}

func sortKey(c emailComparator) (query.SortKey, error) {
	coll, ok := sortCollations[c.Collation]
	if !ok {
		return query.SortKey{}, jmap.NewError(jmap.UnsupportedSort, "unknown collation "+c.Collation)
	}
	k := query.SortKey{Reverse: c.IsAscending != nil && !*c.IsAscending, Collation: coll}
	switch c.Property {
	case "receivedAt":
		k.Field = query.SortArrival
	case "sentAt":
		k.Field = query.SortDate
	case "size":
		k.Field = query.SortSize
	case "from":
		k.Field = query.SortDisplayFrom
	case "to":
		k.Field = query.SortDisplayTo
	case "subject":
		k.Field = query.SortSubject
	case "hasKeyword", "allInThreadHaveKeyword", "someInThreadHaveKeyword":
		if !validKeyword(c.Keyword) {
			return k, jmap.NewError(jmap.InvalidArguments, "sort "+c.Property+" needs a keyword")
		}
		k.Field, k.Keyword = query.SortHasKeyword, c.Keyword
		if c.Property != "hasKeyword" {
			k.Field = query.SortInSet
		} else if f, ok := systemFlag(c.Keyword); ok {
			k.Flags = f
		}
	default:
		return k, jmap.NewError(jmap.UnsupportedSort, "cannot sort by "+c.Property)
	}
	return k, nil
}

// registerQuery adds Email/changes, Email/query, Email/queryChanges and
// SearchSnippet/get to srv.
func (h *handler) registerQuery(srv *jmap.Server) {
	srv.Handle("Email/changes", Capability, h.emailChanges)
	srv.Handle("Email/query", Capability, h.emailQuery)
	srv.Handle("Email/queryChanges", Capability, h.emailQueryChanges)
	srv.Handle("SearchSnippet/get", Capability, h.searchSnippetGet)
}

// emailQuery is Email/query.
func (h *handler) emailQuery(ctx context.Context, c *jmap.Call) (any, error) {
	var a emailQueryArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	q, err := parseEmailQuery(a.Filter, a.Sort, a.CollapseThreads)
	if err != nil {
		return nil, err
	}
	if a.Limit != nil && *a.Limit < 0 {
		return nil, jmap.NewError(jmap.InvalidArguments, "limit must not be negative")
	}
	// The state first: a change during the query shows again in
	// Email/queryChanges.
	state, err := h.st.AccountModSeq(ctx, acct)
	if err != nil {
		return nil, storeErr(err)
	}
	resp := emailQueryResponse{AccountID: a.AccountID, QueryState: formatState(state),
		CanCalculateChanges: q.byDate, IDs: []string{}, CollapseThreads: a.CollapseThreads}
	limit := int64(maxQueryLimit)
	if a.Limit != nil && *a.Limit <= maxQueryLimit {
		limit = *a.Limit
	} else {
		resp.Limit = &limit
	}
	var res *results
	if q.byDate {
		res, err = h.byDate(ctx, c, acct, q, a, limit)
	} else if mb, ok, err2 := h.oneMailboxByDate(ctx, c, acct, q); err2 != nil {
		return nil, err2
	} else if ok {
		res, err = h.byDateFiltered(ctx, c, mb, q, a, limit)
	} else {
		res, err = h.search(ctx, c, acct, q)
	}
	if err != nil {
		return nil, err
	}
	start, ids, err := res.page(c, a, limit)
	if err != nil {
		return nil, err
	}
	resp.Position = start
	for _, id := range ids {
		resp.IDs = append(resp.IDs, emailID(id))
	}
	if a.CalculateTotal {
		total := res.total
		resp.Total = &total
	}
	return resp, nil
}

// results are the ids of a query in order, from 0 or (when only a page
// was read) from offset; total is the number of all.
type results struct {
	ids    []int64
	offset int64
	total  int64
}

// page cuts the results by position or anchor and limit (RFC 8620 §5.5):
// a negative position counts from the end, and a start below 0 is 0; a
// start at or past the end gives no ids.
func (r *results) page(c *jmap.Call, a emailQueryArgs, limit int64) (int64, []int64, error) {
	start := a.Position
	if a.Anchor != nil {
		want, ok := parseID(resolveCreated(c, *a.Anchor), 'e')
		i := slices.Index(r.ids, want)
		if !ok || i < 0 {
			return 0, nil, jmap.NewError(jmap.AnchorNotFound, "")
		}
		start = r.offset + int64(i) + a.AnchorOffset
	} else if start < 0 {
		start += r.total
	}
	start = max(start, 0)
	from := min(max(start-r.offset, 0), int64(len(r.ids)))
	to := min(from+limit, int64(len(r.ids)))
	return start, r.ids[from:to], nil
}

// byDate answers the webmail's list from the store's received-order index:
// the mailbox's messages newest (or oldest) first, a thread's first
// message only when collapsing, read up to the end of the page unless the
// whole list is needed (a total, a negative position, an anchor).
func (h *handler) byDate(ctx context.Context, c *jmap.Call, acct int64, q *emailQuery, a emailQueryArgs, limit int64) (*results, error) {
	res := &results{}
	mb, ok := parseMailboxID(resolveCreated(c, q.mailbox))
	if !ok {
		return res, nil
	}
	if owned, err := h.ownsMailbox(ctx, acct, mb); err != nil || !owned {
		return res, err
	}
	// A total alone does not need the whole list: it is counted apart,
	// once per state of the mailbox (totals.go), and the page is read as
	// without it.
	whole := a.Anchor != nil || a.Position < 0
	stop := a.Position + limit // the results needed when not whole
	var seen map[int64]bool
	if q.collapse {
		seen = map[int64]bool{}
	}
	err := h.st.MessagesByDate(ctx, mb, q.newestFirst, nil, func(m store.Message) bool {
		if seen != nil {
			if seen[m.ThreadID] {
				return true
			}
			seen[m.ThreadID] = true
		}
		res.total++
		if whole || res.total > a.Position {
			res.ids = append(res.ids, m.ID)
		}
		return whole || res.total < stop
	})
	if err != nil {
		return nil, err
	}
	if !whole {
		res.offset = min(a.Position, res.total)
		if a.CalculateTotal {
			total, err := h.totals.count(ctx, h.st, mb, q.collapse)
			if err != nil {
				return nil, err
			}
			res.total = total
		}
	}
	return res, nil
}

// oneMailboxByDate tells whether the query is a list of one mailbox by
// receivedAt with conditions a light row decides (the unread, the
// flagged, the large...), and which mailbox: byDateFiltered answers it.
func (h *handler) oneMailboxByDate(ctx context.Context, c *jmap.Call, acct int64, q *emailQuery) (int64, bool, error) {
	if len(q.keys) != 1 || q.keys[0].Field != query.SortArrival || q.filter == nil || !q.filter.lightOnly() {
		return 0, false, nil
	}
	mbs, err := h.st.Mailboxes(ctx, acct)
	if err != nil {
		return 0, false, storeErr(err)
	}
	var found []int64
	for _, mb := range mbs {
		if q.filter.inMailboxes(c, mb.ID) != never {
			found = append(found, mb.ID)
		}
	}
	if len(found) != 1 {
		return 0, false, nil
	}
	return found[0], true, nil
}

// byDateBatch is the first number of messages byDateFiltered reads from
// the received-order index at a time; it doubles up to byDateBatchMax
// while matches are rare.
const (
	byDateBatch    = 256
	byDateBatchMax = 8192
)

// byDateFiltered answers a list of one mailbox by receivedAt with
// conditions on light rows: the received-order index is read a batch at
// a time, each batch searched (query.Search over its UIDs, one range of
// the light listing), and the matches taken in date order until the page
// is full. Like byDate, a total, a negative position or an anchor reads
// the whole mailbox.
func (h *handler) byDateFiltered(ctx context.Context, c *jmap.Call, mb int64, q *emailQuery, a emailQueryArgs, limit int64) (*results, error) {
	crit := q.filter.criterion(c, mb, nil)
	res := &results{}
	whole := a.CalculateTotal || a.Anchor != nil || a.Position < 0
	stop := a.Position + limit
	seen := map[int64]bool{}
	var after *store.Message
	for size := byDateBatch; ; size = min(2*size, byDateBatchMax) {
		batch := make([]store.Message, 0, size)
		err := h.st.MessagesByDate(ctx, mb, q.newestFirst, after, func(m store.Message) bool {
			batch = append(batch, m)
			return len(batch) < size
		})
		if err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			break
		}
		after = &batch[len(batch)-1]
		uids := make([]uint32, len(batch))
		for i, m := range batch {
			uids[i] = m.UID
		}
		slices.Sort(uids)
		matched, err := query.Search(ctx, h.st, query.Query{MailboxID: mb, UIDs: uids, Criteria: crit}, query.LoadUID)
		if err != nil {
			return nil, searchErr(err)
		}
		hit := make(map[uint32]bool, len(matched))
		for _, m := range matched {
			hit[m.UID] = true
		}
		for _, m := range batch {
			if !hit[m.UID] || q.collapse && seen[m.ThreadID] {
				continue
			}
			if q.collapse {
				seen[m.ThreadID] = true
			}
			res.total++
			if whole || res.total > a.Position {
				res.ids = append(res.ids, m.ID)
			}
			if !whole && res.total >= stop {
				res.offset = a.Position
				return res, nil
			}
		}
		if len(batch) < size {
			break
		}
	}
	if !whole {
		res.offset = min(a.Position, res.total)
	}
	return res, nil
}

// ownsMailbox tells whether mailbox mb is the account's.
func (h *handler) ownsMailbox(ctx context.Context, acct, mb int64) (bool, error) {
	mbs, err := h.st.Mailboxes(ctx, acct)
	if err != nil {
		return false, storeErr(err)
	}
	return slices.ContainsFunc(mbs, func(m store.Mailbox) bool { return m.ID == mb }), nil
}

// search answers any query: each mailbox the filter can match is searched
// through internal/query (light rows, which carry the threads for
// collapseThreads), and the matches of all are ordered together. Ties are
// broken by id, in the direction of the first sort.
func (h *handler) search(ctx context.Context, c *jmap.Call, acct int64, q *emailQuery) (*results, error) {
	mbs, err := h.st.Mailboxes(ctx, acct)
	if err != nil {
		return nil, storeErr(err)
	}
	var threads *threadKeywordSets
	kws := map[string]bool{}
	q.filter.threadKeywords(kws)
	for _, k := range q.keys {
		if k.Field == query.SortInSet {
			kws[k.Keyword] = true
		}
	}
	if len(kws) > 0 {
		if threads, err = h.loadThreadKeywords(ctx, mbs, kws); err != nil {
			return nil, err
		}
	}
	keys := slices.Clone(q.keys)
	for i, k := range keys {
		if k.Field == query.SortInSet {
			keys[i].IDs = threads.some[k.Keyword]
			if q.sort[i].Property == "allInThreadHaveKeyword" {
				keys[i].IDs = threads.all[k.Keyword]
			}
		}
	}
	// Light rows: query.Order reads the envelopes it needs in chunks.
	load := query.LoadFlags
	var found []store.Message
	for _, mb := range mbs {
		if q.filter.inMailboxes(c, mb.ID) == never {
			continue
		}
		crit := q.filter.criterion(c, mb.ID, threads)
		msgs, err := query.Search(ctx, h.st, query.Query{MailboxID: mb.ID, Criteria: crit}, load)
		if err != nil && !errorsIsNotFound(err) {
			return nil, searchErr(err)
		}
		found = append(found, msgs...)
	}
	reverse := len(keys) > 0 && keys[0].Reverse
	slices.SortFunc(found, func(a, b store.Message) int {
		if reverse {
			return cmp.Compare(b.ID, a.ID)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	ordered, err := query.Order(ctx, h.st, found, keys)
	if err != nil {
		return nil, err
	}
	res := &results{ids: make([]int64, 0, len(ordered))}
	seen := map[int64]bool{}
	for _, m := range ordered {
		if q.collapse {
			if seen[m.ThreadID] {
				continue
			}
			seen[m.ThreadID] = true
		}
		res.ids = append(res.ids, m.ID)
	}
	res.total = int64(len(res.ids))
	return res, nil
}

// threadKeywordSets are the thread-wide answers a query needs, over the
// whole account: for each keyword the messages of the threads where all
// (all) or some (some) messages have it.
type threadKeywordSets struct {
	all, some map[string]query.MessageIDs
}

// loadThreadKeywords reads the account's light listing (MessageFlags of
// every mailbox: thread, flags and keywords of each message) and makes
// the sets of the keywords kws.
func (h *handler) loadThreadKeywords(ctx context.Context, mbs []store.Mailbox, kws map[string]bool) (*threadKeywordSets, error) {
	ts := &threadKeywordSets{all: map[string]query.MessageIDs{}, some: map[string]query.MessageIDs{}}
	var rows []store.Message
	for _, mb := range mbs {
		ms, err := h.st.MessageFlags(ctx, mb.ID, 1, 0)
		if err != nil && !errorsIsNotFound(err) {
			return nil, err
		}
		rows = append(rows, ms...)
	}
	for k := range kws {
		crit := keywordCriterion(k)
		has := map[int64]int{} // thread -> messages with k
		count := map[int64]int{}
		for i := range rows {
			t := rows[i].ThreadID
			count[t]++
			if hasKeywordRow(&rows[i], crit) {
				has[t]++
			}
		}
		all, some := query.MessageIDs{}, query.MessageIDs{}
		for i := range rows {
			if t := rows[i].ThreadID; has[t] > 0 {
				some[rows[i].ID] = true
				if has[t] == count[t] {
					all[rows[i].ID] = true
				}
			}
		}
		ts.all[k], ts.some[k] = all, some
	}
	return ts, nil
}

// hasKeywordRow tells whether a light row has the keyword crit (a
// query.Flag or query.Keyword).
func hasKeywordRow(m *store.Message, crit query.Criterion) bool {
	switch c := crit.(type) {
	case query.Flag:
		return m.Flags&c.Flags == c.Flags
	case query.Keyword:
		return slices.ContainsFunc(m.Keywords, func(k string) bool { return equalFoldASCII(k, c.Name) })
	}
	return false
}

func errorsIsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// searchErr maps a search error: a criterion the store refuses is the
// client's (invalidArguments), anything else goes up as serverFail.
func searchErr(err error) error {
	if errors.Is(err, store.ErrInvalid) {
		return jmap.NewError(jmap.InvalidArguments, "filter: "+err.Error())
	}
	return err
}
