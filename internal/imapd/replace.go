package imapd

import (
	"errors"

	"postern/internal/store"
)

// cmdReplace implements REPLACE and UID REPLACE (RFC 8508): the new
// message is appended to the destination, then the one it replaces is
// expunged from the selected mailbox; the client gets the APPENDUID in an
// untagged OK, the EXPUNGE, and the tagged OK. When the append fails the
// original stays.
func (s *session) cmdReplace(c *command) reply {
	sel := s.sel
	if sel.readOnly {
		return s.drainAppend(c, no("READ-ONLY", "mailbox is read-only"))
	}
	idx, invalid := sel.resolve(c.seq, c.uid)
	switch {
	case invalid && !c.uid:
		return s.drainAppend(c, bad("", "invalid message sequence number"))
	case len(idx) != 1:
		return s.drainAppend(c, no("", "REPLACE needs exactly one existing message"))
	}
	old := sel.uids[idx[0]]
	st := s.srv.cfg.Store
	mb, err := st.Mailbox(s.ctx, s.acct.ID, c.mailbox)
	if errors.Is(err, store.ErrNotFound) {
		return s.drainAppend(c, no("TRYCREATE", "no such mailbox"))
	}
	if err != nil {
		return s.drainAppend(c, s.mapStoreErr(err, "REPLACE"))
	}
	s.p.litMax = s.srv.cfg.AppendLimit
	var msg pendingMsg
	var r reply
	var stop bool
	if c.app.catenate { // RFC 8508 §3.3: REPLACE takes CATENATE's append-data
		total := int64(0)
		msg, r, stop = s.readCatenateMsg(c, c.app, 0, &total)
	} else {
		msg, r, stop = s.readAppendMsg(c, c.app, 0, c.app.size)
	}
	if stop {
		return r
	}
	defer func() {
		if msg.body != nil {
			msg.body.Discard()
		}
	}()
	if _, more, perr := s.p.nextAppend(&msg.args); perr != nil || more {
		if perr == nil {
			perr = errors.New("REPLACE takes one message")
		}
		return s.lineError(perr)
	}
	pending := []pendingMsg{msg}
	msg.body = nil // committed or discarded by commitAppended
	uids, r := s.commitAppended(mb, pending)
	if r.status != "" {
		return r
	}
	s.w.line("* OK [APPENDUID ", itoa(int64(mb.UIDValidity)), " ", formatSetOrdered(uids), "] replacement stored")
	gone, _, err := st.Expunge(s.ctx, sel.mbox.ID, []uint32{old})
	if err != nil {
		return s.mapStoreErr(err, "REPLACE")
	}
	for _, u := range gone {
		sel.expunged[u] = struct{}{}
	}
	return ok("", "REPLACE completed")
}
