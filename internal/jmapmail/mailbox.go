package jmapmail

import (
	"context"
	"strconv"
	"strings"

	"postern/internal/store"
)

// mailboxID is the JMAP id of a store mailbox: "m" and its decimal id.
func mailboxID(id int64) string { return "m" + strconv.FormatInt(id, 10) }

// parseMailboxID returns the store id of a JMAP mailbox id, or false.
func parseMailboxID(s string) (int64, bool) {
	if len(s) < 2 || s[0] != 'm' || s[1] == '0' {
		return 0, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s[1:], 10, 64)
	return v, err == nil && v > 0
}

// Roles (RFC 8621 §2, the IANA registry of RFC 8457) by special-use.
var roleOfSpecialUse = map[string]string{
	store.SpecialDrafts:  "drafts",
	store.SpecialSent:    "sent",
	store.SpecialArchive: "archive",
	store.SpecialJunk:    "junk",
	store.SpecialTrash:   "trash",
}

// specialUseOfRole is roleOfSpecialUse the other way round.
var specialUseOfRole = map[string]string{
	"drafts":  store.SpecialDrafts,
	"sent":    store.SpecialSent,
	"archive": store.SpecialArchive,
	"junk":    store.SpecialJunk,
	"trash":   store.SpecialTrash,
}

// sortOrderOfRole is the derived sortOrder; mailboxes without a role take
// 10.
var sortOrderOfRole = map[string]int{"inbox": 1, "drafts": 2, "sent": 3, "archive": 4, "junk": 5, "trash": 6}

func sortOrder(role string) int {
	if o, ok := sortOrderOfRole[role]; ok {
		return o
	}
	return 10
}

// mbox is one mailbox as JMAP shows it.
type mbox struct {
	store.Mailbox
	id     string
	name   string // the JMAP name: Name after the parent's name and "/"
	parent *mbox  // nil at the top level
	role   string // "" for none
	depth  int    // 1 at the top level
}

func (m *mbox) parentID() *string {
	if m.parent == nil {
		return nil
	}
	return &m.parent.id
}

// isInbox reports whether m is the account's INBOX.
func (m *mbox) isInbox() bool { return m.Name == "INBOX" }

// view is the mailboxes of one account.
type view struct {
	list   []*mbox // in store name order
	byID   map[int64]*mbox
	byName map[string]*mbox
}

// loadView reads the account's mailboxes and builds the tree.
func (h *handler) loadView(ctx context.Context, acct int64) (*view, error) {
	mbs, err := h.st.Mailboxes(ctx, acct)
	if err != nil {
		return nil, storeErr(err)
	}
	return newView(mbs), nil
}

func newView(mbs []store.Mailbox) *view {
	v := &view{byID: make(map[int64]*mbox, len(mbs)), byName: make(map[string]*mbox, len(mbs))}
	for _, sm := range mbs {
		m := &mbox{Mailbox: sm, id: mailboxID(sm.ID), name: sm.Name}
		if sm.Name == "INBOX" {
			m.role = "inbox"
		} else {
			m.role = roleOfSpecialUse[sm.SpecialUse]
		}
		v.list = append(v.list, m)
		v.byID[sm.ID] = m
		v.byName[sm.Name] = m
	}
	for _, m := range v.list {
		// The nearest existing ancestor is the parent.
		for i := strings.LastIndexByte(m.Name, '/'); i > 0; i = strings.LastIndexByte(m.Name[:i], '/') {
			if p, ok := v.byName[m.Name[:i]]; ok {
				m.parent, m.name = p, m.Name[i+1:]
				break
			}
		}
	}
	for _, m := range v.list {
		for p := m; p != nil; p = p.parent {
			m.depth++
		}
	}
	return v
}

// children returns the mailboxes whose parent is m.
func (v *view) children(m *mbox) []*mbox {
	var out []*mbox
	for _, c := range v.list {
		if c.parent == m {
			out = append(out, c)
		}
	}
	return out
}

// fullName is the store name of a mailbox called name under parent.
func fullName(parent *mbox, name string) string {
	if parent == nil {
		return name
	}
	return parent.Name + "/" + name
}

// rights are the owner's rights (RFC 8621 §2.4): everything, except that
// INBOX can be neither renamed nor destroyed.
type rights struct {
	MayReadItems   bool `json:"mayReadItems"`
	MayAddItems    bool `json:"mayAddItems"`
	MayRemoveItems bool `json:"mayRemoveItems"`
	MaySetSeen     bool `json:"maySetSeen"`
	MaySetKeywords bool `json:"maySetKeywords"`
	MayCreateChild bool `json:"mayCreateChild"`
	MayRename      bool `json:"mayRename"`
	MayDelete      bool `json:"mayDelete"`
	MaySubmit      bool `json:"maySubmit"`
}

func rightsOf(m *mbox) rights {
	inbox := m.isInbox()
	return rights{true, true, true, true, true, true, !inbox, !inbox, true}
}

// counts are a mailbox's message and thread counts.
type counts struct {
	totalEmails, unreadEmails, totalThreads, unreadThreads int64
}

// emailCounts reads totalEmails and unreadEmails of each mailbox of v.
func (h *handler) emailCounts(ctx context.Context, mbs []*mbox) (map[int64]*counts, error) {
	out := make(map[int64]*counts, len(mbs))
	for _, m := range mbs {
		st, err := h.st.MailboxStatus(ctx, m.ID)
		if err != nil && err != store.ErrNotFound {
			return nil, err
		}
		out[m.ID] = &counts{totalEmails: st.Messages, unreadEmails: st.Unseen}
	}
	return out, nil
}

// threadCounts fills totalThreads and unreadThreads of the mailboxes in
// cs (RFC 8621 §2): a thread counts in a mailbox when one of its messages
// is there, and as unread when one of its messages lacks \Seen, counting
// only messages outside the trash, or for the trash only those in it. The store has no
// per-thread counts, so this reads the thread of every message of the
// account and the flags of every mailbox: O(messages of the account).
func (h *handler) threadCounts(ctx context.Context, acct int64, v *view, cs map[int64]*counts) error {
	all, err := h.st.Changes(ctx, acct, 0)
	if err != nil {
		return storeErr(err)
	}
	type msg struct{ thread, mailbox int64 }
	msgs := make(map[int64]msg, len(all.Created)+len(all.Updated))
	for _, list := range [][]store.ChangedMessage{all.Created, all.Updated} {
		for _, c := range list {
			msgs[c.ID] = msg{c.ThreadID, c.MailboxID}
		}
	}
	var trash int64
	for _, m := range v.list {
		if m.role == "trash" {
			trash = m.ID
		}
	}
	inMailbox := map[int64]map[int64]bool{} // mailbox -> threads
	unreadOutsideTrash := map[int64]bool{}  // threads
	unreadInTrash := map[int64]bool{}       // threads
	for _, m := range v.list {
		flags, err := h.st.MessageFlags(ctx, m.ID, 1, 0)
		if err != nil && err != store.ErrNotFound {
			return err
		}
		threads := map[int64]bool{}
		for _, f := range flags {
			mm, ok := msgs[f.ID]
			if !ok {
				// Arrived after the thread read: its own thread.
				mm = msg{thread: -f.ID, mailbox: m.ID}
			}
			threads[mm.thread] = true
			if f.Flags&store.FlagSeen == 0 {
				if m.ID == trash {
					unreadInTrash[mm.thread] = true
				} else {
					unreadOutsideTrash[mm.thread] = true
				}
			}
		}
		inMailbox[m.ID] = threads
	}
	for id, c := range cs {
		c.totalThreads = int64(len(inMailbox[id]))
		c.unreadThreads = 0
		for t := range inMailbox[id] {
			if (id != trash && unreadOutsideTrash[t]) || (id == trash && unreadInTrash[t]) {
				c.unreadThreads++
			}
		}
	}
	return nil
}
