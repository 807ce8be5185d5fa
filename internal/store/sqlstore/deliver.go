package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"postern/internal/blob"
	"postern/internal/store"
)

const allFlags = store.FlagSeen | store.FlagAnswered | store.FlagFlagged | store.FlagDeleted | store.FlagDraft

// maxIndexedText bounds what one message adds to the full-text index.
const maxIndexedText = 1 << 20

func clipText(s string) string {
	if len(s) <= maxIndexedText {
		return s
	}
	return strings.ToValidUTF8(s[:maxIndexedText], "")
}

func checkBlob(nb store.NewBlob) error {
	if !blob.ValidKey(nb.Key) || nb.Size < 0 {
		return invalid("blob %q size %d", nb.Key, nb.Size)
	}
	if nb.Inline != nil && int64(len(nb.Inline)) != nb.Size {
		return invalid("blob %s: size %d, inline body %d", nb.Key, nb.Size, len(nb.Inline))
	}
	return nil
}

// insertBlob returns the id of the blob row for nb, creating it (with no
// references yet, and its full-text entry) unless it exists.
func insertBlob(ctx context.Context, tx *wtx, e *effects, nb store.NewBlob) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM blobs WHERE blob_key = ?`, nb.Key).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	// A row must never point at a body that is not there (a wrong key, or
	// a body already collected): every later FETCH of it would fail.
	if nb.Inline == nil {
		if n, err := tx.w.s.blobs.Size(nb.Key); err != nil || n != nb.Size {
			return 0, invalid("blob %s: size %d, file %d (%v)", nb.Key, nb.Size, n, err)
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO blobs (blob_key, size, refs, created_at, data) VALUES (?, ?, 0, ?, ?)`, nb.Key, nb.Size, now(), nb.Inline)
	if err != nil {
		return 0, err
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, err
	}
	e.ftsAdd = append(e.ftsAdd, ftsRow{blobID: id, key: nb.Key, text: clipText(nb.Meta.SearchText), headers: clipText(nb.Meta.Headers)})
	return id, nil
}

// dropUnusedBlob removes the file of a blob whose delivery failed as a
// whole, unless the database references it (it may have been delivered by
// an earlier call). The store owns a blob once it is handed to Deliver.
func (s *Store) dropUnusedBlob(key string) {
	if !blob.ValidKey(key) || s.BlobReferenced(context.Background(), key) {
		return
	}
	if err := s.blobs.Remove(key); err != nil {
		s.log.Warn("blob remove failed", "blob", key, "err", err)
	}
}

// isTargetError tells errors that fail one target from those that fail the
// whole transaction.
func isTargetError(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrOverQuota) ||
		errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotPermitted)
}

// Deliver implements store.Mailstore. The blob belongs to the store once
// Deliver is called: when no target takes it (or the call fails) its file is
// removed. Pass every local target of a message in one call.
func (s *Store) Deliver(ctx context.Context, nb store.NewBlob, internalDate time.Time, targets []store.DeliveryTarget) ([]store.DeliveryResult, error) {
	if err := checkBlob(nb); err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, invalid("no delivery targets")
	}
	results := make([]store.DeliveryResult, len(targets))
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		blobID, err := insertBlob(ctx, tx, e, nb)
		if err != nil {
			return err
		}
		for i, t := range targets {
			var m store.Message
			var uv uint32
			err := savepoint(ctx, tx, func() error {
				var aerr error
				m, uv, aerr = addMessage(ctx, tx, e, blobID, nb, internalDate, t, 0)
				return aerr
			})
			if err != nil && !isTargetError(err) {
				return err
			}
			results[i] = store.DeliveryResult{MailboxID: m.MailboxID, UID: m.UID, UIDValidity: uv, Err: err}
		}
		return gcBlobs(ctx, tx, e)
	})
	if err != nil {
		s.dropUnusedBlob(nb.Key)
		return nil, err
	}
	return results, nil
}

// Append implements store.Mailstore. Like Deliver, it owns the blob.
func (s *Store) Append(ctx context.Context, mailboxID int64, nb store.NewBlob, target store.DeliveryTarget, internalDate time.Time) (store.Message, error) {
	if err := checkBlob(nb); err != nil {
		return store.Message{}, err
	}
	var m store.Message
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		blobID, err := insertBlob(ctx, tx, e, nb)
		if err != nil {
			return err
		}
		m, _, err = addMessage(ctx, tx, e, blobID, nb, internalDate, target, mailboxID)
		return err
	})
	if err != nil {
		s.dropUnusedBlob(nb.Key)
		return store.Message{}, err
	}
	return m, nil
}

// addMessage stores one copy of the blob for target, in the mailbox with
// id mailboxID, or else the one named by the target, checking quota.
func addMessage(ctx context.Context, tx *wtx, e *effects, blobID int64, nb store.NewBlob, date time.Time, t store.DeliveryTarget, mailboxID int64) (store.Message, uint32, error) {
	kw, err := normKeywords(t.Keywords)
	if err != nil {
		return store.Message{}, 0, err
	}
	var mb store.Mailbox
	if mailboxID != 0 {
		mb, err = mailboxByID(ctx, tx, mailboxID)
		if err == nil && t.AccountID != 0 && t.AccountID != mb.AccountID {
			err = invalid("mailbox %d is not of account %d", mailboxID, t.AccountID)
		}
	} else {
		name := t.Mailbox
		if name == "" {
			name = "INBOX"
		}
		mb, err = mailboxByName(ctx, tx, t.AccountID, name)
	}
	if err != nil {
		return store.Message{}, 0, err
	}
	if !t.IgnoreQuota {
		if err := checkQuota(ctx, tx, mb.AccountID, nb.Size, 1); err != nil {
			return store.Message{}, 0, err
		}
	}
	mb.HighestModSeq++
	m, err := insertMessage(ctx, tx, &mb, store.Message{
		Flags: t.Flags & allFlags, Keywords: kw, InternalDate: date.Truncate(time.Second), Size: nb.Size, BlobID: blobID,
		Envelope: nb.Meta.Envelope, BodyStructure: nb.Meta.BodyStructure, Preview: nb.Meta.Preview,
	}, mb.HighestModSeq)
	if err != nil {
		return store.Message{}, 0, err
	}
	if err := saveMailbox(ctx, tx, mb); err != nil {
		return store.Message{}, 0, err
	}
	if err := addUsage(ctx, tx, mb.AccountID, nb.Size, 1); err != nil {
		return store.Message{}, 0, err
	}
	e.change(store.Change{Kind: store.ChangeNewMessage, AccountID: mb.AccountID, MailboxID: mb.ID, UIDs: []uint32{m.UID}, ModSeq: m.ModSeq})
	return m, mb.UIDValidity, nil
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
		msgs, err := selectLight(ctx, tx, mailboxID, uids)
		if err != nil {
			return err
		}
		modseq := mb.HighestModSeq + 1
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
	})
	return res, err
}

// Expunge implements store.Mailstore. UIDs not in the mailbox are ignored;
// when nothing is removed the modseq does not move.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, uint64, error) {
	var removed []uint32
	var hms uint64
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		mb, err := mailboxByID(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		msgs, err := selectMessages(ctx, tx, mailboxID, uids)
		if err != nil {
			return err
		}
		removed, err = removeMessages(ctx, tx, e, &mb, msgs)
		hms = mb.HighestModSeq
		return err
	})
	return removed, hms, err
}

// ExpungeDeleted removes the messages among uids (all when uids is nil)
// that carry \Deleted at the moment of the expunge, so a flag another
// session cleared meanwhile is honoured (RFC 9051 §6.4.3, RFC 4315 §2.1).
// Not yet part of store.Mailstore; imapd can test for it.
func (s *Store) ExpungeDeleted(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, uint64, error) {
	var removed []uint32
	var hms uint64
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		mb, err := mailboxByID(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		var msgs []store.Message
		if uids == nil {
			msgs, err = queryMessages(ctx, tx, `SELECT `+messageCols+` FROM `+messagesFull+`
				WHERE mailbox_id = ? AND flags & ? <> 0 ORDER BY uid`, mailboxID, store.FlagDeleted)
		} else {
			msgs, err = selectMessages(ctx, tx, mailboxID, uids)
			msgs = slices.DeleteFunc(msgs, func(m store.Message) bool { return m.Flags&store.FlagDeleted == 0 })
		}
		if err != nil {
			return err
		}
		removed, err = removeMessages(ctx, tx, e, &mb, msgs)
		hms = mb.HighestModSeq
		return err
	})
	return removed, hms, err
}

// Copy implements store.Mailstore. A copy counts against the quota; a move
// does not change usage and so never fails for quota (RFC 6851 §3.3).
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
		if from.AccountID != to.AccountID {
			return invalid("copy between accounts")
		}
		msgs, err := selectMessages(ctx, tx, fromMailbox, uids)
		if err != nil || len(msgs) == 0 {
			return err
		}
		var total int64
		for _, m := range msgs {
			total += m.Size
		}
		if !move {
			if err := checkQuota(ctx, tx, to.AccountID, total, int64(len(msgs))); err != nil {
				return err
			}
		}
		to.HighestModSeq++
		for _, m := range msgs {
			nm, err := insertMessage(ctx, tx, &to, m, to.HighestModSeq)
			if err != nil {
				return err
			}
			src, dst = append(src, m.UID), append(dst, nm.UID)
		}
		if err := saveMailbox(ctx, tx, to); err != nil {
			return err
		}
		if err := addUsage(ctx, tx, to.AccountID, total, int64(len(msgs))); err != nil {
			return err
		}
		e.change(store.Change{Kind: store.ChangeNewMessage, AccountID: to.AccountID, MailboxID: to.ID, UIDs: slices.Clone(dst), ModSeq: to.HighestModSeq})
		if !move {
			return nil
		}
		if from.ID == to.ID {
			from = to
		}
		_, err = removeMessages(ctx, tx, e, &from, msgs)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}
