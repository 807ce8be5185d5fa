package deliver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"

	"postern/internal/store"
)

// Result says what Deliver did.
type Result struct {
	// Size is the size of the message as queued (without Return-Path).
	Size int64
	// Delivered are the local copies, OverQuota those among them stored
	// beyond their account's quota.
	Delivered []Delivered
	OverQuota int
	// Discarded counts local recipients whose filter dropped the message.
	Discarded int
	// QueueIDs are the outbound queue entries made for remote recipients.
	QueueIDs []int64
	// Remote is the number of remote recipients queued.
	Remote int
}

// Delivered is one local copy.
type Delivered struct {
	Account string
	Mailbox string
	UID     uint32
}

// ErrAllOverQuota: no recipient could take the message; nothing was stored.
var ErrAllOverQuota = errors.New("every recipient is over quota")

// ErrNoRecipients: Deliver without a recipient.
var ErrNoRecipients = errors.New("no recipients")

// Deliver writes the body once (with the Return-Path that final delivery
// adds, RFC 5321 §4.4, which queued copies skip), parses it once when some
// recipient is local, runs the filter for each local recipient, and commits
// every local copy and every queued copy in one store transaction. It
// returns once all of it is durable. A recipient over quota still gets the
// message when anything else of it is stored: it was accepted for all.
func (t *Transaction) Deliver(ctx context.Context, body io.Reader) (Result, error) {
	if len(t.local) == 0 && len(t.remote) == 0 {
		return Result{}, ErrNoRecipients
	}
	remote := t.remote
	if t.env.Source == SourceBounce {
		// A bounce is not forwarded on: that is how bounce loops start.
		remote = remote[:0:0]
		for _, r := range t.remote {
			if !r.viaAlias {
				remote = append(remote, r)
			}
		}
	}
	if checks := t.p.checks.Load(); t.env.Source == SourceMX && checks != nil {
		checked, release, err := t.check(ctx, checks, body)
		if err != nil {
			return Result{}, err
		}
		defer release()
		body = checked
	}
	var head *headCapture
	if len(t.local) == 0 {
		// Nothing parses a message only relayed: its Message-ID for the
		// log comes from the start of the body.
		head = &headCapture{}
		body = io.TeeReader(body, head)
	}
	nb, skip, err := t.writeBody(body)
	if err != nil {
		return Result{}, err
	}
	d := store.Delivery{Blob: nb, InternalDate: t.p.now(), QuotaFallback: true}
	res := Result{Size: nb.Size() - skip}
	plan, err := t.filterAll(ctx, nb, skip, &d, &res)
	if err != nil {
		discardDelivery(d)
		return res, err
	}
	forwards, vias := t.queuedCopies(ctx, remote, skip)
	d.Queue = append(forwards, d.Queue...)
	if err := t.sealForwards(ctx, nb, skip, &d, vias); err != nil {
		discardDelivery(d)
		return res, err
	}
	if len(d.Targets) == 0 && len(d.Queue) == 0 {
		discardDelivery(d)
		live := t.env.Source == SourceMX || t.env.Source == SourceSubmission
		if live && plan.rejected > 0 && plan.rejected == len(t.local) {
			// Every recipient's filter refused it while the client waits:
			// it hears the refusal, and nobody gets a bounce (RFC 5429 §2.1).
			rerr := &RejectError{Reason: plan.rejectReason}
			t.recordRefusal("", rerr)
			return res, rerr
		}
		t.sendLater(ctx, plan.later)
		return res, nil // every local recipient's filter discarded it
	}
	messageID := nb.Meta.Thread.MessageID
	if head != nil {
		messageID = messageIDOf(head.buf.Bytes())
	}
	d.Log = t.logRows(messageID, &d, plan.owners)
	out, err := t.p.ms.Deliver(ctx, d)
	if err != nil {
		return res, err
	}
	if err := t.record(out, d, plan.owners, &res); err != nil {
		if errors.Is(err, ErrAllOverQuota) {
			t.recordRefusal("", err)
		}
		return res, err
	}
	for i, r := range out.Targets {
		if after := plan.after[plan.owners[i]]; r.Err == nil && after != nil {
			plan.later = append(plan.later, after)
			delete(plan.after, plan.owners[i]) // once per recipient, however many copies
		}
	}
	t.sendLater(ctx, plan.later)
	return res, nil
}

// discardDelivery releases the bodies of a delivery that is not stored.
func discardDelivery(d store.Delivery) {
	d.Blob.Body.Discard()
	for _, x := range d.Extra {
		x.Body.Discard()
	}
}

// writeBody writes the message into a new body, behind the Return-Path
// line when a local recipient will keep it, and parses it on the way.
func (t *Transaction) writeBody(body io.Reader) (store.NewBlob, int64, error) {
	w, err := t.p.ms.NewBody()
	if err != nil {
		return store.NewBlob{}, 0, err
	}
	defer w.Abort()
	var meta store.MessageMeta
	var skip int64
	if len(t.local) > 0 {
		rp := "Return-Path: <" + t.env.Sender + ">\r\n"
		skip = int64(len(rp))
		src := io.MultiReader(strings.NewReader(rp), body)
		var perr error
		meta, perr = t.p.parse(io.TeeReader(src, w))
		// Whatever the parser left unread, and the parser's own error
		// unless reading failed (the reader's error is what matters).
		if _, err := io.Copy(w, src); err != nil {
			return store.NewBlob{}, 0, err
		}
		if perr != nil {
			return store.NewBlob{}, 0, perr
		}
	} else if _, err := io.Copy(w, body); err != nil {
		return store.NewBlob{}, 0, err
	}
	b, err := w.Finish()
	if err != nil {
		return store.NewBlob{}, 0, err
	}
	return store.NewBlob{Body: b, Meta: meta}, skip, nil
}

// queuedCopies makes one queue entry per distinct NOTIFY and sender (a
// queue entry carries one of each): forwards through an alias go out from
// an SRS address of the alias's domain. vias[i] is the alias's domain of
// out[i], "" for mail not forwarded.
func (t *Transaction) queuedCopies(ctx context.Context, remote []remoteRcpt, skip int64) (out []store.QueuedCopy, vias []string) {
	index := map[string]int{}
	for _, r := range remote {
		sender := t.env.Sender
		if r.via != "" {
			sender = t.p.srsForward(ctx, sender, r.via)
		}
		key := r.notify + "\x00" + sender + "\x00" + r.via
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			q := store.QueuedCopy{Skip: skip, NewQueueMessage: store.NewQueueMessage{
				Sender: sender, EnvID: t.env.EnvID, Ret: t.env.Ret, IsDSN: t.env.Source == SourceBounce,
				RequireTLS: t.env.RequireTLS}}
			if t.env.Account != nil {
				q.AccountID = t.env.Account.ID // forwards from port 25 belong to no account
			}
			out = append(out, q)
			vias = append(vias, r.via)
		}
		out[i].Recipients = append(out[i].Recipients, store.NewQueueRecipient{Rcpt: r.addr, ORcpt: r.orcpt, Notify: r.notify})
	}
	return out, vias
}

// record turns the store's outcome into the result, logs one line per
// local copy and per queue entry, and wakes the queue.
func (t *Transaction) record(out store.DeliveryOutcome, d store.Delivery, owners []*localRcpt, res *Result) error {
	var firstErr error
	for i, r := range out.Targets {
		acct := owners[i].account.Address
		if r.Err != nil {
			if firstErr == nil {
				firstErr = r.Err
			}
			t.p.log.Info("not delivered", "id", t.env.ID, "account", acct, "mailbox", mailboxName(d.Targets[i]), "err", r.Err)
			continue
		}
		if r.OverQuota {
			res.OverQuota++
		}
		res.Delivered = append(res.Delivered, Delivered{Account: acct, Mailbox: mailboxName(d.Targets[i]), UID: r.UID})
		t.p.log.Info("delivered", "id", t.env.ID, "account", acct, "mailbox", mailboxName(d.Targets[i]),
			"uid", r.UID, "over_quota", r.OverQuota)
	}
	for i, id := range out.QueueIDs {
		res.QueueIDs = append(res.QueueIDs, id)
		res.Remote += len(d.Queue[i].Recipients)
		t.p.log.Info("queued", "id", t.env.ID, "queue_id", id, "from", t.env.Sender, "rcpts", len(d.Queue[i].Recipients))
	}
	if len(out.QueueIDs) > 0 && t.p.queue != nil {
		t.p.queue.Wake()
	}
	if len(res.Delivered) > 0 || len(res.QueueIDs) > 0 {
		return nil
	}
	// Nothing was stored: the store refused every copy.
	if errors.Is(firstErr, store.ErrOverQuota) {
		return ErrAllOverQuota
	}
	return fmt.Errorf("no copy stored: %w", firstErr)
}

func mailboxName(t store.DeliveryTarget) string {
	if t.Mailbox == "" {
		return "INBOX"
	}
	return t.Mailbox
}

// Bounce delivers a delivery status notification, a message from the null
// sender, to rcpt: the sender of a message the queue could not deliver. A
// local sender gets it in a mailbox; a remote one through the queue (marked
// as a DSN, so that it is never bounced in turn). An alias that only
// forwards does not forward a bounce; a local address nobody receives
// drops it. where tells what happened, for the log.
func (p *Pipeline) Bounce(ctx context.Context, rcpt string, body []byte) (string, error) {
	tx := p.Begin(Envelope{ID: newID(), Source: SourceBounce})
	if err := tx.AddRecipient(ctx, rcpt, RcptOptions{}); err != nil {
		if errors.Is(err, ErrUnknownUser) || errors.Is(err, ErrAliasLoop) || errors.Is(err, ErrBadAddress) {
			return "dropped: " + err.Error(), nil
		}
		return "", err
	}
	res, err := tx.Deliver(ctx, bytes.NewReader(body))
	switch {
	case err != nil:
		return "", err
	case len(res.QueueIDs) > 0:
		return fmt.Sprintf("queue %d", res.QueueIDs[0]), nil
	case len(res.Delivered) > 0:
		return "mailbox of " + res.Delivered[0].Account, nil
	}
	return "dropped: no local mailbox", nil
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns a transaction id for messages the server makes itself: 60
// random bits, like the SMTP sessions' ids.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])[:12]
}
