package imapd

import (
	"strings"
	"time"

	"postern/internal/query"
	"postern/internal/store"
)

// command is one parsed client command. Only the fields of its kind are set.
type command struct {
	tag  string
	name string // upper case, without "UID "
	uid  bool

	mailbox  string // SELECT, EXAMINE, CREATE, DELETE, RENAME from, (UN)SUBSCRIBE, STATUS, APPEND
	mailbox2 string // RENAME to, COPY and MOVE destination
	// badUTF7: a name was not valid modified UTF-7 (IMAP4rev1 clients).
	badUTF7 bool

	user, pass string  // LOGIN
	mech       string  // AUTHENTICATE
	initial    *string // AUTHENTICATE initial response (RFC 4959), "=" decoded to ""
	strs       []string
	nils       []bool // ID: which values of strs were NIL

	list   listArgs
	status []string // STATUS items, upper case

	seq       seqSet
	fetch     []fetchItem
	search    *searchKey
	searchRet []string // RETURN options, upper case; nil means none given
	retGiven  bool
	// partial is the range of RETURN (PARTIAL first:last) (RFC 9394):
	// positions in the result from 1, or from the end when negative.
	partial [2]int32
	sources []searchSource // ESEARCH IN (RFC 7377)
	meta    metadataArgs   // GETMETADATA, SETMETADATA (RFC 5464)
	// NOTIFY (RFC 5465): SET or NONE, STATUS, and the rules.
	notifySet, notifyStatus bool
	notify                  []notifyRule
	store                   storeArgs
	app                     appendArgs
	cond                    condArgs // RFC 7162 parameters and modifiers

	sortKeys   []query.SortKey // SORT criteria
	threadAlg  query.Algorithm // THREAD algorithm
	badCharset bool            // SEARCH, SORT, THREAD named a charset we lack: NO [BADCHARSET]
	charset    string          // the charset SEARCH, SORT, THREAD named, as given

	use []string // CREATE (USE (...)) special-use attributes, RFC 6154 §3

	urls []urlArg // GENURLAUTH, URLFETCH (RFC 4467, RFC 5524)
}

type listArgs struct {
	selOpts   []string // LIST-EXTENDED selection options, upper case
	ref       string
	patterns  []string
	retOpts   []string // return options, upper case
	retStatus []string // RETURN (STATUS (...)) items (RFC 5819)

	extended bool // the RFC 5258 syntax was used, even as "()"
}

type storeArgs struct {
	op     store.FlagOp
	silent bool
	flags  []string
}

// appendArgs carries APPEND up to its literal; the session reads the
// literal itself so that it can stream it into the blob store.
type appendArgs struct {
	flags   []string
	date    time.Time
	size    int64
	nonSync bool
	binary  bool // literal8, RFC 3516 §4.4
	utf8    bool // "UTF8 (" literal8 ")", RFC 6855 §4
	// catenate: the message is "CATENATE (" parts ")" (RFC 4469 §5), the
	// parts left unread after the SP.
	catenate bool
}

// parseCommand reads one command. A parseError leaves the rest of the line
// unread; the caller replies BAD and calls skipLine. For APPEND the literal
// is left unread after its header.
func parseCommand(p *parser) (c *command, err error) {
	p.litMax, p.litSum = maxLiteralLen, 0
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case *parseError:
				err = e
			case ioError:
				err = e
			default:
				panic(r)
			}
		}
	}()
	c = &command{}
	c.tag = p.tag()
	p.sp()
	c.name = strings.ToUpper(p.atom())
	if c.name == "UID" {
		c.uid = true
		p.sp()
		c.name = strings.ToUpper(p.atom())
	}
	parseArgs(p, c)
	if c.name != "APPEND" && c.name != "REPLACE" {
		p.crlf()
	}
	return c, nil
}

// tagOf recovers a tag for BAD responses to commands that failed early.
func (c *command) tagOrStar() string {
	if c == nil || c.tag == "" {
		return "*"
	}
	return c.tag
}

func parseArgs(p *parser, c *command) {
	if c.uid {
		switch c.name {
		case "FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "SORT", "THREAD", "REPLACE":
		default:
			p.fail("unknown UID command")
		}
	}
	switch c.name {
	case "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE",
		"UNSELECT", "IDLE", "NAMESPACE":
	case "EXPUNGE":
		if c.uid {
			p.sp()
			c.seq = p.seqSet()
		}
	case "LOGIN":
		p.sp()
		c.user = p.astring()
		p.sp()
		c.pass = p.astring()
	case "AUTHENTICATE":
		parseAuthenticate(p, c)
	case "ENABLE":
		for !p.atEOL() {
			p.sp()
			c.strs = append(c.strs, strings.ToUpper(p.atom()))
			if len(c.strs) > maxListItems {
				p.fail("too many capabilities")
			}
		}
		if len(c.strs) == 0 {
			p.fail("ENABLE needs a capability")
		}
	case "ID":
		p.sp()
		parseID(p, c)
	case "SELECT", "EXAMINE":
		p.sp()
		c.mailbox = p.mailbox()
		if !p.atEOL() {
			parseSelectParams(p, c)
		}
	case "CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE":
		p.sp()
		c.mailbox = p.mailbox()
		if c.name == "CREATE" && !p.atEOL() {
			parseCreateParams(p, c)
		}
	case "RENAME":
		p.sp()
		c.mailbox = p.mailbox()
		p.sp()
		c.mailbox2 = p.mailbox()
	case "LIST", "LSUB":
		parseList(p, c)
	case "STATUS":
		p.sp()
		c.mailbox = p.mailbox()
		p.sp()
		c.status = parseStatusItems(p)
	case "APPEND":
		parseAppend(p, c)
	case "CANCELUPDATE": // RFC 5267 §4.2: tag-string *(SP tag-string)
		for {
			p.sp()
			c.strs = append(c.strs, p.str())
			if p.atEOL() || len(c.strs) >= maxSearchContexts {
				break
			}
		}
	case "NOTIFY": // RFC 5465
		parseNotify(p, c)
	case "GENURLAUTH":
		parseGenURLAuth(p, c)
	case "URLFETCH":
		parseURLFetch(p, c)
	case "RESETKEY":
		parseResetKey(p, c)
	case "ESEARCH": // RFC 7377 MULTISEARCH
		parseESearch(p, c)
	case "GETMETADATA":
		parseGetMetadata(p, c)
	case "SETMETADATA":
		parseSetMetadata(p, c)
	case "REPLACE": // RFC 8508: REPLACE seq mailbox append-message
		p.sp()
		c.seq = p.seqSet()
		parseAppend(p, c)
	case "FETCH":
		p.sp()
		c.seq = p.seqSet()
		p.sp()
		c.fetch = parseFetchItems(p)
		if !p.atEOL() {
			parseFetchModifiers(p, c)
		}
	case "STORE":
		p.sp()
		c.seq = p.seqSet()
		p.sp()
		parseStore(p, c)
	case "COPY", "MOVE":
		p.sp()
		c.seq = p.seqSet()
		p.sp()
		c.mailbox2 = p.mailbox()
	case "COMPRESS":
		p.sp()
		c.mech = strings.ToUpper(p.atom()) // the algorithm, RFC 4978 §3
	case "GETQUOTA", "GETQUOTAROOT", "SETQUOTA":
		parseQuota(p, c)
	case "SEARCH":
		parseSearch(p, c)
	case "SORT":
		parseSort(p, c)
	case "THREAD":
		parseThread(p, c)
	default:
		p.fail("unknown command")
	}
}

func parseAuthenticate(p *parser, c *command) {
	p.sp()
	c.mech = strings.ToUpper(p.atom())
	if p.atEOL() {
		return
	}
	p.sp()
	// RFC 4959: initial-response = base64 / "="
	s := p.takeWhile(func(b byte) bool {
		return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '='
	})
	if s == "" {
		p.fail("expected initial response")
	}
	c.initial = &s
}

// RFC 2971: id-params-list = "(" *(string SP nstring) ")" / nil
func parseID(p *parser, c *command) {
	if p.peek() != '(' {
		if strings.ToUpper(p.atom()) != "NIL" {
			p.fail("expected ID parameter list")
		}
		return
	}
	n := 0
	p.list(true, func() {
		if n++; n > 30 {
			p.fail("too many ID fields") // RFC 2971 §3.3
		}
		c.strs = append(c.strs, p.str())
		p.sp()
		v, isNil := p.nstring()
		c.strs = append(c.strs, v)
		c.nils = append(c.nils, isNil)
	})
}

func (p *parser) nstring() (string, bool) {
	if c := p.peek(); c == '"' || c == '{' {
		return p.str(), false
	}
	if strings.ToUpper(p.atom()) != "NIL" {
		p.fail("expected string or NIL")
	}
	return "", true
}

// parseList reads LIST/LSUB, with the RFC 5258 extended syntax that
// IMAP4rev2 makes part of LIST (RFC 9051 §6.3.9).
func parseList(p *parser, c *command) {
	p.sp()
	if c.name == "LIST" && p.peek() == '(' {
		c.list.extended = true
		p.list(true, func() { c.list.selOpts = append(c.list.selOpts, strings.ToUpper(p.atom())) })
		p.sp()
	}
	c.list.ref = canonMailbox(p.astring())
	p.sp()
	if c.name == "LIST" && p.peek() == '(' {
		p.list(false, func() { c.list.patterns = append(c.list.patterns, p.listMailbox()) })
	} else {
		c.list.patterns = []string{p.listMailbox()}
	}
	if c.name != "LIST" || p.atEOL() {
		return
	}
	p.sp()
	if strings.ToUpper(p.atom()) != "RETURN" {
		p.fail("expected RETURN")
	}
	c.list.extended = true
	p.sp()
	p.list(true, func() {
		opt := strings.ToUpper(p.atom())
		c.list.retOpts = append(c.list.retOpts, opt)
		if opt == "STATUS" {
			p.sp()
			c.list.retStatus = parseStatusItems(p)
		}
	})
}

func parseStatusItems(p *parser) []string {
	var items []string
	p.list(false, func() {
		it := strings.ToUpper(p.atom())
		switch it {
		case "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE", "HIGHESTMODSEQ", "RECENT", "DELETED",
			"APPENDLIMIT",     // RFC 7889 §3
			"DELETED-STORAGE", // RFC 9208 §4.4
			"MAILBOXID":       // RFC 8474 §4
		default:
			p.fail("unknown status item %s", it)
		}
		items = append(items, it)
	})
	return items
}

// RFC 9051 §6.3.12: append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal
func parseAppend(p *parser, c *command) {
	p.sp()
	c.mailbox = p.mailbox()
	p.sp()
	parseAppendMsg(p, &c.app)
}

// date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
func parseDateTime(p *parser, s string) time.Time {
	t, err := time.Parse("_2-Jan-2006 15:04:05 -0700", s)
	if err != nil {
		p.fail("bad date-time")
	}
	return t
}

// date = date-text / DQUOTE date-text DQUOTE; date-day = 1*2DIGIT
func (p *parser) date() time.Time {
	var s string
	if p.peek() == '"' {
		s = p.quoted()
	} else {
		s = p.atom()
	}
	t, err := time.Parse("2-Jan-2006", s)
	if err != nil {
		p.fail("bad date")
	}
	return t
}

// RFC 9051 §6.4.6: store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
func parseStore(p *parser, c *command) {
	if p.peek() == '(' {
		parseStoreModifiers(p, c)
	}
	item := strings.ToUpper(p.takeWhile(func(b byte) bool { return isAtomChar(b) }))
	c.store.op = store.FlagsReplace
	switch {
	case strings.HasPrefix(item, "+"):
		c.store.op, item = store.FlagsAdd, item[1:]
	case strings.HasPrefix(item, "-"):
		c.store.op, item = store.FlagsRemove, item[1:]
	}
	switch item {
	case "FLAGS":
	case "FLAGS.SILENT":
		c.store.silent = true
	default:
		p.fail("expected FLAGS")
	}
	p.sp()
	if p.peek() == '(' {
		c.store.flags = p.flagList()
		return
	}
	for {
		c.store.flags = append(c.store.flags, p.flag())
		if len(c.store.flags) > maxListItems {
			p.fail("too many flags")
		}
		if p.atEOL() {
			return
		}
		p.sp()
	}
}
