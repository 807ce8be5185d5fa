package jmapmail

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"

	"postern/internal/jmap"
	"postern/internal/store"
)

// Email/set (RFC 8621 §4.6) over the store: keywords are the message's
// IMAP flags and keywords (keywords.go), mailboxIds its one mailbox
// (maxMailboxesPerEmail is 1), a change of mailbox is the store's move,
// which keeps the message id, destroy is an expunge, and create writes a
// draft (draft*.go) and appends it as IMAP APPEND does. Email/set, like
// Mailbox/set, holds the account's lock (handler.lock), so ifInState and
// the checks of one call see no other JMAP call's half-done changes.

// registerEmailWrites adds the methods that change emails to srv.
func (h *handler) registerEmailWrites(srv *jmap.Server) {
	srv.Handle("Email/set", Capability, h.emailSet)
	srv.Handle("Email/import", Capability, h.emailImport)
	srv.Handle("Email/copy", Capability, h.emailCopy)
}

// BlobNotFound is the SetError of RFC 8621 §4.6 for a blobId that names
// no blob; its notFound property lists them.
const BlobNotFound jmap.ErrorType = "blobNotFound"

type emailSetArgs struct {
	AccountID string                                `json:"accountId"`
	IfInState *string                               `json:"ifInState"`
	Create    map[string]json.RawMessage            `json:"create"`
	Update    map[string]map[string]json.RawMessage `json:"update"`
	Destroy   []string                              `json:"destroy"`
}

// emailRun is one Email/set, Email/import or Email/copy in progress.
type emailRun struct {
	h    *handler
	c    *jmap.Call
	acct int64
	v    *view
	resp *setResponse
}

// begin checks the account, takes its lock and checks ifInState; the
// caller runs release when done.
func (h *handler) begin(ctx context.Context, c *jmap.Call, accountID string, ifInState *string, n int) (r *emailRun, release func(), err error) {
	acct, err := account(ctx, c, accountID)
	if err != nil {
		return nil, nil, err
	}
	if err := c.CheckSet(n); err != nil {
		return nil, nil, err
	}
	release = h.lock(acct)
	old, err := h.st.AccountModSeq(ctx, acct)
	if err == nil && ifInState != nil && *ifInState != formatState(old) {
		err = jmap.NewError(jmap.StateMismatch, "")
	}
	var v *view
	if err == nil {
		v, err = h.loadView(ctx, acct)
	}
	if err != nil {
		release()
		return nil, nil, storeErr(err)
	}
	return &emailRun{h: h, c: c, acct: acct, v: v,
		resp: &setResponse{AccountID: accountID, OldState: formatState(old)}}, release, nil
}

// finish sets newState.
func (r *emailRun) finish(ctx context.Context) error {
	now, err := r.h.st.AccountModSeq(ctx, r.acct)
	if err != nil {
		return storeErr(err)
	}
	r.resp.NewState = formatState(now)
	return nil
}

func (h *handler) emailSet(ctx context.Context, c *jmap.Call) (any, error) {
	var a emailSetArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	r, release, err := h.begin(ctx, c, a.AccountID, a.IfInState, len(a.Create)+len(a.Update)+len(a.Destroy))
	if err != nil {
		return nil, err
	}
	defer release()
	for _, cid := range sortedKeys(a.Create) {
		if err := r.create(ctx, cid, a.Create[cid]); err != nil {
			return nil, err
		}
	}
	updates := sortedKeys(a.Update)
	read, err := r.readAll(ctx, updates)
	if err != nil {
		return nil, err
	}
	for _, id := range updates {
		if err := r.update(ctx, id, a.Update[id], read); err != nil {
			return nil, err
		}
	}
	if err := r.destroy(ctx, a.Destroy); err != nil {
		return nil, err
	}
	if err := r.finish(ctx); err != nil {
		return nil, err
	}
	return r.resp, nil
}

func setFail(m *map[string]*jmap.Error, id string, e *jmap.Error) {
	if *m == nil {
		*m = map[string]*jmap.Error{}
	}
	(*m)[id] = e
}

// serverFail logs an unexpected store error and is the SetError for it.
func (r *emailRun) serverFail(op, id string, err error) *jmap.Error {
	r.h.opts.Logger.Error("jmapmail: "+r.c.Name, "op", op, "id", id, "account", r.acct, "err", err)
	return jmap.NewError(jmap.ServerFail, "")
}

// readAll reads the emails of ids with one store call, by message id.
func (r *emailRun) readAll(ctx context.Context, ids []string) (map[int64]store.Message, error) {
	want := make([]int64, 0, len(ids))
	for _, id := range ids {
		if n, ok := parseID(resolveCreated(r.c, id), 'e'); ok {
			want = append(want, n)
		}
	}
	rows, err := r.h.st.MessagesByID(ctx, r.acct, want)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make(map[int64]store.Message, len(rows))
	for _, m := range rows {
		out[m.ID] = m
	}
	return out, nil
}

// message reads one email of the account by its JMAP id.
func (r *emailRun) message(ctx context.Context, id string) (store.Message, bool, error) {
	n, ok := parseID(resolveCreated(r.c, id), 'e')
	if !ok {
		return store.Message{}, false, nil
	}
	ms, err := r.h.st.MessagesByID(ctx, r.acct, []int64{n})
	if err != nil || len(ms) == 0 {
		return store.Message{}, false, err
	}
	return ms[0], true, nil
}

// mailboxOf resolves a mailbox id (or "#creationId") of the account.
func (r *emailRun) mailboxOf(id string) (int64, bool) {
	n, ok := parseMailboxID(resolveCreated(r.c, id))
	if !ok || r.v.byID[n] == nil {
		return 0, false
	}
	return n, true
}

// oneMailbox resolves a mailboxIds value that must name exactly one
// existing mailbox.
func (r *emailRun) oneMailbox(ids map[string]bool) (int64, *jmap.Error) {
	var out []int64
	for id, in := range ids {
		if !in {
			return 0, invalidProps("mailboxIds values must be true", "mailboxIds")
		}
		n, ok := r.mailboxOf(id)
		if !ok {
			return 0, invalidProps("no such mailbox: "+id, "mailboxIds")
		}
		if len(out) == 0 || out[0] != n {
			out = append(out, n)
		}
	}
	if len(out) != 1 {
		return 0, invalidProps("an email is in exactly one mailbox (maxMailboxesPerEmail is 1)", "mailboxIds")
	}
	return out[0], nil
}

// emailPatch is a checked PatchObject of Email/set update.
type emailPatch struct {
	keywords  map[string]bool // whole, nil when not given
	kwChange  map[string]bool // keyword -> set (true) or removed
	mailboxes map[string]bool // whole, nil when not given
	mbChange  map[string]bool
}

// parsePatch checks a PatchObject (RFC 8620 §5.3): only keywords and
// mailboxIds may change (RFC 8621 §4.6), whole or member by member.
func parsePatch(patch map[string]json.RawMessage) (emailPatch, *jmap.Error) {
	p := emailPatch{kwChange: map[string]bool{}, mbChange: map[string]bool{}}
	var bad []string
	for _, k := range sortedKeys(patch) {
		v := patch[k]
		prop, member, isMember := strings.Cut(k, "/")
		member = strings.NewReplacer("~1", "/", "~0", "~").Replace(member)
		switch {
		case prop == "keywords" && !isMember:
			kw, e := decodeKeywords(v)
			if e != nil {
				return p, e
			}
			p.keywords = kw
		case prop == "mailboxIds" && !isMember:
			if json.Unmarshal(v, &p.mailboxes) != nil || p.mailboxes == nil {
				return p, invalidProps("mailboxIds must be an object", "mailboxIds")
			}
		case prop == "keywords" || prop == "mailboxIds":
			set, ok := patchMember(v)
			if !ok || prop == "keywords" && !validKeyword(member) {
				return p, invalidProps("a patch of "+prop+" sets true or null for a valid key", prop)
			}
			if prop == "keywords" {
				p.kwChange[strings.ToLower(member)] = set
			} else {
				p.mbChange[member] = set
			}
		default:
			bad = append(bad, prop)
		}
	}
	if len(bad) > 0 {
		return p, invalidProps("only keywords and mailboxIds can change", bad...)
	}
	// A pointer may not be a prefix of another (RFC 8620 §5.3).
	if p.keywords != nil && len(p.kwChange) > 0 || p.mailboxes != nil && len(p.mbChange) > 0 {
		return p, jmap.NewError(jmap.InvalidPatch, "a property is patched both whole and by member")
	}
	return p, nil
}

// patchMember reads the value of "prop/member": true sets it, null
// removes it.
func patchMember(v json.RawMessage) (set, ok bool) {
	switch strings.TrimSpace(string(v)) {
	case "true":
		return true, true
	case "null":
		return false, true
	}
	return false, false
}

// apply computes the keywords and mailbox of m after the patch.
func (r *emailRun) apply(m store.Message, p emailPatch) (map[string]bool, int64, *jmap.Error) {
	kw := p.keywords
	if kw == nil {
		kw = keywordsOf(m)
	} else {
		kw = maps.Clone(kw)
	}
	for k, set := range p.kwChange {
		if set {
			kw[k] = true
		} else {
			delete(kw, k)
		}
	}
	in := map[string]bool{mailboxID(m.MailboxID): true}
	if p.mailboxes != nil {
		in = p.mailboxes
	}
	for id, set := range p.mbChange {
		id = resolveCreated(r.c, id)
		if n, ok := r.mailboxOf(id); ok {
			id = mailboxID(n)
		}
		if set {
			in[id] = true
		} else {
			delete(in, id)
		}
	}
	mb, e := r.oneMailbox(in)
	return kw, mb, e
}

// update applies one PatchObject. The flags change on the condition that
// the message did not change since it was read (CONDSTORE's
// UNCHANGEDSINCE), so a patch of single keywords never undoes what an IMAP
// session set meanwhile; a conflict reads it again.
//
// The first attempt works on the row of read, which readAll made for
// every update of the call with one store read; the store's conditions
// (UNCHANGEDSINCE, the UID of the move) catch a row that changed since.
func (r *emailRun) update(ctx context.Context, id string, patch map[string]json.RawMessage, read map[int64]store.Message) error {
	p, e := parsePatch(patch)
	if e != nil {
		setFail(&r.resp.NotUpdated, id, e)
		return nil
	}
	for attempt := 0; attempt < 5; attempt++ {
		var m store.Message
		var ok bool
		var err error
		if n, _ := parseID(resolveCreated(r.c, id), 'e'); attempt == 0 {
			m, ok = read[n]
		} else {
			m, ok, err = r.message(ctx, id)
		}
		if err != nil {
			return storeErr(err)
		}
		if !ok {
			setFail(&r.resp.NotUpdated, id, jmap.NewError(jmap.NotFound, ""))
			return nil
		}
		kw, target, e := r.apply(m, p)
		if e != nil {
			setFail(&r.resp.NotUpdated, id, e)
			return nil
		}
		done, e := r.store(ctx, m, kw, target)
		if e != nil {
			setFail(&r.resp.NotUpdated, id, e)
			return nil
		}
		if done {
			if r.resp.Updated == nil {
				r.resp.Updated = map[string]any{}
			}
			r.resp.Updated[resolveCreated(r.c, id)] = nil
			return nil
		}
	}
	setFail(&r.resp.NotUpdated, id, r.serverFail("update", id, errors.New("the message kept changing")))
	return nil
}

// store writes the keywords and mailbox of m; done false means m changed
// since it was read and the caller reads it again.
func (r *emailRun) store(ctx context.Context, m store.Message, kw map[string]bool, target int64) (done bool, e *jmap.Error) {
	id := emailID(m.ID)
	flags, keywords := flagsOfKeywords(kw)
	flags |= m.Flags & store.FlagDeleted
	before := m
	flagged := false
	if !maps.Equal(kw, keywordsOf(m)) || flags != m.Flags {
		res, err := r.h.st.UpdateFlags(ctx, m.MailboxID, []uint32{m.UID}, store.FlagUpdate{
			Op: store.FlagsReplace, Flags: flags, Keywords: keywords, UnchangedSince: m.ModSeq})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, r.serverFail("update", id, err)
		}
		if err != nil || len(res.Changed) == 0 {
			return false, nil
		}
		m.Flags, m.Keywords, m.ModSeq = flags, keywords, res.Changed[0].ModSeq
		flagged = true
	}
	if target == m.MailboxID {
		return true, nil
	}
	src, _, err := r.h.st.Copy(ctx, m.MailboxID, []uint32{m.UID}, target, true)
	switch {
	case err == nil && len(src) == 0:
		return false, nil // moved or expunged meanwhile: read again
	case err == nil:
		return true, nil
	}
	// The update is all or nothing: the flags go back (unless someone
	// changed them since) before the failure is answered.
	if flagged {
		r.h.st.UpdateFlags(ctx, m.MailboxID, []uint32{m.UID}, store.FlagUpdate{
			Op: store.FlagsReplace, Flags: before.Flags, Keywords: before.Keywords, UnchangedSince: m.ModSeq})
	}
	if errors.Is(err, store.ErrNotFound) {
		return false, invalidProps("the mailbox is gone", "mailboxIds")
	}
	return false, r.serverFail("move", id, err)
}

// destroy expunges emails: those it finds with one read, in one expunge
// per mailbox (emptying a trash of thousands is one call per mailbox, not
// per email); an email that moved meanwhile is looked for again alone.
func (r *emailRun) destroy(ctx context.Context, ids []string) error {
	ids = dedup(ids)
	found, err := r.readAll(ctx, ids)
	if err != nil {
		return err
	}
	byMailbox := map[int64][]uint32{}
	for _, m := range found {
		byMailbox[m.MailboxID] = append(byMailbox[m.MailboxID], m.UID)
	}
	removed := map[int64]map[uint32]bool{}
	for mb, uids := range byMailbox {
		slices.Sort(uids)
		done, _, err := r.h.st.Expunge(ctx, mb, uids)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		removed[mb] = map[uint32]bool{}
		for _, u := range done {
			removed[mb][u] = true
		}
	}
	for _, id := range ids {
		n, _ := parseID(resolveCreated(r.c, id), 'e')
		if m, ok := found[n]; ok && removed[m.MailboxID][m.UID] {
			r.resp.Destroyed = append(r.resp.Destroyed, resolveCreated(r.c, id))
			continue
		}
		e, err := r.destroyOne(ctx, id)
		switch {
		case err != nil:
			return err
		case e != nil:
			setFail(&r.resp.NotDestroyed, id, e)
		default:
			r.resp.Destroyed = append(r.resp.Destroyed, resolveCreated(r.c, id))
		}
	}
	return nil
}

// destroyOne expunges one email, looking for it again when it moved
// between the read and the expunge.
func (r *emailRun) destroyOne(ctx context.Context, id string) (*jmap.Error, error) {
	for attempt := 0; attempt < 5; attempt++ {
		m, ok, err := r.message(ctx, id)
		if err != nil {
			return nil, storeErr(err)
		}
		if !ok {
			break
		}
		removed, _, err := r.h.st.Expunge(ctx, m.MailboxID, []uint32{m.UID})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return r.serverFail("destroy", id, err), nil
		}
		if len(removed) > 0 {
			return nil, nil
		}
	}
	return jmap.NewError(jmap.NotFound, ""), nil
}
