package jmapmail

// The Email/query filter (RFC 8621 §4.4.1): decoded from JSON once, with
// limits, then translated into internal/query criteria for each mailbox
// searched (the mapping table is in internal/query's doc comment).

import (
	"bytes"
	"encoding/json"
	"time"

	"postern/internal/jmap"
	"postern/internal/query"
	"postern/internal/store"
)

// Limits on a filter: nesting of operators, conditions in all, and the
// length of a string searched for (the store refuses longer needles).
const (
	maxEmailFilterDepth = 10
	maxEmailFilterNodes = 256
	maxFilterString     = 1024
)

// emailFilter is a FilterOperator (op "AND", "OR", "NOT") or a
// FilterCondition (op "") of Email/query.
type emailFilter struct {
	op    string
	conds []*emailFilter

	inMailbox          *string
	inMailboxOtherThan []string
	before, after      *time.Time
	minSize, maxSize   *int64
	allInThread        *string // allInThreadHaveKeyword
	someInThread       *string
	noneInThread       *string
	hasKeyword         *string
	notKeyword         *string
	hasAttachment      *bool
	text, body         *string
	from, to, cc, bcc  *string
	subject            *string
	header             []string // [name] or [name, value]
}

// parseEmailFilter decodes a filter; null is nil (every email).
func parseEmailFilter(raw json.RawMessage) (*emailFilter, error) {
	nodes := 0
	return decodeEmailFilter(raw, 0, &nodes)
}

func decodeEmailFilter(raw json.RawMessage, depth int, nodes *int) (*emailFilter, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if depth > maxEmailFilterDepth {
		return nil, jmap.NewError(jmap.UnsupportedFilter, "filter nested too deep")
	}
	if *nodes++; *nodes > maxEmailFilterNodes {
		return nil, jmap.NewError(jmap.UnsupportedFilter, "filter has too many conditions")
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
		f := &emailFilter{op: o.Operator}
		for _, cr := range o.Conditions {
			sub, err := decodeEmailFilter(cr, depth+1, nodes)
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
	f := &emailFilter{}
	for k, v := range fields {
		if err := f.setField(k, v); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// setField decodes one property of a FilterCondition.
func (f *emailFilter) setField(k string, v json.RawMessage) error {
	var err error
	str := func(p **string) {
		if err = json.Unmarshal(v, p); err == nil && *p != nil && len(**p) > maxFilterString {
			err = errTooLong
		}
	}
	kw := func(p **string) {
		if err = json.Unmarshal(v, p); err == nil && *p != nil && !validKeyword(**p) {
			err = errBadKeyword
		}
	}
	date := func(p **time.Time) {
		var s *string
		if err = json.Unmarshal(v, &s); err == nil && s != nil {
			var t time.Time
			if t, err = time.Parse(time.RFC3339, *s); err == nil {
				*p = &t
			}
		}
	}
	size := func(p **int64) {
		if err = json.Unmarshal(v, p); err == nil && *p != nil && **p < 0 {
			err = errNegative
		}
	}
	switch k {
	case "inMailbox":
		str(&f.inMailbox)
	case "inMailboxOtherThan":
		err = json.Unmarshal(v, &f.inMailboxOtherThan)
		if err == nil && f.inMailboxOtherThan == nil {
			f.inMailboxOtherThan = []string{}
		}
	case "before":
		date(&f.before)
	case "after":
		date(&f.after)
	case "minSize":
		size(&f.minSize)
	case "maxSize":
		size(&f.maxSize)
	case "allInThreadHaveKeyword":
		kw(&f.allInThread)
	case "someInThreadHaveKeyword":
		kw(&f.someInThread)
	case "noneInThreadHaveKeyword":
		kw(&f.noneInThread)
	case "hasKeyword":
		kw(&f.hasKeyword)
	case "notKeyword":
		kw(&f.notKeyword)
	case "hasAttachment":
		err = json.Unmarshal(v, &f.hasAttachment)
	case "text":
		str(&f.text)
	case "body":
		str(&f.body)
	case "from":
		str(&f.from)
	case "to":
		str(&f.to)
	case "cc":
		str(&f.cc)
	case "bcc":
		str(&f.bcc)
	case "subject":
		str(&f.subject)
	case "header":
		err = json.Unmarshal(v, &f.header)
		switch {
		case err != nil:
		case len(f.header) < 1 || len(f.header) > 2 || f.header[0] == "":
			err = errHeader
		case len(f.header[0]) > maxFilterString || len(f.header) == 2 && len(f.header[1]) > maxFilterString:
			err = errTooLong
		}
	default:
		return jmap.NewError(jmap.UnsupportedFilter, "cannot filter by "+k)
	}
	if err != nil {
		return jmap.NewError(jmap.InvalidArguments, "filter "+k+": "+err.Error())
	}
	return nil
}

type filterError string

func (e filterError) Error() string { return string(e) }

const (
	errTooLong    = filterError("longer than 1024 octets")
	errBadKeyword = filterError("not a keyword")
	errNegative   = filterError("negative")
	errHeader     = filterError("must be [name] or [name, value]")
)

// keywordCriterion is a JMAP keyword as the store keeps it: the four
// keywords of RFC 8621 §4.1.1 that are IMAP system flags, else a keyword.
func keywordCriterion(k string) query.Criterion {
	if f, ok := systemFlag(k); ok {
		return query.Flag{Flags: f}
	}
	return query.Keyword{Name: k}
}

// systemFlag is the IMAP system flag a JMAP keyword stands for.
func systemFlag(k string) (store.Flags, bool) {
	switch {
	case equalFoldASCII(k, "$seen"):
		return store.FlagSeen, true
	case equalFoldASCII(k, "$flagged"):
		return store.FlagFlagged, true
	case equalFoldASCII(k, "$answered"):
		return store.FlagAnswered, true
	case equalFoldASCII(k, "$draft"):
		return store.FlagDraft, true
	}
	return 0, false
}

func equalFoldASCII(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

// tristate is what is known of a filter in one mailbox before looking at
// its messages: always, never, or it depends.
type tristate uint8

const (
	depends tristate = iota
	always
	never
)

// inMailboxes tells whether f can match messages of mailbox mb, from its
// mailbox conditions alone, so that mailboxes it never matches are not
// searched.
func (f *emailFilter) inMailboxes(c *jmap.Call, mb int64) tristate {
	if f == nil {
		return always
	}
	switch f.op {
	case "AND", "OR":
		all, any := always, never
		for _, s := range f.conds {
			switch s.inMailboxes(c, mb) {
			case never:
				all = never
			case always:
				any = always
			default:
				if all == always {
					all = depends
				}
				if any == never {
					any = depends
				}
			}
		}
		if f.op == "AND" {
			return all
		}
		return any
	case "NOT":
		switch (&emailFilter{op: "OR", conds: f.conds}).inMailboxes(c, mb) {
		case always:
			return never
		case never:
			return always
		}
		return depends
	}
	if f.inMailbox != nil {
		if id, _ := parseMailboxID(resolveCreated(c, *f.inMailbox)); id != mb {
			return never
		}
	}
	for _, other := range f.inMailboxOtherThan {
		if id, _ := parseMailboxID(resolveCreated(c, other)); id == mb {
			return never
		}
	}
	if f.onlyMailboxes() {
		return always
	}
	return depends
}

// onlyMailboxes tells whether a condition has no property but inMailbox
// and inMailboxOtherThan.
func (f *emailFilter) onlyMailboxes() bool {
	g := *f
	g.inMailbox, g.inMailboxOtherThan = nil, nil
	return g.op == "" && g.before == nil && g.after == nil && g.minSize == nil && g.maxSize == nil &&
		g.allInThread == nil && g.someInThread == nil && g.noneInThread == nil && g.hasKeyword == nil &&
		g.notKeyword == nil && g.hasAttachment == nil && g.text == nil && g.body == nil && g.from == nil &&
		g.to == nil && g.cc == nil && g.bcc == nil && g.subject == nil && g.header == nil
}

// threadKeywords returns the keywords of the thread conditions of f.
func (f *emailFilter) threadKeywords(out map[string]bool) {
	if f == nil {
		return
	}
	for _, s := range f.conds {
		s.threadKeywords(out)
	}
	for _, k := range []*string{f.allInThread, f.someInThread, f.noneInThread} {
		if k != nil {
			out[*k] = true
		}
	}
}

// criterion translates f for the messages of mailbox mb; threads answers
// the thread keyword conditions.
func (f *emailFilter) criterion(c *jmap.Call, mb int64, threads *threadKeywordSets) query.Criterion {
	if f == nil {
		return nil
	}
	kids := func() []query.Criterion {
		out := make([]query.Criterion, len(f.conds))
		for i, s := range f.conds {
			out[i] = s.criterion(c, mb, threads)
		}
		return out
	}
	switch f.op {
	case "AND":
		return query.And(kids())
	case "OR":
		return query.Or(kids())
	case "NOT":
		return query.Not{C: query.Or(kids())}
	}
	if f.inMailboxes(c, mb) == never {
		return query.Or{} // matches nothing
	}
	var and query.And
	if f.before != nil {
		and = append(and, query.Date{Field: query.Received, Op: query.Before, Time: *f.before})
	}
	if f.after != nil {
		and = append(and, query.Date{Field: query.Received, Op: query.Since, Time: *f.after})
	}
	if f.minSize != nil {
		and = append(and, query.Not{C: query.Size{Op: query.Smaller, Bytes: *f.minSize}})
	}
	if f.maxSize != nil {
		and = append(and, query.Size{Op: query.Smaller, Bytes: *f.maxSize})
	}
	if f.allInThread != nil {
		and = append(and, threads.all[*f.allInThread])
	}
	if f.someInThread != nil {
		and = append(and, threads.some[*f.someInThread])
	}
	if f.noneInThread != nil {
		and = append(and, query.Not{C: threads.some[*f.noneInThread]})
	}
	if f.hasKeyword != nil {
		and = append(and, keywordCriterion(*f.hasKeyword))
	}
	if f.notKeyword != nil {
		and = append(and, query.Not{C: keywordCriterion(*f.notKeyword)})
	}
	if f.hasAttachment != nil {
		if *f.hasAttachment {
			and = append(and, query.Attachment{})
		} else {
			and = append(and, query.Not{C: query.Attachment{}})
		}
	}
	text := func(field store.TextField, header string, needle *string) {
		if needle != nil {
			and = append(and, query.Text{Field: field, Header: header, Needle: *needle})
		}
	}
	text(store.TextAll, "", f.text)
	text(store.TextBody, "", f.body)
	text(store.TextHeaders, "from", f.from)
	text(store.TextHeaders, "to", f.to)
	text(store.TextHeaders, "cc", f.cc)
	text(store.TextHeaders, "bcc", f.bcc)
	text(store.TextHeaders, "subject", f.subject)
	if f.header != nil {
		value := ""
		if len(f.header) == 2 {
			value = f.header[1]
		}
		text(store.TextHeaders, f.header[0], &value)
	}
	return and
}

// onlyInMailbox returns the mailbox of a filter that is one inMailbox
// condition (alone or as the one condition of an AND): the query that
// can be read straight from the store's received-order index.
func (f *emailFilter) onlyInMailbox() (string, bool) {
	for f != nil && f.op == "AND" && len(f.conds) == 1 {
		f = f.conds[0]
	}
	if f == nil || f.op != "" || f.inMailbox == nil || f.inMailboxOtherThan != nil || !f.onlyMailboxes() {
		return "", false
	}
	return *f.inMailbox, true
}

// searchTerms returns the strings of the text, body and subject
// conditions outside NOT: what SearchSnippet/get highlights.
func (f *emailFilter) searchTerms(subject, body *[]string) {
	if f == nil || f.op == "NOT" {
		return
	}
	for _, s := range f.conds {
		s.searchTerms(subject, body)
	}
	if f.text != nil && *f.text != "" {
		*subject = append(*subject, *f.text)
		*body = append(*body, *f.text)
	}
	if f.body != nil && *f.body != "" {
		*body = append(*body, *f.body)
	}
	if f.subject != nil && *f.subject != "" {
		*subject = append(*subject, *f.subject)
	}
}

// lightOnly tells whether f can be decided on a message's light row (and
// body structure) alone: no text condition, which the store answers for a
// whole mailbox, and no thread condition, which looks at the account.
func (f *emailFilter) lightOnly() bool {
	if f == nil {
		return true
	}
	for _, s := range f.conds {
		if !s.lightOnly() {
			return false
		}
	}
	return f.text == nil && f.body == nil && f.from == nil && f.to == nil && f.cc == nil && f.bcc == nil &&
		f.subject == nil && f.header == nil && f.allInThread == nil && f.someInThread == nil && f.noneInThread == nil
}
