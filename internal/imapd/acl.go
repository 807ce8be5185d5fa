package imapd

import (
	"errors"
	"slices"
	"strings"

	"postern/internal/store"
)

// Shared mailboxes (RFC 4314 ACL, RFC 2342 NAMESPACE): another account's
// mailbox on which this account holds rights is named
// "Other Users/<owner address>/<owner's name>". The rights live in the
// store (store.ACLStore); this file maps names and checks rights.

// sharedRoot is the "other users" namespace (RFC 2342 §5).
const (
	sharedRoot   = "Other Users"
	sharedPrefix = sharedRoot + "/"
)

// Limits of the ACL commands' arguments.
const (
	maxIdentifier = 320 // an address (RFC 5321 §4.5.3.1)
	maxRightsArg  = 32
)

// mailboxRef is a mailbox as this session names it.
type mailboxRef struct {
	mb     store.Mailbox // the owner's mailbox, Name as the owner knows it
	name   string        // the session's name for it
	rights store.Rights
	owner  string // the owner's address when shared with us, else ""
}

func (r mailboxRef) shared() bool { return r.owner != "" }

// withName is the mailbox as the session names it, for LIST and STATUS.
func (r mailboxRef) withName() store.Mailbox {
	mb := r.mb
	mb.Name = r.name
	return mb
}

// splitShared splits "Other Users/owner/name" (name may be ""); ok is
// false for a name outside the namespace.
func splitShared(name string) (owner, rest string, ok bool) {
	if !strings.HasPrefix(name, sharedPrefix) {
		return "", "", false
	}
	owner, rest, _ = strings.Cut(name[len(sharedPrefix):], "/")
	return strings.ToLower(owner), canonMailbox(rest), true
}

// inSharedNamespace tells whether a name belongs to the other users'
// namespace, where the session's own mailboxes cannot be created.
func inSharedNamespace(name string) bool {
	return name == sharedRoot || strings.HasPrefix(name, sharedPrefix)
}

func sharedName(owner, name string) string { return sharedPrefix + owner + "/" + name }

// lookupMailbox finds a mailbox by the session's name for it, with this
// account's rights on it. A shared mailbox on which the account holds no
// right does not exist for it (RFC 4314 §4: never reveal it).
func (s *session) lookupMailbox(name string) (mailboxRef, error) {
	st := s.srv.cfg.Store
	ownerAddr, rest, shared := splitShared(name)
	if !shared {
		if name == sharedRoot {
			return mailboxRef{}, store.ErrNotFound
		}
		mb, err := st.Mailbox(s.ctx, s.acct.ID, name)
		return mailboxRef{mb: mb, name: mb.Name, rights: store.AllRights}, err
	}
	if rest == "" || ownerAddr == s.acct.Address {
		return mailboxRef{}, store.ErrNotFound
	}
	owner, err := st.Account(s.ctx, ownerAddr)
	if err != nil {
		return mailboxRef{}, err
	}
	mb, err := st.Mailbox(s.ctx, owner.ID, rest)
	if err != nil {
		return mailboxRef{}, err
	}
	rights, err := st.MailboxRights(s.ctx, mb.ID, s.acct.ID)
	if err != nil {
		return mailboxRef{}, err
	}
	if rights == 0 {
		return mailboxRef{}, store.ErrNotFound
	}
	return mailboxRef{mb: mb, name: sharedName(owner.Address, mb.Name), rights: rights, owner: owner.Address}, nil
}

// need answers NO when the rights lack want (RFC 4314 §4); what names
// the command.
func need(r mailboxRef, want store.Rights, what string) (reply, bool) {
	if r.rights.Has(want) {
		return reply{}, true
	}
	return no("NOPERM", what+": permission denied ("+want.String()+" needed)"), false
}

// selectWritable: SELECT is read-only without any right to change the
// mailbox's messages (RFC 4314 §4).
const selectWritable = store.RightSeen | store.RightWrite | store.RightInsert |
	store.RightDeleteMessages | store.RightExpunge

// allowedFlags keeps of a STORE or APPEND the flags the rights permit:
// \Seen needs s, \Deleted t, the others w (RFC 4314 §4). A flag without
// the right is left out silently rather than failing the command.
func allowedFlags(r store.Rights, f store.Flags, kws []string) (store.Flags, []string) {
	if !r.Has(store.RightSeen) {
		f &^= store.FlagSeen
	}
	if !r.Has(store.RightDeleteMessages) {
		f &^= store.FlagDeleted
	}
	if !r.Has(store.RightWrite) {
		f &= store.FlagSeen | store.FlagDeleted
		kws = nil
	}
	return f, kws
}

// flagRights are the rights that every flag needs between them.
const flagRights = store.RightSeen | store.RightWrite | store.RightDeleteMessages

// filterFlagNames drops from a client's flag list the flags the rights do
// not permit (APPEND).
func filterFlagNames(r store.Rights, names []string) []string {
	if r.Has(flagRights) {
		return names
	}
	var out []string
	for _, n := range names {
		f, system := store.ParseFlag(n)
		switch {
		case system && f == store.FlagSeen && !r.Has(store.RightSeen):
		case system && f == store.FlagDeleted && !r.Has(store.RightDeleteMessages):
		case (!system || (f != store.FlagSeen && f != store.FlagDeleted)) && !r.Has(store.RightWrite):
		default:
			out = append(out, n)
		}
	}
	return out
}

// cmdNamespace: RFC 2342, the personal namespace and the other users'.
func (s *session) cmdNamespace() reply {
	s.w.str(`* NAMESPACE (("" "/")) ((`)
	s.w.string(sharedPrefix)
	s.w.str(` "/")) NIL`)
	s.w.crlf()
	return ok("", "NAMESPACE completed")
}

// watchOwner subscribes to the change events of a shared mailbox's owner,
// so that the selected view follows what others do in it as for one of
// the session's own mailboxes.
func (s *session) watchOwner(ownerID int64) {
	if ownerID == s.acct.ID || ownerID == s.sharedAcct {
		return
	}
	if s.sharedCancel != nil {
		s.sharedCancel()
	}
	s.sharedEvents, s.sharedCancel = s.srv.cfg.Store.Notifier().Subscribe(ownerID)
	s.sharedAcct = ownerID
}

// drainSharedEvents reads the owner's pending events without blocking.
func (s *session) drainSharedEvents() {
	for {
		select {
		case ev := <-s.sharedEvents:
			s.noteSelectedEvent(ev)
		default:
			return
		}
	}
}

// recheckRights reloads the rights on a shared selected mailbox: the owner
// may have changed them since SELECT. Without "r" the mailbox is no
// longer readable: every command but CLOSE and UNSELECT is refused.
func (s *session) recheckRights(c *command) (reply, bool) {
	sel := s.sel
	if sel.owner == "" || c.name == "CLOSE" || c.name == "UNSELECT" {
		return reply{}, true
	}
	r, err := s.srv.cfg.Store.MailboxRights(s.ctx, sel.mbox.ID, s.acct.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return s.mapStoreErr(err, c.name), false
	}
	sel.rights = r
	if !r.Has(store.RightRead) {
		return no("NOPERM", "access to this mailbox was withdrawn"), false
	}
	return reply{}, true
}

// reloadSharedRights rereads the rights on a shared selected mailbox
// while idling, so that a withdrawn access stops the updates at once.
func (s *session) reloadSharedRights() {
	sel := s.sel
	if sel == nil || sel.owner == "" {
		return
	}
	r, err := s.srv.cfg.Store.MailboxRights(s.ctx, sel.mbox.ID, s.acct.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("imap: rereading rights", "err", err)
		return
	}
	sel.rights = r
}

// sharedListEntries are the mailboxes shared with this account as LIST
// shows them (buildEntries adds the namespace root and each owner as
// parents), and those of them without "r", which STATUS may not show.
func (s *session) sharedListEntries() ([]store.Mailbox, map[int64]bool, error) {
	shared, err := s.srv.cfg.Store.SharedMailboxes(s.ctx, s.acct.ID)
	if err != nil {
		return nil, nil, err
	}
	out := make([]store.Mailbox, 0, len(shared))
	unreadable := map[int64]bool{}
	for _, sm := range shared {
		if !sm.Rights.Has(store.RightLookup) {
			continue // RFC 4314 §4: LIST shows what "l" allows
		}
		if !sm.Rights.Has(store.RightRead) {
			unreadable[sm.ID] = true
		}
		mb := sm.Mailbox
		mb.Name = sharedName(sm.Owner, sm.Name)
		mb.Subscribed = sm.Subscribed
		mb.SpecialUse = "" // the owner's roles are not the grantee's
		out = append(out, mb)
	}
	return out, unreadable, nil
}

// identifierOf reads an ACL identifier: "anyone", an address, or a local
// part of the owner's domain; a leading "-" names a negative entry.
func identifierOf(raw, ownerAddr string) (id string, negative bool) {
	id = strings.ToLower(raw)
	if strings.HasPrefix(id, "-") {
		id, negative = id[1:], true
	}
	if id != store.Anyone && !strings.Contains(id, "@") {
		if _, domain, ok := strings.Cut(ownerAddr, "@"); ok {
			id += "@" + domain
		}
	}
	return id, negative
}

// aclTarget resolves the mailbox of an ACL command and checks "a".
func (s *session) aclTarget(c *command) (mailboxRef, reply, bool) {
	ref, err := s.lookupMailbox(c.mailbox)
	if err != nil {
		return ref, s.mapStoreErr(err, c.name), false
	}
	r, okRights := need(ref, store.RightAdmin, c.name)
	return ref, r, okRights
}

func (ref mailboxRef) ownerAddress(s *session) string {
	if ref.shared() {
		return ref.owner
	}
	return s.acct.Address
}

// cmdGetACL: RFC 4314 §3.3; the owner's implicit rights come first.
func (s *session) cmdGetACL(c *command) reply {
	ref, r, okRights := s.aclTarget(c)
	if !okRights {
		return r
	}
	entries, err := s.srv.cfg.Store.MailboxACL(s.ctx, ref.mb.ID)
	if err != nil {
		return s.mapStoreErr(err, c.name)
	}
	s.w.str("* ACL ")
	s.writeMailbox(ref.name)
	s.w.byte(' ')
	s.w.astring(ref.ownerAddress(s))
	s.w.byte(' ')
	s.w.astring(store.AllRights.String())
	for _, e := range entries {
		s.w.byte(' ')
		id := e.Identifier
		if e.Negative {
			id = "-" + id
		}
		s.w.astring(id)
		s.w.byte(' ')
		s.w.astring(e.Rights.String())
	}
	s.w.crlf()
	return ok("", "GETACL completed")
}

// cmdSetACL: RFC 4314 §3.1 (rights replaced, or added with "+", taken
// away with "-") and DELETEACL (§3.2).
func (s *session) cmdSetACL(c *command) reply {
	ref, r, okRights := s.aclTarget(c)
	if !okRights {
		return r
	}
	id, negative := identifierOf(c.aclID, ref.ownerAddress(s))
	if id == ref.ownerAddress(s) {
		return no("CANNOT", "the owner always holds every right")
	}
	mode, letters := byte(0), c.aclRights
	if letters != "" && (letters[0] == '+' || letters[0] == '-') {
		mode, letters = letters[0], letters[1:]
	}
	rights, err := store.ParseRights(letters)
	if err != nil {
		return bad("", "unknown right in "+c.aclRights) // RFC 4314 §3.1
	}
	if c.name == "DELETEACL" {
		rights, mode = 0, 0
	}
	if mode != 0 {
		cur, err := s.currentRights(ref.mb.ID, id, negative)
		if err != nil {
			return s.mapStoreErr(err, c.name)
		}
		if mode == '+' {
			rights = cur | rights
		} else {
			rights = cur &^ rights
		}
	}
	err = s.srv.cfg.Store.SetMailboxACL(s.ctx, ref.mb.ID, store.ACLEntry{Identifier: id, Negative: negative, Rights: rights})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return no("NONEXISTENT", c.name+": no such user "+id)
	case errors.Is(err, store.ErrInvalid):
		return no("CANNOT", c.name+": mailboxes are shared with accounts of the owner's domain only")
	case err != nil:
		return s.mapStoreErr(err, c.name)
	}
	s.log.Info("imap acl changed", "mailbox", ref.name, "identifier", id, "negative", negative, "rights", rights.String())
	return ok("", c.name+" completed")
}

func (s *session) currentRights(mailboxID int64, id string, negative bool) (store.Rights, error) {
	entries, err := s.srv.cfg.Store.MailboxACL(s.ctx, mailboxID)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.Identifier == id && e.Negative == negative {
			return e.Rights, nil
		}
	}
	return 0, nil
}

// cmdListRights: RFC 4314 §3.4. The owner's rights are all required;
// anyone else may be granted each right on its own.
func (s *session) cmdListRights(c *command) reply {
	ref, r, okRights := s.aclTarget(c)
	if !okRights {
		return r
	}
	id, _ := identifierOf(c.aclID, ref.ownerAddress(s))
	s.w.str("* LISTRIGHTS ")
	s.writeMailbox(ref.name)
	s.w.byte(' ')
	s.w.astring(c.aclID)
	if id == ref.ownerAddress(s) {
		s.w.byte(' ')
		s.w.astring(store.AllRights.String())
	} else {
		s.w.str(` "" l r s w i p k x t e a c d`)
	}
	s.w.crlf()
	return ok("", "LISTRIGHTS completed")
}

// cmdMyRights: RFC 4314 §3.5; any right on the mailbox allows it.
func (s *session) cmdMyRights(c *command) reply {
	ref, err := s.lookupMailbox(c.mailbox)
	if err != nil {
		return s.mapStoreErr(err, c.name)
	}
	s.w.str("* MYRIGHTS ")
	s.writeMailbox(ref.name)
	s.w.byte(' ')
	s.w.astring(ref.rights.String())
	s.w.crlf()
	return ok("", "MYRIGHTS completed")
}

// parseACLArgs reads GETACL, MYRIGHTS (mailbox), LISTRIGHTS, DELETEACL
// (mailbox identifier) and SETACL (mailbox identifier rights).
func parseACLArgs(p *parser, c *command) {
	p.sp()
	c.mailbox = p.mailbox()
	if c.name == "GETACL" || c.name == "MYRIGHTS" {
		return
	}
	p.sp()
	c.aclID = p.astring()
	if c.aclID == "" || len(c.aclID) > maxIdentifier {
		p.fail("bad identifier")
	}
	if c.name != "SETACL" {
		return
	}
	p.sp()
	c.aclRights = p.astring()
	if len(c.aclRights) > maxRightsArg {
		p.fail("bad rights")
	}
}

// createShared creates a mailbox in another account's hierarchy: its
// parent must exist and grant "k" (RFC 4314 §4); the new mailbox is the
// owner's, under the owner's quota.
func (s *session) createShared(name, use string) reply {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return no("CANNOT", "CREATE: "+sharedRoot+" holds other users' mailboxes")
	}
	parent, err := s.lookupMailbox(name[:i])
	if err != nil {
		return no("NOPERM", "CREATE: permission denied") // RFC 4314 §4: k on the parent
	}
	if r, allowed := need(parent, store.RightCreate, "CREATE"); !allowed {
		return r
	}
	child := parent.mb.Name + name[i:]
	if !validMailboxName(child) {
		return no("CANNOT", "invalid mailbox name")
	}
	mb, err := s.srv.cfg.Store.CreateMailbox(s.ctx, parent.mb.AccountID, child, use)
	if err != nil {
		return s.mapStoreErr(err, "CREATE")
	}
	s.log.Info("imap shared mailbox created", "mailbox", name)
	return ok("MAILBOXID (m"+itoa(mb.ID)+")", "CREATE completed")
}

// renameShared renames within one owner's hierarchy: "x" on the mailbox
// and "k" on the new parent (RFC 4314 §4). Names cannot move between
// accounts.
func (s *session) renameShared(c *command) reply {
	from, err := s.lookupMailbox(c.mailbox)
	if err != nil {
		return s.mapStoreErr(err, "RENAME")
	}
	if r, allowed := need(from, store.RightDeleteMailbox, "RENAME"); !allowed {
		return r
	}
	ownerAddr, rest, shared := splitShared(c.mailbox2)
	if !from.shared() || !shared || ownerAddr != from.owner || rest == "" {
		return no("CANNOT", "RENAME: a mailbox cannot move to another account")
	}
	// The owner's top level is the owner's alone.
	i := strings.LastIndexByte(c.mailbox2, '/')
	if i <= len(sharedPrefix)+len(ownerAddr) {
		return no("NOPERM", "RENAME: permission denied")
	}
	parent, err := s.lookupMailbox(c.mailbox2[:i])
	if err != nil {
		return no("NOPERM", "RENAME: permission denied")
	}
	if r, allowed := need(parent, store.RightCreate, "RENAME"); !allowed {
		return r
	}
	if err := s.srv.cfg.Store.RenameMailbox(s.ctx, from.mb.AccountID, from.mb.Name, rest); err != nil {
		return s.mapStoreErr(err, "RENAME")
	}
	if s.sel != nil && s.sel.mbox.ID == from.mb.ID {
		s.sel.mbox.Name = sharedName(from.owner, rest)
	}
	return ok("", "RENAME completed")
}

// systemFlags are every system flag a STORE can change.
const systemFlags = store.FlagSeen | store.FlagAnswered | store.FlagFlagged | store.FlagDeleted | store.FlagDraft

// limitedStore turns a STORE into what the rights permit (RFC 4314 §4):
// flags without their right are left alone, and the command fails only
// when it could change none of those it names. FLAGS (replace) becomes an
// addition and a removal of the permitted flags, so that the others keep
// their state.
func (sel *selected) limitedStore(upd store.FlagUpdate) ([]store.FlagUpdate, reply) {
	denied := no("NOPERM", "STORE: permission denied for these flags")
	f, kws := allowedFlags(sel.rights, upd.Flags, upd.Keywords)
	if upd.Op != store.FlagsReplace {
		if f == 0 && len(kws) == 0 && (upd.Flags != 0 || len(upd.Keywords) > 0) {
			return nil, denied
		}
		upd.Flags, upd.Keywords = f, kws
		return []store.FlagUpdate{upd}, reply{}
	}
	mutable, _ := allowedFlags(sel.rights, systemFlags, nil)
	if mutable == 0 && !sel.rights.Has(store.RightWrite) {
		return nil, denied
	}
	remove := store.FlagUpdate{Op: store.FlagsRemove, Flags: mutable &^ f}
	if sel.rights.Has(store.RightWrite) {
		keep := make(map[string]bool, len(kws))
		for _, k := range kws {
			keep[strings.ToLower(k)] = true
		}
		for k := range sel.keywords {
			if !keep[strings.ToLower(k)] {
				remove.Keywords = append(remove.Keywords, k)
			}
		}
	}
	return []store.FlagUpdate{{Op: store.FlagsAdd, Flags: f, Keywords: kws}, remove}, reply{}
}

// storeOps applies several flag updates in turn; a message's last change
// is what the client is told.
func (s *session) storeOps(uids []uint32, ops []store.FlagUpdate) (store.FlagResult, error) {
	var out store.FlagResult
	at := map[uint32]int{}
	for _, op := range ops {
		if op.Flags == 0 && len(op.Keywords) == 0 {
			continue
		}
		res, err := s.srv.cfg.Store.UpdateFlags(s.ctx, s.sel.mbox.ID, uids, op)
		if err != nil {
			return out, err
		}
		for _, m := range res.Changed {
			if i, seen := at[m.UID]; seen {
				out.Changed[i] = m
				continue
			}
			at[m.UID] = len(out.Changed)
			out.Changed = append(out.Changed, m)
		}
	}
	return out, nil
}

// dropUnpermittedFlags clears, on messages just copied or moved into a
// shared mailbox, the flags the rights there do not let this account set
// (RFC 4314 §4), as APPEND leaves them out.
func (s *session) dropUnpermittedFlags(mailboxID int64, uids []uint32, r store.Rights) error {
	if r.Has(flagRights) || len(uids) == 0 {
		return nil
	}
	kept, _ := allowedFlags(r, systemFlags, nil)
	upd := store.FlagUpdate{Op: store.FlagsRemove, Flags: systemFlags &^ kept}
	if !r.Has(store.RightWrite) {
		lo, hi := slices.Min(uids), slices.Max(uids)
		msgs, err := s.srv.cfg.Store.Messages(s.ctx, mailboxID, lo, hi)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, m := range msgs {
			for _, k := range m.Keywords {
				if !seen[k] {
					seen[k] = true
					upd.Keywords = append(upd.Keywords, k)
				}
			}
		}
	}
	_, err := s.srv.cfg.Store.UpdateFlags(s.ctx, mailboxID, uids, upd)
	return err
}
