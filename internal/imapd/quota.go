package imapd

import "postern/internal/store"

// QUOTA (RFC 9208). Each account has one quota root, named "", holding
// every mailbox of the account; its resources are STORAGE (in units of
// 1024 octets) and MESSAGE, from the account's limits. Limits are set
// by the administrator (postern user quota), so SETQUOTA is refused and
// QUOTASET is not advertised.

// quotaRoot is the name of the one quota root of an account.
const quotaRoot = ""

// parseQuota reads GETQUOTA quota-root, GETQUOTAROOT mailbox and
// SETQUOTA quota-root "(" [setquota-resource *(SP setquota-resource)] ")"
// (RFC 9208 §4, §9).
func parseQuota(p *parser, c *command) {
	p.sp()
	switch c.name {
	case "GETQUOTAROOT":
		c.mailbox = p.mailbox()
	case "GETQUOTA":
		c.strs = []string{p.astring()}
	case "SETQUOTA":
		c.strs = []string{p.astring()}
		p.sp()
		p.list(true, func() {
			p.atom()
			p.sp()
			p.number64()
		})
	}
}

// cmdQuota runs GETQUOTAROOT, GETQUOTA and SETQUOTA.
func (s *session) cmdQuota(c *command) reply {
	switch c.name {
	case "GETQUOTAROOT":
		return s.cmdGetQuotaRoot(c)
	case "GETQUOTA":
		return s.cmdGetQuota(c)
	}
	// RFC 9208 §4.1: without QUOTASET the limits cannot be changed here.
	return no("NOPERM", "quotas are set by the administrator")
}

// cmdGetQuotaRoot: RFC 9208 §4.3. A mailbox of an account without limits
// has no quota root.
func (s *session) cmdGetQuotaRoot(c *command) reply {
	ref, err := s.lookupMailbox(c.mailbox)
	if err != nil {
		return s.mapStoreErr(err, "GETQUOTAROOT")
	}
	if ref.shared() {
		// The owner's quota is the owner's business: no root here.
		s.w.str("* QUOTAROOT ")
		s.writeMailbox(ref.name)
		s.w.crlf()
		return ok("", "GETQUOTAROOT completed")
	}
	acct, err := s.srv.cfg.Store.AccountByID(s.ctx, s.acct.ID)
	if err != nil {
		return s.mapStoreErr(err, "GETQUOTAROOT")
	}
	s.w.str("* QUOTAROOT ")
	s.writeMailbox(c.mailbox)
	if hasQuota(acct) {
		s.w.str(` ""`)
		s.w.crlf()
		s.writeQuota(acct)
	} else {
		s.w.crlf()
	}
	return ok("", "GETQUOTAROOT completed")
}

// cmdGetQuota: RFC 9208 §4.2.
func (s *session) cmdGetQuota(c *command) reply {
	acct, err := s.srv.cfg.Store.AccountByID(s.ctx, s.acct.ID)
	if err != nil {
		return s.mapStoreErr(err, "GETQUOTA")
	}
	if c.strs[0] != quotaRoot || !hasQuota(acct) {
		return no("NONEXISTENT", "no such quota root")
	}
	s.writeQuota(acct)
	return ok("", "GETQUOTA completed")
}

func hasQuota(a store.Account) bool { return a.QuotaBytes > 0 || a.QuotaMessages > 0 }

// writeQuota writes `* QUOTA "" (STORAGE used limit MESSAGE used limit)`
// with only the limited resources. Usage in KiB is rounded up, so a
// mailbox that is full shows as full (RFC 9208 §5.1).
func (s *session) writeQuota(a store.Account) {
	s.w.str(`* QUOTA "" (`)
	if a.QuotaBytes > 0 {
		s.w.str("STORAGE ")
		s.w.num(uint64(max(0, (a.UsedBytes+1023)/1024)))
		s.w.byte(' ')
		s.w.num(uint64(a.QuotaBytes / 1024))
		if a.QuotaMessages > 0 {
			s.w.byte(' ')
		}
	}
	if a.QuotaMessages > 0 {
		s.w.str("MESSAGE ")
		s.w.num(uint64(max(0, a.UsedMessages)))
		s.w.byte(' ')
		s.w.num(uint64(a.QuotaMessages))
	}
	s.w.str(")\r\n")
}

// deletedStorage is what EXPUNGE would free in the mailbox, in units of
// the STORAGE resource (RFC 9208 §4.4): the sizes of its \Deleted
// messages, from the light listing.
func (s *session) deletedStorage(mailboxID int64) uint64 {
	msgs, err := s.srv.cfg.Store.MessageFlags(s.ctx, mailboxID, 1, 0)
	if err != nil {
		s.log.Warn("imap status: listing for DELETED-STORAGE", "err", err)
		return 0
	}
	var n int64
	for _, m := range msgs {
		if m.Flags&store.FlagDeleted != 0 {
			n += m.Size
		}
	}
	return uint64((n + 1023) / 1024)
}
