package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"postern/internal/blob"
	"postern/internal/store"
)

const allFlags = store.FlagSeen | store.FlagAnswered | store.FlagFlagged | store.FlagDeleted | store.FlagDraft

// errNothingStored rolls back a delivery whose every target failed: its
// body row would be referenced by nothing.
var errNothingStored = errors.New("nothing stored")

func checkDelivery(d store.Delivery) error {
	if d.Blob.Body == nil {
		return invalid("delivery without a body")
	}
	if len(d.Targets) == 0 && len(d.Queue) == 0 {
		return invalid("delivery without targets or queued copies")
	}
	for _, x := range d.Extra {
		if x.Body == nil {
			return invalid("delivery with an extra body missing")
		}
	}
	for _, t := range d.Targets {
		if t.Body < 0 || t.Body > len(d.Extra) {
			return invalid("target takes body %d of %d", t.Body, len(d.Extra)+1)
		}
	}
	for _, q := range d.Queue {
		if len(q.Recipients) == 0 {
			return invalid("queued copy without recipients")
		}
		if q.Body < 0 || q.Body > len(d.Extra) {
			return invalid("queued copy takes body %d of %d", q.Body, len(d.Extra)+1)
		}
		if size := deliveryBody(d, q.Body).Size(); q.Skip < 0 || q.Skip > size {
			return invalid("queued copy skips %d of %d bytes", q.Skip, size)
		}
	}
	return nil
}

// deliveryBody is body i of d: 0 is d.Blob, i is d.Extra[i-1].
func deliveryBody(d store.Delivery, i int) store.NewBlob {
	if i == 0 {
		return d.Blob
	}
	return d.Extra[i-1]
}

// discardBodies drops the bodies of a delivery that will not be stored.
func discardBodies(d store.Delivery) {
	for i := 0; i <= len(d.Extra); i++ {
		if b := deliveryBody(d, i).Body; b != nil {
			b.Discard()
		}
	}
}

// Deliver implements store.Mailstore: the body is written once, then one
// operation of the group commit inserts its row, every local copy (each in
// a savepoint of its own, so that one failing target fails alone) and every
// queue entry.
func (s *Store) Deliver(ctx context.Context, d store.Delivery) (store.DeliveryOutcome, error) {
	if err := checkDelivery(d); err != nil {
		discardBodies(d)
		return store.DeliveryOutcome{}, err
	}
	n := len(d.Extra) + 1
	// Cut the words of bodies that land in mailboxes here, in the caller's
	// goroutine: the writer's is shared.
	terms := make([]*textTerms, n)
	for _, t := range d.Targets {
		if terms[t.Body] == nil {
			tt := termsOf(deliveryBody(d, t.Body).Meta)
			terms[t.Body] = &tt
		}
	}
	locs := make([]blob.Loc, 0, n)
	dropAll := func() {
		for _, loc := range locs {
			s.dropLoc(loc)
		}
	}
	for i := 0; i < n; i++ {
		loc, err := s.putBody(deliveryBody(d, i).Body)
		if err != nil {
			dropAll()
			for j := i + 1; j < n; j++ {
				deliveryBody(d, j).Body.Discard()
			}
			return store.DeliveryOutcome{}, err
		}
		locs = append(locs, loc)
	}
	var out store.DeliveryOutcome
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		out = store.DeliveryOutcome{Targets: make([]store.DeliveryResult, len(d.Targets))}
		blobIDs := make([]int64, n)
		for i, loc := range locs {
			id, err := insertBlob(ctx, tx, e, loc, terms[i])
			if err != nil {
				return err
			}
			blobIDs[i] = id
		}
		stored, err := deliverTargets(ctx, tx, e, blobIDs, d, out.Targets)
		if err != nil {
			return err
		}
		for _, q := range d.Queue {
			id, err := insertQueued(ctx, tx, blobIDs[q.Body], q, d.InternalDate)
			if err != nil {
				return err
			}
			out.QueueIDs = append(out.QueueIDs, id)
			stored++
		}
		if stored == 0 {
			return errNothingStored
		}
		return insertDeliveryLog(ctx, tx, e, d, out)
	})
	if errors.Is(err, errNothingStored) {
		dropAll()
		out.QueueIDs = nil
		return out, nil
	}
	if err != nil {
		dropAll()
		return store.DeliveryOutcome{}, err
	}
	return out, nil
}

// deliverTargets stores the local copies of a delivery into res and
// returns how many were stored. With QuotaFallback, targets over quota are
// stored after the others when anything else of the delivery is.
func deliverTargets(ctx context.Context, tx *wtx, e *effects, blobIDs []int64, d store.Delivery, res []store.DeliveryResult) (int, error) {
	stored := 0
	var over []int
	for i, t := range d.Targets {
		r, err := deliverOne(ctx, tx, e, blobIDs[t.Body], d, t)
		if err != nil && !errors.Is(err, store.ErrOverQuota) {
			return 0, err
		}
		res[i] = r
		switch {
		case err == nil:
			stored++
		case errors.Is(err, store.ErrOverQuota) && d.QuotaFallback:
			over = append(over, i)
		}
	}
	if len(over) == 0 || stored+len(d.Queue) == 0 {
		return stored, nil
	}
	for _, i := range over {
		t := d.Targets[i]
		t.IgnoreQuota = true
		r, err := deliverOne(ctx, tx, e, blobIDs[t.Body], d, t)
		if err != nil {
			return 0, err
		}
		r.OverQuota = true
		res[i] = r
		if err == nil {
			stored++
		}
	}
	return stored, nil
}

// deliverOne stores one copy. A target over quota fails before addMessage
// writes anything (the quota check is its first write), so no savepoint is
// needed to undo it; any other error fails the whole delivery.
func deliverOne(ctx context.Context, tx *wtx, e *effects, blobID int64, d store.Delivery, t store.DeliveryTarget) (store.DeliveryResult, error) {
	m, uv, err := addMessage(ctx, tx, e, blobID, deliveryBody(d, t.Body), d.InternalDate, t, 0)
	return store.DeliveryResult{MailboxID: m.MailboxID, UID: m.UID, UIDValidity: uv, Err: err}, err
}

// Append implements store.Mailstore.
func (s *Store) Append(ctx context.Context, mailboxID int64, nb store.NewBlob, target store.DeliveryTarget, internalDate time.Time) (store.Message, error) {
	if nb.Body == nil {
		return store.Message{}, invalid("append without a body")
	}
	terms := termsOf(nb.Meta)
	loc, err := s.putBody(nb.Body)
	if err != nil {
		return store.Message{}, err
	}
	var m store.Message
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		blobID, err := insertBlob(ctx, tx, e, loc, &terms)
		if err != nil {
			return err
		}
		m, _, err = addMessage(ctx, tx, e, blobID, nb, internalDate, target, mailboxID)
		return err
	})
	if err != nil {
		s.dropLoc(loc)
		return store.Message{}, err
	}
	return m, nil
}

// AppendMany implements store.MultiAppender: one operation of the group
// commit, so its savepoint undoes every message when one fails.
func (s *Store) AppendMany(ctx context.Context, mailboxID int64, items []store.AppendItem) ([]store.Message, error) {
	if len(items) == 0 {
		return nil, invalid("nothing to append")
	}
	locs := make([]blob.Loc, 0, len(items))
	terms := make([]textTerms, len(items))
	drop := func() {
		for _, l := range locs {
			s.dropLoc(l)
		}
	}
	for i, it := range items {
		if it.Blob.Body == nil {
			err := invalid("append without a body")
			for _, rest := range items[i:] {
				if rest.Blob.Body != nil {
					rest.Blob.Body.Discard()
				}
			}
			drop()
			return nil, err
		}
		terms[i] = termsOf(it.Blob.Meta)
		loc, err := s.putBody(it.Blob.Body)
		if err != nil {
			for _, rest := range items[i+1:] {
				rest.Blob.Body.Discard()
			}
			drop()
			return nil, err
		}
		locs = append(locs, loc)
	}
	out := make([]store.Message, len(items))
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		for i, it := range items {
			blobID, err := insertBlob(ctx, tx, e, locs[i], &terms[i])
			if err != nil {
				return err
			}
			if out[i], _, err = addMessage(ctx, tx, e, blobID, it.Blob, it.InternalDate, it.Target, mailboxID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		drop()
		return nil, err
	}
	return out, nil
}

// addMessage stores one copy of the blob for target, in the mailbox with
// id mailboxID, or else the one named by the target, checking quota; it
// takes the account's next modseq and assigns the message's thread.
func addMessage(ctx context.Context, tx *wtx, e *effects, blobID int64, nb store.NewBlob, date time.Time, t store.DeliveryTarget, mailboxID int64) (store.Message, uint32, error) {
	kw, err := normKeywords(t.Keywords)
	if err != nil {
		return store.Message{}, 0, err
	}
	mb, err := targetMailbox(ctx, tx, e, t, mailboxID)
	if err != nil {
		return store.Message{}, 0, err
	}
	size := nb.Size()
	modseq, err := changeAccountWithin(ctx, tx, mb.AccountID, size, 1, !t.IgnoreQuota)
	if err != nil {
		return store.Message{}, 0, err
	}
	id, err := nextMessageID(ctx, tx)
	if err != nil {
		return store.Message{}, 0, err
	}
	thread, err := assignThread(ctx, tx, mb.AccountID, id, nb.Meta.Thread)
	if err != nil {
		return store.Message{}, 0, err
	}
	prev := mb.HighestModSeq
	mb.HighestModSeq = modseq
	m, err := insertMessage(ctx, tx, &mb, store.Message{
		ID: id, ThreadID: thread, Flags: t.Flags & allFlags, Keywords: kw, InternalDate: date.Truncate(time.Second),
		Size: size, BlobID: blobID,
		Envelope: nb.Meta.Envelope, BodyStructure: nb.Meta.BodyStructure, Preview: nb.Meta.Preview,
	}, modseq, refsOf(nb.Meta))
	if err != nil {
		return store.Message{}, 0, err
	}
	if err := saveMailbox(ctx, tx, mb); err != nil {
		return store.Message{}, 0, err
	}
	e.change(store.Change{Kind: store.ChangeNewMessage, AccountID: mb.AccountID, MailboxID: mb.ID, UIDs: []uint32{m.UID}, ModSeq: m.ModSeq, PrevModSeq: prev})
	return m, mb.UIDValidity, nil
}

// targetMailbox is the mailbox with id mailboxID (which must be of the
// target's account when it names one), or else the target's by name,
// created when the target asks, INBOX when it does not exist.
func targetMailbox(ctx context.Context, tx *wtx, e *effects, t store.DeliveryTarget, mailboxID int64) (store.Mailbox, error) {
	if mailboxID != 0 {
		mb, err := mailboxByID(ctx, tx, mailboxID)
		if err == nil && t.AccountID != 0 && t.AccountID != mb.AccountID {
			err = invalid("mailbox %d is not of account %d", mailboxID, t.AccountID)
		}
		return mb, err
	}
	name := t.Mailbox
	if name == "" {
		name = "INBOX"
	}
	mb, err := mailboxByName(ctx, tx, t.AccountID, name)
	if !errors.Is(err, store.ErrNotFound) || strings.EqualFold(name, "INBOX") {
		return mb, err
	}
	if n, nerr := normMailbox(name); nerr == nil && t.Create {
		mb, err = insertMailbox(ctx, tx, t.AccountID, n, t.SpecialUse, true)
		if err == nil {
			e.change(store.Change{Kind: store.ChangeMailboxes, AccountID: t.AccountID, MailboxID: mb.ID})
		}
		return mb, err
	}
	return mailboxByName(ctx, tx, t.AccountID, "INBOX")
}

// applyFlags computes the flags and keywords after upd.
func applyFlags(f store.Flags, kw []string, upd store.FlagUpdate, updKw []string) (store.Flags, []string, error) {
	switch upd.Op {
	case store.FlagsAdd:
		nk, err := normKeywords(append(slices.Clone(kw), updKw...))
		return f | upd.Flags&allFlags, nk, err
	case store.FlagsRemove:
		nk := slices.DeleteFunc(slices.Clone(kw), func(k string) bool {
			return slices.ContainsFunc(updKw, func(u string) bool { return strings.EqualFold(u, k) })
		})
		if len(nk) == 0 {
			nk = nil
		}
		return f &^ upd.Flags, nk, nil
	case store.FlagsReplace:
		return upd.Flags & allFlags, updKw, nil
	}
	return 0, nil, invalid("flag operation %d", upd.Op)
}

// UpdateFlags implements store.Mailstore. Changed lists only the messages
// whose flags did change; they all get the same new modseq.
func (s *Store) UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, upd store.FlagUpdate) (store.FlagResult, error) {
	updKw, err := normKeywords(upd.Keywords)
	if err != nil {
		return store.FlagResult{}, err
	}
	if _, _, err := applyFlags(0, nil, upd, nil); err != nil {
		return store.FlagResult{}, err
	}
	var res store.FlagResult
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		res = store.FlagResult{}
		mb, err := mailboxByID(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		if systemFlagsOnly(upd) {
			if res, err = updateFlagsSet(ctx, tx, mb, uids, upd); err != nil || len(res.Changed) == 0 {
				return err
			}
			return flagsChanged(ctx, tx, e, mb, res)
		}
		msgs, err := selectLight(ctx, tx, mailboxID, uids)
		if err != nil {
			return err
		}
		var modseq uint64
		for _, m := range msgs {
			// RFC 7162 §3.1.3: UNCHANGEDSINCE fails messages changed later.
			if upd.UnchangedSince != 0 && m.ModSeq > upd.UnchangedSince {
				res.Failed = append(res.Failed, m.UID)
				continue
			}
			nf, nk, err := applyFlags(m.Flags, m.Keywords, upd, updKw)
			if err != nil {
				return err
			}
			if nf == m.Flags && slices.Equal(nk, m.Keywords) {
				continue
			}
			if modseq == 0 {
				if modseq, err = changeAccount(ctx, tx, mb.AccountID, 0, 0); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE id = ?`,
				nf, joinKeywords(nk), int64(modseq), m.ID); err != nil {
				return err
			}
			m.Flags, m.Keywords, m.ModSeq = nf, nk, modseq
			res.Changed = append(res.Changed, m)
		}
		if len(res.Changed) == 0 {
			return nil
		}
		return flagsChanged(ctx, tx, e, mb, res)
	})
	return res, err
}

// flagsChanged records the new modseq of mb and the change event.
func flagsChanged(ctx context.Context, tx *wtx, e *effects, mb store.Mailbox, res store.FlagResult) error {
	modseq := res.Changed[0].ModSeq
	mb.HighestModSeq = modseq
	if err := saveMailbox(ctx, tx, mb); err != nil {
		return err
	}
	changed := make([]uint32, len(res.Changed))
	for i, m := range res.Changed {
		changed[i] = m.UID
	}
	e.change(store.Change{Kind: store.ChangeFlags, AccountID: mb.AccountID, MailboxID: mb.ID, UIDs: changed, ModSeq: modseq})
	return nil
}

// Expunge implements store.Mailstore. UIDs not in the mailbox are ignored;
// when nothing is removed the modseq does not move.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, uint64, error) {
	return s.expunge(ctx, mailboxID, uids, false)
}

// ExpungeDeleted implements store.Mailstore.
func (s *Store) ExpungeDeleted(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, uint64, error) {
	return s.expunge(ctx, mailboxID, uids, true)
}

func (s *Store) expunge(ctx context.Context, mailboxID int64, uids []uint32, deletedOnly bool) ([]uint32, uint64, error) {
	var removed []uint32
	var hms uint64
	err := s.writeFreeing(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		mb, err := mailboxByID(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		var msgs []store.Message
		switch {
		case uids == nil && deletedOnly:
			msgs, err = queryLight(ctx, tx, mailboxID, `SELECT `+lightCols+` FROM messages
				WHERE mailbox_id = ? AND flags & ? <> 0 ORDER BY uid`, mailboxID, store.FlagDeleted)
		default:
			msgs, err = selectLight(ctx, tx, mailboxID, uids)
		}
		if err != nil {
			return err
		}
		if deletedOnly {
			msgs = slices.DeleteFunc(msgs, func(m store.Message) bool { return m.Flags&store.FlagDeleted == 0 })
		}
		removed, err = removeMessages(ctx, tx, e, &mb, msgs, true)
		hms = mb.HighestModSeq
		return err
	})
	return removed, hms, err
}

// Copy implements store.Mailstore. A copy is a new message (its own id)
// and counts against the quota; a move keeps the message, its id and its
// thread, changes only its mailbox and UID, and never fails for quota (RFC
// 6851 §3.3). Between accounts a move is a copy and an expunge.
func (s *Store) Copy(ctx context.Context, fromMailbox int64, uids []uint32, toMailbox int64, move bool) (src, dst []uint32, err error) {
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		src, dst = nil, nil
		from, err := mailboxByID(ctx, tx, fromMailbox)
		if err != nil {
			return err
		}
		to, err := mailboxByID(ctx, tx, toMailbox)
		if err != nil {
			return err
		}
		msgs, err := selectMessages(ctx, tx, fromMailbox, uids)
		if err != nil || len(msgs) == 0 {
			return err
		}
		if from.AccountID != to.AccountID {
			// A shared mailbox (store.ACLStore): the copy is the other
			// account's new message, under its quota and in its own
			// threads; a move removes the original as an expunge does.
			for i := range msgs {
				msgs[i].ThreadID = 0
			}
			if src, dst, err = copyMessages(ctx, tx, e, &to, msgs); err != nil || !move {
				return err
			}
			_, err = removeMessages(ctx, tx, e, &from, msgs, true)
			return err
		}
		if move {
			fp := &from
			if from.ID == to.ID {
				fp = &to // a move within a mailbox renumbers the messages
			}
			src, dst, err = moveMessages(ctx, tx, e, fp, &to, msgs)
			return err
		}
		src, dst, err = copyMessages(ctx, tx, e, &to, msgs)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}

func copyMessages(ctx context.Context, tx *wtx, e *effects, to *store.Mailbox, msgs []store.Message) (src, dst []uint32, err error) {
	var total int64
	for _, m := range msgs {
		total += m.Size
	}
	if err := checkQuota(ctx, tx, to.AccountID, total, int64(len(msgs))); err != nil {
		return nil, nil, err
	}
	modseq, err := changeAccount(ctx, tx, to.AccountID, total, int64(len(msgs)))
	if err != nil {
		return nil, nil, err
	}
	prev := to.HighestModSeq
	to.HighestModSeq = modseq
	refs, err := messageRefs(ctx, tx, msgs)
	if err != nil {
		return nil, nil, err
	}
	for i, m := range msgs {
		if m.ID, err = nextMessageID(ctx, tx); err != nil {
			return nil, nil, err
		}
		nm, err := insertMessage(ctx, tx, to, m, modseq, refs[i])
		if err != nil {
			return nil, nil, err
		}
		src, dst = append(src, m.UID), append(dst, nm.UID)
	}
	if err := saveMailbox(ctx, tx, *to); err != nil {
		return nil, nil, err
	}
	e.change(store.Change{Kind: store.ChangeNewMessage, AccountID: to.AccountID, MailboxID: to.ID, UIDs: slices.Clone(dst), ModSeq: modseq, PrevModSeq: prev})
	return src, dst, nil
}

// moveMessages gives the messages new UIDs in "to" in place (RFC 6851),
// recording their expunge from "from" for QRESYNC. The message rows, their
// ids and cached metadata stay.
func moveMessages(ctx context.Context, tx *wtx, e *effects, from, to *store.Mailbox, msgs []store.Message) (src, dst []uint32, err error) {
	modseq, err := changeAccount(ctx, tx, to.AccountID, 0, 0)
	if err != nil {
		return nil, nil, err
	}
	prev := to.HighestModSeq
	from.HighestModSeq, to.HighestModSeq = modseq, modseq
	if uint64(to.UIDNext)+uint64(len(msgs)) >= 0xffffffff || to.UIDNext == 0 {
		return nil, nil, errNoUIDs(*to)
	}
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
		src, dst = append(src, m.UID), append(dst, to.UIDNext+uint32(i))
	}
	set := idSet(ids)
	// RFC 7162 §3.2.5.2: remember the expunge for VANISHED (EARLIER).
	if _, err := tx.ExecContext(ctx, `INSERT INTO expunged (mailbox_id, uid, modseq)
		SELECT mailbox_id, uid, ? FROM messages WHERE id IN (SELECT value FROM json_each(?))`, int64(modseq), set); err != nil {
		return nil, nil, err
	}
	// New UIDs in source UID order, from UIDNext on (RFC 6851 §4.3).
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET mailbox_id = ?, uid = n.uid, modseq = ?
		FROM (SELECT id, ? + ROW_NUMBER() OVER (ORDER BY uid) - 1 AS uid FROM messages WHERE id IN (SELECT value FROM json_each(?))) AS n
		WHERE messages.id = n.id`, to.ID, int64(modseq), to.UIDNext, set); err != nil {
		return nil, nil, err
	}
	// A move saves the message into its new mailbox (RFC 8514 §2).
	if _, err := tx.ExecContext(ctx, `UPDATE message_meta SET saved_at = ? WHERE message_id IN (SELECT value FROM json_each(?))`,
		now(), set); err != nil {
		return nil, nil, err
	}
	to.UIDNext += uint32(len(msgs))
	if err := saveMailbox(ctx, tx, *to); err != nil {
		return nil, nil, err
	}
	if err := saveMailbox(ctx, tx, *from); err != nil {
		return nil, nil, err
	}
	e.change(store.Change{Kind: store.ChangeNewMessage, AccountID: to.AccountID, MailboxID: to.ID, UIDs: slices.Clone(dst), ModSeq: modseq, PrevModSeq: prev})
	e.change(store.Change{Kind: store.ChangeExpunge, AccountID: from.AccountID, MailboxID: from.ID, UIDs: slices.Clone(src), ModSeq: modseq})
	return src, dst, nil
}
