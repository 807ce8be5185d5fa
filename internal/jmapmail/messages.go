package jmapmail

// The account's messages as Thread and Email see them.
//
// The store has no lookup of a message by its id, nor of the messages of
// a thread: a message is read by mailbox and UID (Messages) or by modseq
// (MessagesChangedSince). So every Thread and Email method first lists the
// whole account with Changes since 0 (id, thread, mailbox and modseq of
// every message, without metadata: O(messages of the account), light
// rows), then reads the rows it needs mailbox by mailbox from the oldest
// modseq wanted (fetch). A store call MessagesByID(account, ids) and
// ThreadMessages(account, threads) would make both proportional to the
// answer.

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"postern/internal/jmap"
	"postern/internal/store"
)

// registerMessages adds the Thread and Email methods to srv.
func (h *handler) registerMessages(srv *jmap.Server) {
	srv.Handle("Thread/get", Capability, h.threadGet)
	srv.Handle("Thread/changes", Capability, h.threadChanges)
	srv.Handle("Email/get", Capability, h.emailGet)
	h.registerEmailWrites(srv)
	h.registerBody(srv)
	h.registerQuery(srv)
}

// emailID is the JMAP id of a store message: "e" and its decimal id. The
// store keeps the id across a move (sqlstore Copy with move) and never
// gives it again, so it is stable as RFC 8621 §4.1.1 asks.
func emailID(id int64) string { return "e" + strconv.FormatInt(id, 10) }

// threadID is the JMAP id of a store thread: "t" and its decimal id (the
// id of the thread's first message).
func threadID(id int64) string { return "t" + strconv.FormatInt(id, 10) }

// blobID is the JMAP id of a stored body: "b" and its decimal id.
func blobID(id int64) string { return "b" + strconv.FormatInt(id, 10) }

// parseID returns the number of an id made of prefix and a positive
// decimal without leading zeros, or false.
func parseID(s string, prefix byte) (int64, bool) {
	if len(s) < 2 || s[0] != prefix || s[1] == '0' || len(s) > 20 {
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

// index is every message of an account at one modseq, from Changes since 0.
type index struct {
	modseq  uint64
	msgs    map[int64]store.ChangedMessage // by message id
	threads map[int64][]int64              // thread id -> message ids
}

func (h *handler) loadIndex(ctx context.Context, acct int64) (*index, error) {
	all, err := h.st.Changes(ctx, acct, 0)
	if err != nil {
		return nil, storeErr(err)
	}
	ix := &index{modseq: all.ModSeq, msgs: make(map[int64]store.ChangedMessage, len(all.Created)+len(all.Updated)),
		threads: map[int64][]int64{}}
	for _, list := range [][]store.ChangedMessage{all.Created, all.Updated} {
		for _, c := range list {
			ix.msgs[c.ID] = c
			ix.threads[c.ThreadID] = append(ix.threads[c.ThreadID], c.ID)
		}
	}
	return ix, nil
}

// messageIDs returns every message id, ascending.
func (ix *index) messageIDs() []int64 {
	out := make([]int64, 0, len(ix.msgs))
	for id := range ix.msgs {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// threadIDs returns every thread id, ascending.
func (ix *index) threadIDs() []int64 {
	out := make([]int64, 0, len(ix.threads))
	for id := range ix.threads {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// fetch reads the store rows of the messages ids, which ix lists; with
// full, with their envelope, body structure and preview. A message that is
// not where ix saw it any more (moved or expunged meanwhile) is left out:
// callers use read, which looks again.
func (h *handler) fetch(ctx context.Context, ix *index, ids []int64, full bool) (map[int64]store.Message, error) {
	byMailbox := map[int64]map[int64]bool{}
	minMod := map[int64]uint64{}
	for _, id := range ids {
		c, ok := ix.msgs[id]
		if !ok {
			continue
		}
		if byMailbox[c.MailboxID] == nil {
			byMailbox[c.MailboxID] = map[int64]bool{}
			minMod[c.MailboxID] = c.ModSeq
		}
		byMailbox[c.MailboxID][id] = true
		minMod[c.MailboxID] = min(minMod[c.MailboxID], c.ModSeq)
	}
	out := make(map[int64]store.Message, len(ids))
	for mb, want := range byMailbox {
		// Every wanted message has a modseq at least minMod, so the
		// messages changed since just before it hold them all.
		since := minMod[mb]
		if since > 0 {
			since--
		}
		var rows []store.Message
		var err error
		switch {
		case !full:
			rows, err = h.st.MessageFlagsChangedSince(ctx, mb, since)
		case ix.countSince(mb, minMod[mb]) <= 4*len(want)+32:
			rows, err = h.st.MessagesChangedSince(ctx, mb, since)
		default:
			// Mostly messages not wanted: list them light, then read
			// the wanted ones by runs of UIDs.
			rows, err = h.st.MessageFlagsChangedSince(ctx, mb, since)
			if err == nil {
				rows, err = h.readRuns(ctx, mb, rows, want)
			}
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		for _, m := range rows {
			if want[m.ID] {
				m.ThreadID = ix.msgs[m.ID].ThreadID // light rows lack it
				out[m.ID] = m
			}
		}
	}
	return out, nil
}

// countSince is the number of messages of mailbox mb with modseq >= from.
func (ix *index) countSince(mb int64, from uint64) int {
	n := 0
	for _, c := range ix.msgs {
		if c.MailboxID == mb && c.ModSeq >= from {
			n++
		}
	}
	return n
}

// readRuns reads the full rows of the wanted messages among light (a
// mailbox's listing in UID order), one Messages call per run of wanted
// messages next to each other.
func (h *handler) readRuns(ctx context.Context, mb int64, light []store.Message, want map[int64]bool) ([]store.Message, error) {
	var out []store.Message
	for i := 0; i < len(light); {
		if !want[light[i].ID] {
			i++
			continue
		}
		j := i
		for j+1 < len(light) && want[light[j+1].ID] {
			j++
		}
		rows, err := h.st.Messages(ctx, mb, light[i].UID, light[j].UID)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		i = j + 1
	}
	return out, nil
}

// read is fetch that looks once more, in a new listing of the account,
// for messages that moved between the listing and the read. Messages found
// in neither are gone.
func (h *handler) read(ctx context.Context, acct int64, ix *index, ids []int64, full bool) (map[int64]store.Message, error) {
	out, err := h.fetch(ctx, ix, ids, full)
	if err != nil {
		return nil, err
	}
	var missing []int64
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			if _, listed := ix.msgs[id]; listed {
				missing = append(missing, id)
			}
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	ix2, err := h.loadIndex(ctx, acct)
	if err != nil {
		return nil, err
	}
	more, err := h.fetch(ctx, ix2, missing, full)
	if err != nil {
		return nil, err
	}
	for id, m := range more {
		out[id] = m
	}
	return out, nil
}
