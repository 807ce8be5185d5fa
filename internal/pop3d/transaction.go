package pop3d

import (
	"fmt"

	"postern/internal/store"
)

// msgArg resolves a message-number argument to a snapshot index, refusing
// numbers out of range and messages marked deleted (RFC 1939 §5).
func (s *session) msgArg(arg string) (int, error) {
	n, ok := parseMsgNum(arg, len(s.msgs))
	if !ok {
		return 0, perr("", "No such message")
	}
	if s.deleted[n-1] {
		return 0, perr("", fmt.Sprintf("Message %d already deleted", n))
	}
	return n - 1, nil
}

// uidl is the unique-id of a message: stable for as long as the mailbox's
// UIDVALIDITY, made of digits and "." only (RFC 1939 §7: 0x21..0x7E, at
// most 70 octets; ours is at most 21).
func (s *session) uidl(i int) string {
	return fmt.Sprintf("%d.%d", s.mailbox.UIDValidity, s.msgs[i].UID)
}

// cmdSTAT: count and size of the messages not marked deleted (RFC 1939 §5).
func (s *session) cmdSTAT(c command) error {
	if len(c.Args) != 0 {
		return badCmd("Usage: STAT")
	}
	var n int
	var size int64
	for i, m := range s.msgs {
		if !s.deleted[i] {
			n++
			size += m.Size
		}
	}
	s.writef("+OK %d %d\r\n", n, size)
	return nil
}

// cmdLIST gives the size of one message or of every one not deleted.
func (s *session) cmdLIST(c command) error {
	return s.listing(c, "LIST", func(i int) string {
		return fmt.Sprint(s.msgs[i].Size)
	})
}

// cmdUIDL gives the unique-id of one message or of every one not deleted.
func (s *session) cmdUIDL(c command) error {
	return s.listing(c, "UIDL", s.uidl)
}

// listing is the shared shape of LIST and UIDL (RFC 1939 §5, §7): with an
// argument a one-line "+OK n value", without a multi-line list.
func (s *session) listing(c command, name string, value func(int) string) error {
	switch len(c.Args) {
	case 0:
		s.w.WriteString("+OK\r\n")
		for i := range s.msgs {
			if !s.deleted[i] {
				fmt.Fprintf(s.w, "%d %s\r\n", i+1, value(i))
			}
		}
		s.w.WriteString(".\r\n")
		return nil
	case 1:
		i, err := s.msgArg(c.Args[0])
		if err != nil {
			return err
		}
		s.writef("+OK %d %s\r\n", i+1, value(i))
		return nil
	}
	return badCmd("Usage: " + name + " [msg]")
}

// cmdRETR sends a whole message.
func (s *session) cmdRETR(c command) error {
	if len(c.Args) != 1 {
		return badCmd("Usage: RETR msg")
	}
	i, err := s.msgArg(c.Args[0])
	if err != nil {
		return err
	}
	if err := s.sendMessage(i, -1); err != nil {
		return err
	}
	if !s.retrieved[i] {
		s.retrieved[i] = true
		s.nRetr++
	}
	return nil
}

// cmdTOP sends the header and the first n body lines (RFC 1939 §7).
func (s *session) cmdTOP(c command) error {
	if len(c.Args) != 2 {
		return badCmd("Usage: TOP msg lines")
	}
	i, err := s.msgArg(c.Args[0])
	if err != nil {
		return err
	}
	lines, ok := parseCount(c.Args[1])
	if !ok {
		return badCmd("Invalid line count")
	}
	return s.sendMessage(i, lines)
}

// sendMessage streams message i, all of it when lines < 0. The blob is
// opened before "+OK" so that a missing body is a clean -ERR; an error
// after that cannot be reported in-band, so the session is closed rather
// than end a truncated message with a terminator.
func (s *session) sendMessage(i, lines int) error {
	rc, err := s.srv.cfg.Store.OpenBlob(s.ctx, s.msgs[i].BlobID)
	if err != nil {
		s.log.Error("cannot open message", "user", s.account.Address, "uid", s.msgs[i].UID, "err", err)
		return perr("SYS/TEMP", "Cannot read message, try again later")
	}
	defer rc.Close()
	if s.buf == nil {
		s.buf = make([]byte, copyBufSize)
	}
	if lines < 0 {
		s.writef("+OK %d octets\r\n", s.msgs[i].Size)
	} else {
		s.w.WriteString("+OK\r\n")
	}
	d := newDotWriter(s.w)
	if lines >= 0 {
		d.limitTop(lines)
	}
	if err := copyMessage(d, rc, s.buf); err != nil {
		s.log.Error("message read failed mid-response", "user", s.account.Address, "uid", s.msgs[i].UID, "err", err)
		s.closing = true
		s.w.Reset(s.conn) // drop the partial message rather than terminate it
		return nil
	}
	return d.finish()
}

// cmdDELE marks a message; it is removed at QUIT (RFC 1939 §5).
func (s *session) cmdDELE(c command) error {
	if len(c.Args) != 1 {
		return badCmd("Usage: DELE msg")
	}
	i, err := s.msgArg(c.Args[0])
	if err != nil {
		return err
	}
	s.deleted[i] = true
	s.writef("+OK Message %d deleted\r\n", i+1)
	return nil
}

// cmdRSET unmarks every message marked deleted (RFC 1939 §5).
func (s *session) cmdRSET(c command) error {
	if len(c.Args) != 0 {
		return badCmd("Usage: RSET")
	}
	clear(s.deleted)
	var size int64
	for _, m := range s.msgs {
		size += m.Size
	}
	s.writef("+OK %d messages (%d octets)\r\n", len(s.msgs), size)
	return nil
}

// cmdQUIT ends the session. In TRANSACTION state it enters UPDATE (RFC 1939
// §6): the marked messages are expunged in one store call, then the ones
// retrieved and kept are marked \Seen for IMAP's benefit.
func (s *session) cmdQUIT(c command) error {
	s.closing = true
	if s.state != stateTransaction {
		s.w.WriteString("+OK Bye\r\n")
		return nil
	}
	var del, seen []uint32
	for i, m := range s.msgs {
		switch {
		case s.deleted[i]:
			del = append(del, m.UID)
		case s.retrieved[i] && m.Flags&store.FlagSeen == 0:
			seen = append(seen, m.UID)
		}
	}
	if len(del) > 0 {
		if _, _, err := s.srv.cfg.Store.Expunge(s.ctx, s.mailbox.ID, del); err != nil {
			s.log.Error("expunge at QUIT failed", "user", s.account.Address, "err", err)
			// RFC 1939 §6: -ERR when some deleted messages were not removed.
			return perr("SYS/TEMP", "Some deleted messages not removed, try again later")
		}
	}
	if len(seen) > 0 {
		upd := store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagSeen}
		if _, err := s.srv.cfg.Store.UpdateFlags(s.ctx, s.mailbox.ID, seen, upd); err != nil {
			// Not worth failing QUIT for: the messages are intact.
			s.log.Warn("marking retrieved messages seen failed", "user", s.account.Address, "err", err)
		}
	}
	s.log.Info("quit", "user", s.account.Address, "retrieved", s.nRetr, "deleted", len(del), "left", len(s.msgs)-len(del))
	s.writef("+OK Bye, %d messages left\r\n", len(s.msgs)-len(del))
	return nil
}
