package imapd

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"postern/internal/store"
)

// maxMailboxName bounds CREATE and RENAME targets.
const maxMailboxName = 512

func validMailboxName(name string) bool {
	if name == "" || len(name) > maxMailboxName || strings.HasPrefix(name, "/") ||
		strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return false
	}
	// Clients and exports map names to paths: no "." or ".." levels.
	for _, level := range strings.Split(name, "/") {
		if level == "." || level == ".." {
			return false
		}
	}
	// RFC 9051 §5.1: names are UTF-8, whatever the client's encoding
	// was (modified UTF-7 is decoded before this).
	return utf8.ValidString(name) && !strings.ContainsAny(name, "*%\r\n\x00")
}

func (s *session) cmdCreate(c *command) reply {
	// RFC 9051 §6.3.4: a trailing delimiter only says children are intended.
	name := strings.TrimSuffix(c.mailbox, "/")
	if c.badUTF7 || !validMailboxName(name) {
		return no("CANNOT", "invalid mailbox name")
	}
	if name == "INBOX" {
		return no("ALREADYEXISTS", "INBOX exists")
	}
	use, r := createSpecialUse(c.use)
	if r.status != "" {
		return r
	}
	if inSharedNamespace(name) {
		return s.createShared(name, use)
	}
	// Create missing parents too, so that the hierarchy stays selectable.
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], "/")
		if _, err := s.srv.cfg.Store.CreateMailbox(s.ctx, s.acct.ID, parent, ""); err != nil && !errors.Is(err, store.ErrExists) {
			return s.mapStoreErr(err, "CREATE")
		}
	}
	mb, err := s.srv.cfg.Store.CreateMailbox(s.ctx, s.acct.ID, name, use)
	if err != nil {
		return s.mapStoreErr(err, "CREATE")
	}
	return ok("MAILBOXID (m"+itoa(mb.ID)+")", "CREATE completed") // RFC 8474 §4.1
}

func (s *session) cmdDelete(c *command) reply {
	if c.mailbox == "INBOX" {
		return no("CANNOT", "INBOX cannot be deleted")
	}
	ref, err := s.lookupMailbox(c.mailbox)
	if err != nil {
		return s.mapStoreErr(err, "DELETE")
	}
	if r, allowed := need(ref, store.RightDeleteMailbox, "DELETE"); !allowed {
		return r
	}
	if s.sel != nil && s.sel.mbox.ID == ref.mb.ID {
		return no("INUSE", "mailbox is selected")
	}
	if err := s.srv.cfg.Store.DeleteMailbox(s.ctx, ref.mb.AccountID, ref.mb.Name); err != nil {
		return s.mapStoreErr(err, "DELETE")
	}
	if ref.shared() {
		s.log.Info("imap shared mailbox deleted", "mailbox", ref.name)
	}
	return ok("", "DELETE completed")
}

func (s *session) cmdRename(c *command) reply {
	if c.badUTF7 || !validMailboxName(c.mailbox2) || c.mailbox2 == "INBOX" {
		return no("CANNOT", "invalid mailbox name")
	}
	if inSharedNamespace(c.mailbox) || inSharedNamespace(c.mailbox2) {
		return s.renameShared(c)
	}
	if err := s.srv.cfg.Store.RenameMailbox(s.ctx, s.acct.ID, c.mailbox, c.mailbox2); err != nil {
		return s.mapStoreErr(err, "RENAME")
	}
	if s.sel != nil && s.sel.mbox.Name == c.mailbox && c.mailbox != "INBOX" {
		s.sel.mbox.Name = c.mailbox2
	}
	return ok("", "RENAME completed")
}

func (s *session) cmdSubscribe(c *command) reply {
	on := c.name == "SUBSCRIBE"
	if inSharedNamespace(c.mailbox) {
		ref, err := s.lookupMailbox(c.mailbox)
		if err == nil {
			err = s.srv.cfg.Store.SetSharedSubscribed(s.ctx, s.acct.ID, ref.mb.ID, on)
		}
		if err != nil {
			return s.mapStoreErr(err, c.name)
		}
		return ok("", c.name+" completed")
	}
	if err := s.srv.cfg.Store.SetSubscribed(s.ctx, s.acct.ID, c.mailbox, on); err != nil {
		return s.mapStoreErr(err, c.name)
	}
	return ok("", c.name+" completed")
}

func (s *session) cmdStatus(c *command) reply {
	ref, err := s.lookupMailbox(c.mailbox)
	if err != nil {
		return s.mapStoreErr(err, "STATUS")
	}
	if r, allowed := need(ref, store.RightRead, "STATUS"); !allowed {
		return r
	}
	if r := s.writeStatus(ref.withName(), c.status); r.status != "" {
		return r
	}
	return ok("", "STATUS completed")
}

// writeStatus writes one STATUS response (RFC 9051 §7.3.4).
func (s *session) writeStatus(mb store.Mailbox, items []string) reply {
	st, err := s.srv.cfg.Store.MailboxStatus(s.ctx, mb.ID)
	if err != nil {
		return s.mapStoreErr(err, "STATUS")
	}
	s.w.str("* STATUS ")
	s.writeMailbox(mb.Name)
	s.w.str(" (")
	for i, it := range items {
		if i > 0 {
			s.w.byte(' ')
		}
		s.w.str(it)
		s.w.byte(' ')
		switch it {
		case "MESSAGES":
			s.w.num(uint64(st.Messages))
		case "UIDNEXT":
			s.w.num(uint64(st.UIDNext))
		case "UIDVALIDITY":
			s.w.num(uint64(st.UIDValidity))
		case "UNSEEN":
			s.w.num(uint64(st.Unseen))
		case "SIZE":
			s.w.num(uint64(st.Size))
		case "HIGHESTMODSEQ":
			s.w.num(st.HighestModSeq)
			s.cond.enable() // RFC 7162 §3.1: an enabling command
		case "DELETED":
			s.w.num(uint64(st.Deleted))
		case "RECENT":
			s.w.num(uint64(s.statusRecent(mb.ID)))
		case "DELETED-STORAGE":
			s.w.num(s.deletedStorage(mb.ID)) // RFC 9208 §4.4
		case "MAILBOXID":
			s.w.str("(m" + itoa(mb.ID) + ")")
		case "APPENDLIMIT":
			s.w.num(uint64(s.srv.cfg.AppendLimit)) // RFC 7889 §3: one limit for all
		}
	}
	s.w.str(")\r\n")
	return reply{}
}

// parseFlags splits a client's flag list into system flags and keywords.
// \Recent cannot be set (RFC 9051 §2.3.2); other unknown system flags are
// refused.
func parseFlags(names []string) (store.Flags, []string, bool) {
	var f store.Flags
	var kw []string
	seen := map[string]bool{}
	for _, n := range names {
		if strings.HasPrefix(n, `\`) {
			if sf, ok := store.ParseFlag(n); ok {
				f |= sf
				continue
			}
			if strings.EqualFold(n, `\Recent`) {
				continue
			}
			return 0, nil, false
		}
		if !seen[strings.ToLower(n)] {
			seen[strings.ToLower(n)] = true
			kw = append(kw, n)
		}
	}
	return f, kw, true
}

var errConnLost = errors.New("connection lost")

func safeParse(parse func(io.Reader) (store.MessageMeta, error), r io.Reader) (meta store.MessageMeta, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("message parser panic: %v", p)
		}
	}()
	return parse(r)
}

// literalReader reads exactly left bytes; a short read is a lost connection.
type literalReader struct {
	r    io.Reader
	left int64
	err  error
}

func (l *literalReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if err != nil && l.left > 0 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		l.err = err
		return n, err
	}
	return n, nil
}

// stickyWriter remembers the first write error and then accepts (drops)
// everything, so the reader side keeps draining the literal.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
	return len(p), nil
}

// lineError answers a syntax error found after a handler consumed part of
// a command; an I/O error ends the session.
func (s *session) lineError(err error) reply {
	var pe *parseError
	if !errors.As(err, &pe) {
		return reply{}
	}
	if s.p.skipLine() != nil {
		return reply{}
	}
	return bad(pe.code, pe.msg)
}
