package imapd

import (
	"strings"

	"postern/internal/query"
)

// sortField maps a sort key of RFC 5256 §3 or RFC 5957 §3.
func sortField(name string) (query.SortField, bool) {
	switch name {
	case "ARRIVAL":
		return query.SortArrival, true
	case "CC":
		return query.SortCc, true
	case "DATE":
		return query.SortDate, true
	case "FROM":
		return query.SortFrom, true
	case "SIZE":
		return query.SortSize, true
	case "SUBJECT":
		return query.SortSubject, true
	case "TO":
		return query.SortTo, true
	case "DISPLAYFROM":
		return query.SortDisplayFrom, true
	case "DISPLAYTO":
		return query.SortDisplayTo, true
	}
	return 0, false
}

// RFC 5256 §5: sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria
//
//	sort-criteria   = "(" sort-criterion *(SP sort-criterion) ")"
//	sort-criterion  = ["REVERSE" SP] sort-key
//	search-criteria = charset 1*(SP search-key)
func parseSort(p *parser, c *command) {
	p.sp()
	parseSearchReturn(p, c) // ESORT (RFC 5267 §3.2)
	reverse := false
	p.list(false, func() {
		name := strings.ToUpper(p.atom())
		if name == "REVERSE" {
			if reverse {
				p.fail("REVERSE REVERSE")
			}
			reverse = true
			return
		}
		f, ok := sortField(name)
		if !ok {
			p.fail("unknown sort key %s", name)
		}
		c.sortKeys = append(c.sortKeys, query.SortKey{Field: f, Reverse: reverse})
		reverse = false
	})
	if reverse {
		p.fail("REVERSE without a sort key")
	}
	p.sp()
	parseSearchCriteria(p, c)
}

// RFC 5256 §5: thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
func parseThread(p *parser, c *command) {
	p.sp()
	switch alg := strings.ToUpper(p.atom()); alg {
	case "ORDEREDSUBJECT":
		c.threadAlg = query.OrderedSubject
	case "REFERENCES":
		c.threadAlg = query.References
	default:
		p.fail("unknown thread algorithm %s", alg)
	}
	p.sp()
	parseSearchCriteria(p, c)
}

// parseSearchCriteria reads the mandatory charset and the search program
// of SORT and THREAD. An unknown charset is remembered, not a syntax
// error: the answer is NO [BADCHARSET] (RFC 5256 §3, RFC 9051 §6.4.4).
func parseSearchCriteria(p *parser, c *command) {
	checkCharset(c, p.astring())
	p.sp()
	count := 0
	root := &searchKey{op: "AND"}
	for {
		root.kids = append(root.kids, parseSearchKey(p, 0, &count))
		if p.atEOL() {
			break
		}
		p.sp()
	}
	c.search = root
}

// checkCharset accepts the charsets whose text needs no conversion.
func checkCharset(c *command, cs string) {
	c.charset = cs
	switch strings.ToUpper(cs) {
	case "UTF-8", "US-ASCII":
	default:
		c.badCharset = true
	}
}

// utf8CharsetConflict is the BAD a session with UTF8=ACCEPT enabled gets
// for a search that names a charset (SEARCH) or one other than UTF-8
// (SORT, THREAD): RFC 6855 §3 with erratum 4029.
func (s *session) utf8CharsetConflict(c *command) (reply, bool) {
	if !s.utf8 || c.charset == "" {
		return reply{}, false
	}
	if c.name != "SEARCH" && strings.EqualFold(c.charset, "UTF-8") {
		return reply{}, false
	}
	return bad("", "no CHARSET after ENABLE UTF8=ACCEPT: strings are UTF-8"), true
}

// badCharsetReply is the answer to a search in a charset we do not know.
func badCharsetReply() reply {
	return no("BADCHARSET (UTF-8 US-ASCII)", "unsupported charset")
}

func (s *session) cmdSort(c *command) reply {
	if r, conflict := s.utf8CharsetConflict(c); conflict {
		return r
	}
	if c.badCharset {
		return badCharsetReply()
	}
	msgs, err := query.Sort(s.ctx, s.srv.cfg.Store, s.query(c), c.sortKeys)
	if err != nil {
		return s.mapStoreErr(err, "SORT")
	}
	s.noteSearchModSeq(c, msgs) // RFC 7162 §3.1.9
	if c.retGiven {
		seqs, uids := make([]uint32, len(msgs)), make([]uint32, len(msgs))
		for i, m := range msgs {
			seqs[i], uids[i] = s.sel.seqOf(m.UID), m.UID
		}
		if has(c.searchRet, "UPDATE") { // CONTEXT=SORT, RFC 5267 §4
			if r := s.startContext(c, uids); r.status != "" {
				return r
			}
		}
		s.writeESearch(c, seqs, uids, true)
		return ok("", "SORT completed")
	}
	s.w.str("* SORT")
	for _, m := range msgs {
		s.w.byte(' ')
		if c.uid {
			s.w.num(uint64(m.UID))
		} else {
			s.w.num(uint64(s.sel.seqOf(m.UID)))
		}
	}
	s.w.str(c.cond.searchSuffix(" (MODSEQ ", ")"))
	s.w.crlf()
	return ok("", "SORT completed")
}
