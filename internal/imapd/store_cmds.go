package imapd

import (
	"errors"

	"postern/internal/store"
)

// cmdStore implements STORE and UID STORE (RFC 9051 §6.4.6).
func (s *session) cmdStore(c *command) reply {
	sel := s.sel
	if sel.readOnly {
		return no("READ-ONLY", "mailbox is read-only")
	}
	idx, invalid := sel.resolve(c.seq, c.uid)
	if invalid && !c.uid {
		return bad("", "invalid message sequence number")
	}
	flags, kws, okFlags := parseFlags(c.store.flags)
	if !okFlags {
		return bad("", "invalid flag")
	}
	if len(idx) == 0 {
		return ok("", "STORE completed")
	}
	uids := make([]uint32, len(idx))
	for i, x := range idx {
		uids[i] = sel.uids[x]
	}
	upd := store.FlagUpdate{Op: c.store.op, Flags: flags, Keywords: kws}
	var res store.FlagResult
	var code string // MODIFIED of a conditional STORE (RFC 7162 §3.1.3)
	var err error
	ops := []store.FlagUpdate{upd}
	if !sel.rights.Has(flagRights) {
		var r reply
		if ops, r = sel.limitedStore(upd); r.status != "" {
			return r
		}
		if c.cond.hasUnchanged && len(ops) > 1 {
			return no("NOPERM", "STORE: UNCHANGEDSINCE with FLAGS needs the rights on every flag")
		}
		upd = ops[0]
	}
	switch {
	case len(ops) > 1:
		res, err = s.storeOps(uids, ops)
	case c.cond.hasUnchanged:
		res, code, err = s.storeUnchangedSince(c, idx, uids, upd)
		idx = dropFailed(sel, idx, res.Failed)
	default:
		res, err = s.srv.cfg.Store.UpdateFlags(s.ctx, sel.mbox.ID, uids, upd)
	}
	if err != nil {
		return s.mapStoreErr(err, "STORE")
	}
	for _, m := range res.Changed {
		sel.own[m.ModSeq] = struct{}{}
	}
	if c.store.silent {
		s.writeSilentModSeqs(res.Changed)
		return ok(code, "STORE completed")
	}
	if err := s.writeStoreResults(c, idx, res.Changed); err != nil {
		return s.mapStoreErr(err, "STORE")
	}
	return ok(code, "STORE completed")
}

// writeStoreResults sends FETCH FLAGS for every message of the set: the
// changed ones from the update, the others as they are.
func (s *session) writeStoreResults(c *command, idx []int, changed []store.Message) error {
	sel := s.sel
	byUID := make(map[uint32]store.Message, len(changed))
	for _, m := range changed {
		byUID[m.UID] = m
	}
	var rest []int
	for _, x := range idx {
		if _, ok := byUID[sel.uids[x]]; !ok {
			rest = append(rest, x)
		}
	}
	if len(rest) > 0 {
		msgs, err := s.loadMessages(rest)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.UID != 0 {
				byUID[m.UID] = m
			}
		}
	}
	for _, x := range idx {
		m, ok := byUID[sel.uids[x]]
		if !ok {
			continue
		}
		if s.cond.on {
			s.writeChangeFetch(uint32(x+1), m, true)
			continue
		}
		s.announceKeywords(m.Keywords)
		s.fetchStart(uint32(x+1), m.UID)
		if c.uid && !s.uidOnly {
			s.w.str("UID ")
			s.w.num(uint64(m.UID))
			s.w.byte(' ')
		}
		s.w.str("FLAGS ")
		s.w.flagList(s.flagNames(m))
		s.w.str(")\r\n")
	}
	return nil
}

// cmdCopy implements COPY, MOVE and their UID forms (RFC 9051 §6.4.7,
// §6.4.8; COPYUID from RFC 4315 §3).
func (s *session) cmdCopy(c *command) reply {
	sel := s.sel
	if c.name == "MOVE" && sel.readOnly {
		return no("READ-ONLY", "mailbox is read-only")
	}
	idx, invalid := sel.resolve(c.seq, c.uid)
	if invalid && !c.uid {
		return bad("", "invalid message sequence number")
	}
	if c.name == "MOVE" && !sel.rights.Has(store.RightDeleteMessages|store.RightExpunge) {
		return no("NOPERM", "MOVE: permission denied (te needed)") // RFC 6851 §3.3
	}
	st := s.srv.cfg.Store
	ref, err := s.lookupMailbox(c.mailbox2)
	if errors.Is(err, store.ErrNotFound) && !inSharedNamespace(c.mailbox2) {
		return no("TRYCREATE", "no such mailbox")
	}
	if err != nil {
		return s.mapStoreErr(err, c.name)
	}
	if r, allowed := need(ref, store.RightInsert, c.name); !allowed {
		return r
	}
	dest := ref.mb
	if len(idx) == 0 {
		return ok("", c.name+" completed")
	}
	uids := make([]uint32, len(idx))
	for i, x := range idx {
		uids[i] = sel.uids[x]
	}
	src, dst, err := st.Copy(s.ctx, sel.mbox.ID, uids, dest.ID, c.name == "MOVE")
	if err != nil {
		return s.mapStoreErr(err, c.name)
	}
	if err := s.dropUnpermittedFlags(dest.ID, dst, ref.rights); err != nil {
		return s.mapStoreErr(err, c.name)
	}
	if dest.ID == sel.mbox.ID {
		sel.dirty = true
	}
	code := ""
	if len(src) > 0 {
		code = "COPYUID " + itoa(int64(dest.UIDValidity)) + " " + formatSetOrdered(src) + " " + formatSetOrdered(dst)
	}
	if c.name == "MOVE" {
		// RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges.
		if code != "" {
			s.w.line("* OK [", code, "] moved")
		}
		for _, u := range src {
			sel.expunged[u] = struct{}{}
		}
		return ok("", "MOVE completed")
	}
	return ok(code, "COPY completed")
}
