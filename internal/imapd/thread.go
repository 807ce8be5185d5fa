package imapd

import (
	"strings"

	"postern/internal/query"
)

func (s *session) cmdThread(c *command) reply {
	if r, conflict := s.utf8CharsetConflict(c); conflict {
		return r
	}
	if c.badCharset {
		return badCharsetReply()
	}
	roots, err := query.Thread(s.ctx, s.srv.cfg.Store, s.query(c), c.threadAlg)
	if err != nil {
		return s.mapStoreErr(err, "THREAD")
	}
	// RFC 5256 §5: thread-data = "THREAD" [SP 1*thread-list]
	var b strings.Builder
	b.WriteString("* THREAD")
	if len(roots) > 0 {
		b.WriteByte(' ')
	}
	for _, r := range roots {
		s.writeThread(&b, r, c.uid)
	}
	s.w.str(b.String())
	s.w.crlf()
	return ok("", "THREAD completed")
}

// writeThread writes one thread-list (RFC 5256 §5): a chain of single
// children as numbers, several children as nested lists; a dummy adds no
// number.
func (s *session) writeThread(b *strings.Builder, n *query.ThreadNode, uid bool) {
	b.WriteByte('(')
	first := true
	for {
		if n.UID != 0 {
			if !first {
				b.WriteByte(' ')
			}
			first = false
			if uid {
				b.WriteString(itoa(int64(n.UID)))
			} else {
				b.WriteString(itoa(int64(s.sel.seqOf(n.UID))))
			}
		}
		if len(n.Children) != 1 || n.UID == 0 {
			break
		}
		n = n.Children[0]
	}
	if len(n.Children) > 0 && !first {
		b.WriteByte(' ')
	}
	for _, k := range n.Children {
		s.writeThread(b, k, uid)
	}
	b.WriteByte(')')
}
