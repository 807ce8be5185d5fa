package imapd

import (
	"strconv"
	"strings"
	"time"
)

// fetchItem is one FETCH data item (RFC 9051 §6.4.5).
type fetchItem struct {
	name    string // FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY BODY[] RFC822 RFC822.HEADER RFC822.TEXT
	peek    bool
	section section
	partial bool
	start   int64
	count   int64
}

// section is a body section spec: part numbers then an optional text part.
type section struct {
	part   []int
	spec   string // "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
	fields []string
}

// String renders the section as it is echoed in the FETCH response.
func (s section) String() string {
	var b strings.Builder
	for i, n := range s.part {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	if s.spec != "" {
		if len(s.part) > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.spec)
	}
	if len(s.fields) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(s.fields, " "))
		b.WriteByte(')')
	}
	return b.String()
}

// setsSeen tells whether fetching the item marks the message \Seen
// (RFC 9051 §6.4.5: BODY[...] and RFC822 / RFC822.TEXT without PEEK).
func (f fetchItem) setsSeen() bool {
	switch f.name {
	case "BODY[]", "BINARY[]":
		return !f.peek
	case "RFC822", "RFC822.TEXT":
		return true
	}
	return false
}

func parseFetchItems(p *parser) []fetchItem {
	if p.peek() == '(' {
		var items []fetchItem
		p.list(false, func() { items = append(items, parseFetchItem(p)...) })
		return items
	}
	return parseFetchItem(p)
}

// parseFetchItem returns one item, or several for the macros ALL, FAST, FULL.
func parseFetchItem(p *parser) []fetchItem {
	name := strings.ToUpper(p.takeWhile(func(c byte) bool { return isAtomChar(c) && c != '[' }))
	one := func(n string) []fetchItem { return []fetchItem{{name: n}} }
	switch name {
	case "ALL":
		return []fetchItem{{name: "FLAGS"}, {name: "INTERNALDATE"}, {name: "RFC822.SIZE"}, {name: "ENVELOPE"}}
	case "FAST":
		return []fetchItem{{name: "FLAGS"}, {name: "INTERNALDATE"}, {name: "RFC822.SIZE"}}
	case "FULL":
		return []fetchItem{{name: "FLAGS"}, {name: "INTERNALDATE"}, {name: "RFC822.SIZE"}, {name: "ENVELOPE"}, {name: "BODY"}}
	case "FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE",
		"RFC822", "RFC822.HEADER", "RFC822.TEXT", "MODSEQ",
		"EMAILID", "THREADID", // RFC 8474 §5
		"SAVEDATE": // RFC 8514
		return one(name)
	case "PREVIEW": // RFC 8970 §3: PREVIEW [SP "(" "LAZY" ")"]
		if p.peek() == ' ' && p.peekAt(1) == '(' {
			p.sp()
			p.list(false, func() {
				if mod := strings.ToUpper(p.atom()); mod != "LAZY" {
					p.fail("unknown PREVIEW modifier %s", mod)
				}
			})
		}
		return one(name)
	case "BINARY", "BINARY.PEEK", "BINARY.SIZE":
		return []fetchItem{parseBinaryItem(p, name)}
	case "BODY", "BODY.PEEK":
		if p.peek() != '[' {
			if name == "BODY.PEEK" {
				p.fail("BODY.PEEK needs a section")
			}
			return one("BODY")
		}
		it := fetchItem{name: "BODY[]", peek: name == "BODY.PEEK"}
		p.next()
		it.section = parseSection(p)
		p.expect(']')
		if p.peek() == '<' {
			p.next()
			it.partial = true
			it.start = int64(p.number())
			p.expect('.')
			it.count = int64(p.number())
			if it.count == 0 {
				p.fail("zero-length partial")
			}
			p.expect('>')
		}
		return []fetchItem{it}
	}
	p.fail("unknown fetch item %q", name)
	return nil
}

// RFC 9051 §6.4.5: "BINARY" [".PEEK"] section-binary [partial] /
// "BINARY.SIZE" section-binary; section-binary = "[" [section-part] "]"
func parseBinaryItem(p *parser, name string) fetchItem {
	it := fetchItem{name: "BINARY[]", peek: name == "BINARY.PEEK"}
	if name == "BINARY.SIZE" {
		it.name = "BINARY.SIZE"
	}
	p.expect('[')
	for p.peek() != ']' {
		if len(it.section.part) > 0 {
			p.expect('.')
		}
		n := p.number()
		if n == 0 || len(it.section.part) >= maxListDepth*2 {
			p.fail("bad section part")
		}
		it.section.part = append(it.section.part, int(n))
	}
	p.next()
	if it.name == "BINARY[]" && p.peek() == '<' {
		p.next()
		it.partial = true
		it.start = int64(p.number())
		p.expect('.')
		it.count = int64(p.number())
		if it.count == 0 {
			p.fail("zero-length partial")
		}
		p.expect('>')
	}
	return it
}

// section-spec = section-msgtext / (section-part ["." section-text])
func parseSection(p *parser) section {
	var s section
	for p.peek() >= '0' && p.peek() <= '9' {
		n := p.number()
		if n == 0 || len(s.part) >= maxListDepth*2 {
			p.fail("bad section part")
		}
		s.part = append(s.part, int(n))
		if p.peek() != '.' {
			return s
		}
		p.next()
	}
	if p.peek() == ']' {
		if len(s.part) > 0 {
			p.fail("bad section")
		}
		return s
	}
	s.spec = strings.ToUpper(p.takeWhile(func(c byte) bool { return isAtomChar(c) }))
	switch s.spec {
	case "HEADER", "TEXT":
	case "MIME":
		if len(s.part) == 0 {
			p.fail("MIME needs a part number")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		p.sp()
		p.list(false, func() { s.fields = append(s.fields, strings.ToUpper(p.astring())) })
	default:
		p.fail("bad section text")
	}
	return s
}

// searchKey is one node of a SEARCH program (RFC 9051 §6.4.4).
type searchKey struct {
	op   string // the key name, upper case; "AND" for a parenthesised group and the top level
	str  string // argument string; header field name for HEADER
	str2 string // HEADER value
	date time.Time
	num  int64
	seq  seqSet
	kids []*searchKey
	// ids are the messages an EMAILID or THREADID key names, found in the
	// store before the search runs (resolveObjectIDs).
	ids map[int64]bool
}

// RFC 9051 §6.4.4: search = "SEARCH" [search-return-opts] SP search-program
func parseSearch(p *parser, c *command) {
	p.sp()
	if p.peek() == 'R' || p.peek() == 'r' {
		// "RETURN" or a key starting with R (RECENT): look ahead by atom.
		parseSearchReturn(p, c)
	}
	if w := strings.ToUpper(string(p.peekAtom())); w == "CHARSET" {
		p.atom()
		p.sp()
		checkCharset(c, p.astring())
		p.sp()
	}
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

// parseSearchReturn reads "RETURN" SP "(" [return-opts] ")" SP when the
// next atom is RETURN (SEARCH, and SORT for ESORT).
func parseSearchReturn(p *parser, c *command) {
	if strings.ToUpper(string(p.peekAtom())) != "RETURN" {
		return
	}
	p.atom()
	p.sp()
	c.retGiven = true
	c.searchRet = []string{}
	p.list(true, func() { c.searchRet = append(c.searchRet, searchReturnOpt(p, c)) })
	p.sp()
}

// searchReturnOpt reads one ESEARCH return option (RFC 4731 §3.1, RFC
// 5182, RFC 9394 PARTIAL with its range).
func searchReturnOpt(p *parser, c *command) string {
	opt := strings.ToUpper(p.atom())
	switch opt {
	case "MIN", "MAX", "ALL", "COUNT", "SAVE",
		"UPDATE",  // RFC 5267 §4.1
		"CONTEXT": // RFC 5267 §4.1: a hint that the result will be paged or updated
		return opt
	case "PARTIAL":
		p.sp()
		c.partial = parsePartialRange(p)
		return opt
	}
	p.fail("unknown search return option %s", opt)
	return ""
}

// parsePartialRange reads n:m, both positive or both negative and not
// zero (RFC 9394 §4.1); "4:2" is "2:4".
func parsePartialRange(p *parser) [2]int32 {
	num := func() int32 {
		neg := p.peek() == '-'
		if neg {
			p.next()
		}
		n := p.number()
		if n == 0 || n > 1<<31-1 {
			p.fail("bad PARTIAL range")
		}
		if neg {
			return -int32(n)
		}
		return int32(n)
	}
	a := num()
	p.expect(':')
	b := num()
	if (a < 0) != (b < 0) {
		p.fail("bad PARTIAL range")
	}
	if a > b {
		a, b = b, a
	}
	return [2]int32{a, b}
}

// peekAtom returns the atom at the read position without consuming it.
func (p *parser) peekAtom() []byte {
	for n := 1; n <= 16; n++ {
		b, err := p.r.Peek(n)
		if err != nil || !isAtomChar(b[n-1]) {
			if len(b) > 0 {
				return b[:n-1]
			}
			return nil
		}
	}
	return nil
}

func parseSearchKey(p *parser, depth int, count *int) *searchKey {
	if *count++; *count > maxSearchKeys {
		p.fail("search program too large")
	}
	if depth > maxListDepth {
		p.fail("search nesting too deep")
	}
	c := p.peek()
	if c == '(' {
		k := &searchKey{op: "AND"}
		p.list(false, func() { k.kids = append(k.kids, parseSearchKey(p, depth+1, count)) })
		return k
	}
	if c == '*' || c == '$' || (c >= '0' && c <= '9') {
		return &searchKey{op: "SEQ", seq: p.seqSet()}
	}
	k := &searchKey{op: strings.ToUpper(p.atom())}
	switch k.op {
	case "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO":
		p.sp()
		k.str = p.astring()
	case "KEYWORD", "UNKEYWORD":
		p.sp()
		k.str = p.flag()
	case "HEADER":
		p.sp()
		k.str = p.astring()
		p.sp()
		k.str2 = p.astring()
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE",
		"SAVEDBEFORE", "SAVEDON", "SAVEDSINCE": // RFC 8514
		p.sp()
		k.date = p.date()
	case "SAVEDATESUPPORTED":
	case "LARGER", "SMALLER",
		"OLDER", "YOUNGER": // RFC 5032: an interval in seconds
		p.sp()
		k.num = int64(p.number64())
	case "EMAILID", "THREADID": // RFC 8474 §6
		p.sp()
		k.str = p.atom()
	case "UID":
		p.sp()
		k.seq = p.seqSet()
	case "MODSEQ":
		parseSearchModSeq(p, k)
	case "NOT":
		p.sp()
		k.kids = []*searchKey{parseSearchKey(p, depth+1, count)}
	case "OR":
		p.sp()
		a := parseSearchKey(p, depth+1, count)
		p.sp()
		k.kids = []*searchKey{a, parseSearchKey(p, depth+1, count)}
	default:
		p.fail("unknown search key %s", k.op)
	}
	return k
}
