package jmapmail

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"unicode/utf8"

	"postern/internal/jmap"
	"postern/internal/store"
)

// SetError types of RFC 8621 §2.5.
const (
	MailboxHasChild jmap.ErrorType = "mailboxHasChild"
	MailboxHasEmail jmap.ErrorType = "mailboxHasEmail"
)

type setArgs struct {
	AccountID             string                                `json:"accountId"`
	IfInState             *string                               `json:"ifInState"`
	Create                map[string]json.RawMessage            `json:"create"`
	Update                map[string]map[string]json.RawMessage `json:"update"`
	Destroy               []string                              `json:"destroy"`
	OnDestroyRemoveEmails bool                                  `json:"onDestroyRemoveEmails"`
}

type setResponse struct {
	AccountID    string                    `json:"accountId"`
	OldState     string                    `json:"oldState"`
	NewState     string                    `json:"newState"`
	Created      map[string]map[string]any `json:"created"`
	Updated      map[string]any            `json:"updated"`
	Destroyed    []string                  `json:"destroyed"`
	NotCreated   map[string]*jmap.Error    `json:"notCreated"`
	NotUpdated   map[string]*jmap.Error    `json:"notUpdated"`
	NotDestroyed map[string]*jmap.Error    `json:"notDestroyed"`
}

// setRun is one Mailbox/set in progress.
type setRun struct {
	h    *handler
	c    *jmap.Call
	acct int64
	v    *view
	resp *setResponse
}

// set is Mailbox/set (RFC 8620 §5.3, RFC 8621 §2.5): creates, then
// updates, then destroys, each on its own (a failure of one leaves the
// others done), serialised with the other Mailbox/set calls of the account.
func (h *handler) set(ctx context.Context, c *jmap.Call) (any, error) {
	var a setArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	if err := c.CheckSet(len(a.Create) + len(a.Update) + len(a.Destroy)); err != nil {
		return nil, err
	}
	defer h.lock(acct)()
	old, err := h.st.AccountModSeq(ctx, acct)
	if err != nil {
		return nil, storeErr(err)
	}
	if a.IfInState != nil && *a.IfInState != formatState(old) {
		return nil, jmap.NewError(jmap.StateMismatch, "")
	}
	r := &setRun{h: h, c: c, acct: acct, resp: &setResponse{AccountID: a.AccountID, OldState: formatState(old)}}
	if err := r.reload(ctx); err != nil {
		return nil, err
	}
	if err := r.creates(ctx, a.Create); err != nil {
		return nil, err
	}
	for _, id := range sortedKeys(a.Update) {
		if err := r.update(ctx, id, a.Update[id]); err != nil {
			return nil, err
		}
	}
	if err := r.destroys(ctx, a.Destroy, a.OnDestroyRemoveEmails); err != nil {
		return nil, err
	}
	now, err := h.st.AccountModSeq(ctx, acct)
	if err != nil {
		return nil, storeErr(err)
	}
	r.resp.NewState = formatState(now)
	return r.resp, nil
}

func (r *setRun) reload(ctx context.Context) error {
	v, err := r.h.loadView(ctx, r.acct)
	r.v = v
	return err
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func invalidProps(desc string, props ...string) *jmap.Error {
	return jmap.NewError(jmap.InvalidProperties, desc).With("properties", props)
}

// serverFail is the SetError of an unexpected store error, logged.
func (r *setRun) serverFail(op, id string, err error) *jmap.Error {
	r.h.opts.Logger.Error("jmapmail: Mailbox/set", "op", op, "id", id, "account", r.acct, "err", err)
	return jmap.NewError(jmap.ServerFail, "")
}

// Properties of a Mailbox the server sets (RFC 8621 §2).
var serverSet = map[string]bool{"id": true, "totalEmails": true, "unreadEmails": true,
	"totalThreads": true, "unreadThreads": true, "myRights": true}

// checkName checks a JMAP name a client sets (RFC 8621 §2: not empty, at
// most maxSizeMailboxName octets; here also no "/", the store's separator,
// no control characters, and neither "." nor "..", which the store
// refuses, nor the LIST wildcards * and %).
func (r *setRun) checkName(raw json.RawMessage) (string, *jmap.Error) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", invalidProps("name must be a string", "name")
	}
	switch {
	case name == "":
		return "", invalidProps("name must not be empty", "name")
	case len(name) > r.h.opts.MaxSizeMailboxName:
		return "", invalidProps("name longer than maxSizeMailboxName", "name")
	case !utf8.ValidString(name) || name == "." || name == "..":
		return "", invalidProps("name not allowed", "name")
	case strings.ContainsAny(name, "/*%"):
		return "", invalidProps(`name must not contain "/", "*" or "%"`, "name")
	}
	for _, c := range name {
		if c < ' ' || c == 0x7f {
			return "", invalidProps("name must not contain control characters", "name")
		}
	}
	return name, nil
}

// parentOf resolves a parentId value: null is the top level. pending
// reports a reference to a creation not yet made in this request.
func (r *setRun) parentOf(raw json.RawMessage, pending map[string]bool) (parent *mbox, wait bool, e *jmap.Error) {
	var id *string
	if err := json.Unmarshal(raw, &id); err != nil {
		return nil, false, invalidProps("parentId must be an id or null", "parentId")
	}
	if id == nil {
		return nil, false, nil
	}
	if len(*id) > 1 && (*id)[0] == '#' && pending[(*id)[1:]] {
		return nil, true, nil
	}
	if p := r.v.lookup(r.c, *id); p != nil {
		return p, false, nil
	}
	return nil, false, invalidProps("no such parent mailbox", "parentId")
}

// sibling returns the mailbox other than self named name under parent.
func (r *setRun) sibling(parent *mbox, name string, self *mbox) *mbox {
	for _, m := range r.v.list {
		if m == self || m.parent != parent {
			continue
		}
		if m.name == name || parent == nil && m.isInbox() && strings.EqualFold(name, "INBOX") {
			return m
		}
	}
	return nil
}

// checkSortOrder accepts an UnsignedInt, which is then ignored.
func checkSortOrder(raw json.RawMessage) *jmap.Error {
	var n uint32
	if err := json.Unmarshal(raw, &n); err != nil {
		return invalidProps("sortOrder must be an UnsignedInt", "sortOrder")
	}
	return nil
}

// creates makes the mailboxes of create, parents before the children that
// name them by "#creationId" in parentId.
func (r *setRun) creates(ctx context.Context, create map[string]json.RawMessage) error {
	pending := map[string]bool{}
	for cid := range create {
		pending[cid] = true
	}
	for len(pending) > 0 {
		progress := false
		for _, cid := range sortedKeys(pending) {
			wait, err := r.create(ctx, cid, create[cid], pending)
			if err != nil {
				return err
			}
			if !wait {
				delete(pending, cid)
				progress = true
			}
		}
		if !progress {
			for cid := range pending {
				r.notCreated(cid, invalidProps("parentId refers to a creation that cannot be made", "parentId"))
			}
			return nil
		}
	}
	return nil
}

func (r *setRun) notCreated(cid string, e *jmap.Error) {
	if r.resp.NotCreated == nil {
		r.resp.NotCreated = map[string]*jmap.Error{}
	}
	r.resp.NotCreated[cid] = e
}

// createProps are the checked properties of one create.
type createProps struct {
	name       string
	parent     *mbox
	role       string
	subscribed bool
	given      map[string]bool
}

// parseCreate checks the properties of one create.
func (r *setRun) parseCreate(raw json.RawMessage, pending map[string]bool) (p createProps, wait bool, e *jmap.Error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return p, false, invalidProps("a Mailbox must be an object")
	}
	p.given = map[string]bool{}
	var bad []string
	for k := range fields {
		p.given[k] = true
		switch {
		case serverSet[k]:
			bad = append(bad, k)
		case k == "name" || k == "parentId" || k == "role" || k == "sortOrder" || k == "isSubscribed":
		default:
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return p, false, invalidProps("unknown or server-set properties", bad...)
	}
	if fields["name"] == nil {
		return p, false, invalidProps("name is required", "name")
	}
	if p.name, e = r.checkName(fields["name"]); e != nil {
		return p, false, e
	}
	if raw, ok := fields["parentId"]; ok {
		if p.parent, wait, e = r.parentOf(raw, pending); wait || e != nil {
			return p, wait, e
		}
	}
	if raw, ok := fields["role"]; ok {
		if p.role, e = r.checkRole(raw); e != nil {
			return p, false, e
		}
	}
	if raw, ok := fields["isSubscribed"]; ok {
		if json.Unmarshal(raw, &p.subscribed) != nil {
			return p, false, invalidProps("isSubscribed must be a boolean", "isSubscribed")
		}
	}
	if raw, ok := fields["sortOrder"]; ok {
		if e := checkSortOrder(raw); e != nil {
			return p, false, e
		}
	}
	return p, false, nil
}

// checkRole checks a role for a new mailbox: one the store can keep as a
// special-use, and not one another mailbox has (RFC 8621 §2).
func (r *setRun) checkRole(raw json.RawMessage) (string, *jmap.Error) {
	var role *string
	if err := json.Unmarshal(raw, &role); err != nil {
		return "", invalidProps("role must be a string or null", "role")
	}
	if role == nil {
		return "", nil
	}
	if *role == "inbox" {
		return "", invalidProps("only INBOX has the inbox role", "role")
	}
	if _, ok := specialUseOfRole[*role]; !ok {
		return "", invalidProps("role not supported", "role")
	}
	for _, m := range r.v.list {
		if m.role == *role {
			return "", invalidProps("another mailbox has this role", "role")
		}
	}
	return *role, nil
}

// create makes one mailbox; wait tells that its parent is a creation of
// this request not made yet.
func (r *setRun) create(ctx context.Context, cid string, raw json.RawMessage, pending map[string]bool) (wait bool, err error) {
	p, wait, e := r.parseCreate(raw, pending)
	if wait {
		return true, nil
	}
	if e == nil {
		e = r.checkPlace(p.parent, p.name, nil, 1)
	}
	if e != nil {
		r.notCreated(cid, e)
		return false, nil
	}
	full := fullName(p.parent, p.name)
	sm, err := r.h.st.CreateMailbox(ctx, r.acct, full, specialUseOfRole[p.role])
	switch {
	case errors.Is(err, store.ErrExists):
		e := jmap.NewError(jmap.AlreadyExists, "a mailbox of this name exists")
		if m, err := r.h.st.Mailbox(ctx, r.acct, full); err == nil {
			e = e.With("existingId", mailboxID(m.ID))
		}
		r.notCreated(cid, e)
		return false, nil
	case errors.Is(err, store.ErrInvalid):
		r.notCreated(cid, invalidProps("name not allowed", "name"))
		return false, nil
	case err != nil:
		r.notCreated(cid, r.serverFail("create", cid, err))
		return false, nil
	}
	if p.subscribed {
		if err := r.h.st.SetSubscribed(ctx, r.acct, full, true); err != nil {
			r.h.st.DeleteMailbox(ctx, r.acct, full)
			r.notCreated(cid, r.serverFail("create", cid, err))
			return false, nil
		}
	}
	id := mailboxID(sm.ID)
	r.c.CreatedIDs[cid] = id
	if r.resp.Created == nil {
		r.resp.Created = map[string]map[string]any{}
	}
	if err := r.reload(ctx); err != nil {
		return false, err
	}
	m := r.v.byID[sm.ID]
	if m == nil { // destroyed meanwhile by another protocol
		m = &mbox{Mailbox: sm, id: id, name: p.name, parent: p.parent, role: p.role}
	}
	// The created object: the id and every property the client did not
	// give (RFC 8620 §5.3), sortOrder always (it ignores the client's).
	o := object(m, &counts{}, properties)
	for k := range o {
		if p.given[k] && k != "sortOrder" {
			delete(o, k)
		}
	}
	r.resp.Created[cid] = o
	return false, nil
}

// checkPlace checks that a mailbox (self, nil for a new one) whose subtree
// is height levels deep may be called name under parent: no sibling of
// that name, not inside itself, within maxMailboxDepth.
func (r *setRun) checkPlace(parent *mbox, name string, self *mbox, height int) *jmap.Error {
	for p := parent; p != nil; p = p.parent {
		if p == self {
			return invalidProps("a mailbox cannot move inside itself", "parentId")
		}
	}
	depth := height
	if parent != nil {
		depth += parent.depth
	}
	if depth > r.h.opts.MaxMailboxDepth {
		return invalidProps("deeper than maxMailboxDepth", "parentId")
	}
	if s := r.sibling(parent, name, self); s != nil {
		if self == nil {
			return jmap.NewError(jmap.AlreadyExists, "a mailbox of this name exists").With("existingId", s.id)
		}
		return invalidProps("a mailbox of this name exists", "name")
	}
	if len(fullName(parent, name)) > 512 {
		return invalidProps("name too long in its place", "name")
	}
	return nil
}

// height is the number of levels of m's subtree, m included.
func (v *view) height(m *mbox) int {
	h := 1
	for _, c := range v.list {
		for p := c.parent; p != nil; p = p.parent {
			if p == m {
				h = max(h, c.depth-m.depth+1)
				break
			}
		}
	}
	return h
}

func (r *setRun) notUpdated(id string, e *jmap.Error) {
	if r.resp.NotUpdated == nil {
		r.resp.NotUpdated = map[string]*jmap.Error{}
	}
	r.resp.NotUpdated[id] = e
}

// updateProps are the checked properties of one update.
type updateProps struct {
	name            string
	parent          *mbox
	subscribed      *bool
	sortOrderAsked  bool
	renamed, placed bool
}

// parseUpdate checks a PatchObject (RFC 8620 §5.3) against m.
func (r *setRun) parseUpdate(m *mbox, patch map[string]json.RawMessage) (p updateProps, e *jmap.Error) {
	p.name, p.parent = m.name, m.parent
	var bad []string
	for _, k := range sortedKeys(patch) {
		raw := patch[k]
		switch k {
		case "name":
			if p.name, e = r.checkName(raw); e != nil {
				return p, e
			}
			p.renamed = p.name != m.name
		case "parentId":
			if p.parent, _, e = r.parentOf(raw, nil); e != nil {
				return p, e
			}
			p.placed = p.parent != m.parent
		case "isSubscribed":
			var b bool
			if json.Unmarshal(raw, &b) != nil {
				return p, invalidProps("isSubscribed must be a boolean", "isSubscribed")
			}
			p.subscribed = &b
		case "sortOrder":
			if e := checkSortOrder(raw); e != nil {
				return p, e
			}
			p.sortOrderAsked = true
		case "role":
			var role *string
			if json.Unmarshal(raw, &role) != nil || (role == nil) != (m.role == "") || role != nil && *role != m.role {
				return p, invalidProps("the role of a mailbox cannot change", "role")
			}
		default:
			// Server-set properties, unknown ones, and paths into
			// myRights (the one object-valued property).
			bad = append(bad, strings.SplitN(k, "/", 2)[0])
		}
	}
	if len(bad) > 0 {
		return p, invalidProps("unknown or server-set properties", bad...)
	}
	return p, nil
}

// update applies one PatchObject.
func (r *setRun) update(ctx context.Context, id string, patch map[string]json.RawMessage) error {
	m := r.v.lookup(r.c, id)
	if m == nil {
		r.notUpdated(id, jmap.NewError(jmap.NotFound, ""))
		return nil
	}
	p, e := r.parseUpdate(m, patch)
	if e == nil && (p.renamed || p.placed) {
		if m.isInbox() {
			e = jmap.NewError(jmap.Forbidden, "INBOX cannot be renamed or moved")
		} else {
			e = r.checkPlace(p.parent, p.name, m, r.v.height(m))
		}
	}
	if e != nil {
		r.notUpdated(id, e)
		return nil
	}
	name := m.Name
	if to := fullName(p.parent, p.name); to != name {
		err := r.h.st.RenameMailbox(ctx, r.acct, name, to)
		switch {
		case errors.Is(err, store.ErrExists):
			r.notUpdated(id, invalidProps("a mailbox of this name exists", "name"))
			return nil
		case errors.Is(err, store.ErrInvalid):
			r.notUpdated(id, invalidProps("name not allowed", "name", "parentId"))
			return nil
		case errors.Is(err, store.ErrNotFound):
			r.notUpdated(id, jmap.NewError(jmap.NotFound, ""))
			return nil
		case err != nil:
			r.notUpdated(id, r.serverFail("update", id, err))
			return nil
		}
		name = to
	}
	if p.subscribed != nil && *p.subscribed != m.Subscribed {
		if err := r.h.st.SetSubscribed(ctx, r.acct, name, *p.subscribed); err != nil {
			r.notUpdated(id, r.serverFail("update", id, err))
			return r.reload(ctx)
		}
	}
	if r.resp.Updated == nil {
		r.resp.Updated = map[string]any{}
	}
	var changed any // null: nothing changed but what was asked
	if p.sortOrderAsked {
		changed = map[string]any{"sortOrder": sortOrder(m.role)}
	}
	r.resp.Updated[m.id] = changed
	return r.reload(ctx)
}

func (r *setRun) notDestroyed(id string, e *jmap.Error) {
	if r.resp.NotDestroyed == nil {
		r.resp.NotDestroyed = map[string]*jmap.Error{}
	}
	r.resp.NotDestroyed[id] = e
}

// destroys removes mailboxes, children before their parents, so a request
// may destroy a whole tree. With removeEmails false a mailbox that holds
// mail is refused; the check and the delete are two store calls, so mail
// delivered between them goes with the mailbox.
func (r *setRun) destroys(ctx context.Context, ids []string, removeEmails bool) error {
	type target struct {
		id string
		m  *mbox
	}
	var ts []target
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		ts = append(ts, target{id, r.v.lookup(r.c, id)})
	}
	sort.SliceStable(ts, func(i, j int) bool {
		di, dj := 0, 0
		if ts[i].m != nil {
			di = ts[i].m.depth
		}
		if ts[j].m != nil {
			dj = ts[j].m.depth
		}
		return di > dj
	})
	for _, t := range ts {
		var m *mbox
		if t.m != nil {
			m = r.v.byID[t.m.ID]
		}
		if e := r.destroyCheck(ctx, m, removeEmails); e != nil {
			r.notDestroyed(t.id, e)
			continue
		}
		err := r.h.st.DeleteMailbox(ctx, r.acct, m.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			r.notDestroyed(t.id, jmap.NewError(jmap.NotFound, ""))
		case errors.Is(err, store.ErrNotPermitted):
			r.notDestroyed(t.id, jmap.NewError(jmap.Forbidden, ""))
		case err != nil:
			r.notDestroyed(t.id, r.serverFail("destroy", t.id, err))
		default:
			r.resp.Destroyed = append(r.resp.Destroyed, m.id)
		}
		if err := r.reload(ctx); err != nil {
			return err
		}
	}
	return nil
}

// destroyCheck tells why m may not be destroyed, or nil.
func (r *setRun) destroyCheck(ctx context.Context, m *mbox, removeEmails bool) *jmap.Error {
	switch {
	case m == nil:
		return jmap.NewError(jmap.NotFound, "")
	case m.isInbox():
		return jmap.NewError(jmap.Forbidden, "INBOX cannot be destroyed")
	case len(r.v.children(m)) > 0:
		return jmap.NewError(MailboxHasChild, "the mailbox has child mailboxes")
	}
	if !removeEmails {
		st, err := r.h.st.MailboxStatus(ctx, m.ID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return jmap.NewError(jmap.NotFound, "")
			}
			return r.serverFail("destroy", m.id, err)
		}
		if st.Messages > 0 {
			return jmap.NewError(MailboxHasEmail, "the mailbox has emails")
		}
	}
	return nil
}
