package imapd

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"postern/internal/message"
	"postern/internal/store"
)

// sortKey is one sort criterion (RFC 5256 §3, RFC 5957 §3).
type sortKey struct {
	name    string // ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM, DISPLAYTO
	reverse bool
}

// RFC 5256 §5: sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria
//
//	sort-criteria   = "(" sort-criterion *(SP sort-criterion) ")"
//	sort-criterion  = ["REVERSE" SP] sort-key
//	search-criteria = charset 1*(SP search-key)
func parseSort(p *parser, c *command) {
	p.sp()
	reverse := false
	p.list(false, func() {
		name := strings.ToUpper(p.atom())
		switch name {
		case "REVERSE":
			if reverse {
				p.fail("REVERSE REVERSE")
			}
			reverse = true
			return
		case "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO":
		default:
			p.fail("unknown sort key %s", name)
		}
		c.sortKeys = append(c.sortKeys, sortKey{name: name, reverse: reverse})
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
	c.threadAlg = strings.ToUpper(p.atom())
	switch c.threadAlg {
	case "ORDEREDSUBJECT", "REFERENCES":
	default:
		p.fail("unknown thread algorithm %s", c.threadAlg)
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
	switch strings.ToUpper(cs) {
	case "UTF-8", "US-ASCII":
	default:
		c.badCharset = true
	}
}

// badCharsetReply is the answer to a search in a charset we do not know.
func badCharsetReply() reply {
	return no("BADCHARSET (UTF-8 US-ASCII)", "unsupported charset")
}

// sortItem is one message with its sort values computed once.
type sortItem struct {
	seq  uint32
	m    *store.Message
	env  *message.Envelope
	strs map[string]string
	date time.Time
}

func (s *session) cmdSort(c *command) reply {
	if c.badCharset {
		return badCharsetReply()
	}
	seqs, msgs, err := s.searchMatches(c, true)
	if err != nil {
		return s.mapStoreErr(err, "SORT")
	}
	s.noteSearchModSeq(c, msgs) // RFC 7162 §3.1.9
	items := make([]sortItem, len(seqs))
	sc := &searchCtx{s: s}
	// ARRIVAL and SIZE (what webmail lists sort by) need no envelope.
	needEnv := slices.ContainsFunc(c.sortKeys, func(k sortKey) bool { return k.name != "ARRIVAL" && k.name != "SIZE" })
	hasDate := slices.ContainsFunc(c.sortKeys, func(k sortKey) bool { return k.name == "DATE" })
	for i := range seqs {
		it := &items[i]
		it.seq, it.m = seqs[i], &msgs[i]
		if !needEnv {
			continue
		}
		it.env = sc.envelope(it.m, &msgMemo{})
		it.strs = map[string]string{}
		for _, k := range c.sortKeys {
			if k.name != "ARRIVAL" && k.name != "DATE" && k.name != "SIZE" {
				it.strs[k.name] = sortString(it.env, k.name)
			}
		}
		if hasDate {
			it.date = sentDate(it.env, it.m)
		}
	}
	slices.SortStableFunc(items, func(a, b sortItem) int { return compareItems(c.sortKeys, &a, &b) })
	s.w.str("* SORT")
	for _, it := range items {
		s.w.byte(' ')
		if c.uid {
			s.w.num(uint64(it.m.UID))
		} else {
			s.w.num(uint64(it.seq))
		}
	}
	s.w.str(c.cond.searchSuffix(" (MODSEQ ", ")"))
	s.w.crlf()
	return ok("", "SORT completed")
}

// compareItems orders by each key in turn; equal messages keep their
// mailbox order (RFC 5256 §3: ties are broken by sequence number).
func compareItems(keys []sortKey, a, b *sortItem) int {
	for _, k := range keys {
		var r int
		switch k.name {
		case "ARRIVAL":
			r = a.m.InternalDate.Compare(b.m.InternalDate)
		case "DATE":
			r = a.date.Compare(b.date)
		case "SIZE":
			r = cmp.Compare(a.m.Size, b.m.Size)
		default:
			r = strings.Compare(a.strs[k.name], b.strs[k.name])
		}
		if k.reverse {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	return cmp.Compare(a.seq, b.seq)
}

// sortString is the collation key of a string sort key: a missing field
// sorts as the empty string (RFC 5256 §3).
func sortString(env *message.Envelope, key string) string {
	switch key {
	case "SUBJECT":
		b, _ := baseSubject(env.DecodedSubject())
		return casemapKey(b)
	case "FROM":
		return firstMailbox(env.From)
	case "TO":
		return firstMailbox(env.To)
	case "CC":
		return firstMailbox(env.Cc)
	case "DISPLAYFROM":
		return casemapKey(displayName(env.From))
	case "DISPLAYTO":
		return casemapKey(displayName(env.To))
	}
	return ""
}

// firstMailbox is the addr-mailbox (local part) of the first address
// (RFC 5256 §3: FROM, TO, CC).
func firstMailbox(list []message.Address) string {
	for _, a := range list {
		if a.Kind == message.Mailbox {
			return casemapKey(a.Mailbox)
		}
	}
	return ""
}

// displayName is the display name of the first address, or its addr-spec
// when it has none (RFC 5957 §2).
func displayName(list []message.Address) string {
	for _, a := range list {
		if a.Kind != message.Mailbox {
			continue
		}
		if n := strings.TrimSpace(a.DisplayName()); n != "" {
			return n
		}
		return a.Addr()
	}
	return ""
}

// sentDate is the Date header in UTC, or the internal date when the
// header is missing or unusable (RFC 5256 §2.2).
func sentDate(env *message.Envelope, m *store.Message) time.Time {
	if t, ok := env.Time(); ok {
		return t.UTC()
	}
	return m.InternalDate.UTC()
}
