package imapd

import (
	"errors"
	"strings"

	"postern/internal/store"
)

// METADATA (RFC 5464): annotations on mailboxes and on the server ("" as
// the mailbox), under /private and /shared names; both are the account's
// own, as no mailbox is shared.

// Limits of what one account may annotate.
const (
	maxMetadataValue   = 32 << 10 // octets of one value (below the literal limit, so the answer is METADATA MAXSIZE)
	maxMetadataEntries = 200      // entries of one mailbox, or of the server
	maxMetadataName    = 256      // octets of an entry name
	maxMetadataPerCmd  = 100      // entries named by one command
)

// metadataArgs are the arguments of GETMETADATA and SETMETADATA.
type metadataArgs struct {
	maxSize int64 // GETMETADATA MAXSIZE; 0 for none
	depth   int   // 0, 1, or -1 for infinity
	names   []string
	values  [][]byte // SETMETADATA; nil removes
}

// parseGetMetadata: "GETMETADATA" [SP "(" options ")"] SP mailbox SP entries
func parseGetMetadata(p *parser, c *command) {
	p.sp()
	if p.peek() == '(' {
		p.list(false, func() {
			switch opt := strings.ToUpper(p.atom()); opt {
			case "MAXSIZE":
				p.sp()
				c.meta.maxSize = int64(p.number64())
			case "DEPTH":
				p.sp()
				switch d := strings.ToLower(p.atom()); d {
				case "0":
				case "1":
					c.meta.depth = 1
				case "infinity":
					c.meta.depth = -1
				default:
					p.fail("bad DEPTH %s", d)
				}
			default:
				p.fail("unknown GETMETADATA option %s", opt)
			}
		})
		p.sp()
	}
	c.mailbox = p.astring()
	p.sp()
	if p.peek() == '(' {
		p.list(false, func() { c.meta.names = append(c.meta.names, metadataName(p)) })
	} else {
		c.meta.names = []string{metadataName(p)}
	}
}

// parseSetMetadata: "SETMETADATA" SP mailbox SP "(" entry SP value ... ")"
func parseSetMetadata(p *parser, c *command) {
	p.sp()
	c.mailbox = p.astring()
	p.sp()
	p.list(false, func() {
		c.meta.names = append(c.meta.names, metadataName(p))
		p.sp()
		switch {
		case p.peek() == '~':
			p.next() // literal8: the value may be binary
			c.meta.values = append(c.meta.values, []byte(p.literal()))
		case p.peek() == '"' || p.peek() == '{':
			c.meta.values = append(c.meta.values, []byte(p.str()))
		case strings.EqualFold(p.atom(), "NIL"):
			c.meta.values = append(c.meta.values, nil)
		default:
			p.fail("expected a value or NIL")
		}
	})
}

// metadataName reads an entry name (RFC 5464 §3.2): /private/... or
// /shared/..., printable ASCII without * and %, no empty component;
// compared without regard to case, so kept in lower case.
func metadataName(p *parser) string {
	n := strings.ToLower(p.astring())
	ok := len(n) <= maxMetadataName && (n == "/private" || n == "/shared" ||
		strings.HasPrefix(n, "/private/") || strings.HasPrefix(n, "/shared/")) &&
		!strings.Contains(n, "//") && !strings.HasSuffix(n, "/")
	for i := 0; ok && i < len(n); i++ {
		ok = n[i] > ' ' && n[i] < 0x7f && n[i] != '*' && n[i] != '%'
	}
	if !ok {
		p.fail("bad metadata entry name")
	}
	return n
}

// metadataMailbox finds the mailbox of a METADATA command: 0 for the
// server ("").
func (s *session) metadataMailbox(c *command) (int64, reply) {
	if c.mailbox == "" {
		return 0, reply{}
	}
	mb, err := s.srv.cfg.Store.Mailbox(s.ctx, s.acct.ID, canonMailbox(c.mailbox))
	if err != nil {
		return 0, s.mapStoreErr(err, c.name)
	}
	return mb.ID, reply{}
}

func (s *session) cmdGetMetadata(c *command) reply {
	if len(c.meta.names) > maxMetadataPerCmd {
		return bad("", "too many entries")
	}
	id, r := s.metadataMailbox(c)
	if r.status != "" {
		return r
	}
	entries, err := s.srv.cfg.Store.Metadata(s.ctx, s.acct.ID, id, c.meta.names, c.meta.depth)
	if err != nil {
		return s.mapStoreErr(err, c.name)
	}
	var longest int
	var shown []store.MetadataEntry
	for _, e := range entries {
		if c.meta.maxSize > 0 && int64(len(e.Value)) > c.meta.maxSize {
			longest = max(longest, len(e.Value))
			continue
		}
		shown = append(shown, e)
	}
	if len(shown) > 0 {
		s.w.str("* METADATA ")
		s.writeMailbox(c.mailbox)
		s.w.str(" (")
		for i, e := range shown {
			if i > 0 {
				s.w.byte(' ')
			}
			s.w.astring(e.Name)
			s.w.byte(' ')
			s.w.literal(e.Value)
		}
		s.w.str(")\r\n")
	}
	if longest > 0 {
		// RFC 5464 §4.2.1: entries left out for MAXSIZE, and the largest.
		return ok("METADATA LONGENTRIES "+itoa(int64(longest)), "GETMETADATA completed")
	}
	return ok("", "GETMETADATA completed")
}

func (s *session) cmdSetMetadata(c *command) reply {
	if len(c.meta.names) > maxMetadataPerCmd {
		return no("METADATA TOOMANY", "too many entries in one command")
	}
	entries := make([]store.MetadataEntry, len(c.meta.names))
	for i, n := range c.meta.names {
		if n == "/private" || n == "/shared" {
			return bad("", "an entry needs a name below /private or /shared")
		}
		if len(c.meta.values[i]) > maxMetadataValue {
			return no("METADATA MAXSIZE "+itoa(maxMetadataValue), "value too large")
		}
		entries[i] = store.MetadataEntry{Name: n, Value: c.meta.values[i]}
	}
	id, r := s.metadataMailbox(c)
	if r.status != "" {
		return r
	}
	err := s.srv.cfg.Store.SetMetadata(s.ctx, s.acct.ID, id, entries, maxMetadataEntries)
	if errors.Is(err, store.ErrLimit) {
		return no("METADATA TOOMANY", "too many entries on this mailbox")
	}
	if err != nil {
		return s.mapStoreErr(err, c.name)
	}
	return ok("", "SETMETADATA completed")
}
