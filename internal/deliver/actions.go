package deliver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/textproto"
	"strings"

	"postern/internal/store"
)

// RejectError is returned by Deliver when every recipient's filter
// rejected the message (Sieve reject/ereject) and nothing was stored.
type RejectError struct{ Reason string }

func (e *RejectError) Error() string { return "rejected by filter: " + e.Reason }

// redirectHeader marks a copy a Sieve redirect sent on, with the account
// that sent it: an account never redirects a message it redirected before,
// and a message redirected maxRedirectHops times is not redirected again.
const (
	redirectHeader  = "X-Sieve-Redirected-From"
	maxRedirectHops = 8
	// maxHeaderRead bounds the header section read to check for loops.
	maxHeaderRead = 256 << 10
)

// filterPlan is what the filter step decided for the whole transaction.
type filterPlan struct {
	// owners[i] is the recipient of Delivery.Targets[i].
	owners []*localRcpt
	// after are the recipients' hooks to run once their copies are stored.
	after map[*localRcpt]func(context.Context) []Outgoing
	// later are the messages to send after the commit (local redirects,
	// rejection notices), whatever is stored.
	later        []func(context.Context) []Outgoing
	rejected     int
	rejectReason string
	// header is the message's header section, read once when needed.
	header textproto.MIMEHeader
}

// filterAll runs the filter for every local recipient and adds its copies
// to d: mailbox targets, redirected copies queued, edited bodies.
func (t *Transaction) filterAll(ctx context.Context, nb store.NewBlob, skip int64, d *store.Delivery, res *Result) (*filterPlan, error) {
	plan := &filterPlan{after: map[*localRcpt]func(context.Context) []Outgoing{}}
	for i := range t.local {
		lr := &t.local[i]
		fr := t.runFilter(ctx, lr, nb)
		if fr.Reject != "" {
			plan.rejected++
			plan.rejectReason = fr.Reject
			t.p.log.Info("rejected by filter", "id", t.env.ID, "account", lr.account.Address, "reason", fr.Reject)
			if t.env.Sender != "" {
				notice := t.rejectNotice(lr, fr.Reject, nb)
				plan.later = append(plan.later, func(context.Context) []Outgoing { return []Outgoing{notice} })
			}
			continue
		}
		body := 0 // the delivered body, or the recipient's edited one
		if fr.Body != nil {
			x, err := t.extraBody(fr.Body, true)
			if err != nil {
				return plan, err
			}
			d.Extra = append(d.Extra, x)
			body = len(d.Extra)
		}
		redirected, err := t.redirect(ctx, lr, fr, nb, skip, d, plan)
		if err != nil {
			return plan, err
		}
		keep := fr.Keep
		if len(keep) == 0 && (!fr.Discard || (len(fr.Redirect) > 0 && !redirected)) {
			keep = []Keep{{}} // implicit keep, or a redirect that could not go
		}
		if len(keep) == 0 && len(fr.Redirect) == 0 {
			res.Discarded++
			t.p.log.Info("discarded by filter", "id", t.env.ID, "account", lr.account.Address)
		}
		junk := ""
		if t.junk {
			keep, junk = t.junkTargets(ctx, lr.account, keep)
		}
		for _, k := range keep {
			target := store.DeliveryTarget{AccountID: lr.account.ID, Mailbox: k.Mailbox, Create: k.Create,
				Flags: k.Flags, Keywords: k.Keywords, Body: body}
			if junk != "" && k.Mailbox == junk {
				target.SpecialUse = store.SpecialJunk
			}
			d.Targets = append(d.Targets, target)
			plan.owners = append(plan.owners, lr)
		}
		if fr.After != nil {
			if len(keep) == 0 {
				plan.later = append(plan.later, fr.After)
			} else {
				plan.after[lr] = fr.After
			}
		}
	}
	return plan, nil
}

// runFilter asks the filter; a failing filter never loses mail: the
// message is kept in INBOX and the reason logged.
func (t *Transaction) runFilter(ctx context.Context, lr *localRcpt, nb store.NewBlob) FilterResult {
	fr, err := t.p.filter.Filter(ctx, FilterInput{Envelope: t.env, Account: lr.account, Recipient: lr.address, Message: nb})
	if err != nil {
		t.p.log.Warn("filter failed, message kept in INBOX", "id", t.env.ID, "account", lr.account.Address, "err", err)
		return FilterResult{}
	}
	return fr
}

// extraBody writes a body made by the server (an edited or redirected
// copy) and parses it when a mailbox will keep it.
func (t *Transaction) extraBody(raw []byte, local bool) (store.NewBlob, error) {
	if local {
		rp := "Return-Path: <" + t.env.Sender + ">\r\n"
		w, err := t.p.ms.NewBody()
		if err != nil {
			return store.NewBlob{}, err
		}
		defer w.Abort()
		src := io.MultiReader(strings.NewReader(rp), bytes.NewReader(raw))
		meta, err := t.p.parse(io.TeeReader(src, w))
		if err != nil {
			return store.NewBlob{}, err
		}
		b, err := w.Finish()
		return store.NewBlob{Body: b, Meta: meta}, err
	}
	return store.NewBlob{Body: store.BytesBody(raw)}, nil
}

// redirect carries out a recipient's redirects: remote ones become a
// queued copy of d, local ones a delivery after the commit. It reports
// whether any went; a loop leaves the message to the implicit keep.
func (t *Transaction) redirect(ctx context.Context, lr *localRcpt, fr FilterResult, nb store.NewBlob, skip int64, d *store.Delivery, plan *filterPlan) (bool, error) {
	if len(fr.Redirect) == 0 {
		return false, nil
	}
	if plan.header == nil {
		plan.header = readHeader(nb.Body)
	}
	marks := plan.header.Values(redirectHeader)
	for _, m := range marks {
		if strings.EqualFold(strings.TrimSpace(m), lr.account.Address) {
			t.p.log.Warn("redirect loop, message kept", "id", t.env.ID, "account", lr.account.Address)
			return false, nil
		}
	}
	if len(marks) >= maxRedirectHops {
		t.p.log.Warn("redirect hop limit, message kept", "id", t.env.ID, "account", lr.account.Address, "hops", len(marks))
		return false, nil
	}
	var raw bytes.Buffer
	raw.WriteString(redirectHeader + ": " + lr.account.Address + "\r\n")
	if fr.Body != nil {
		raw.Write(fr.Body)
	} else if err := copyFrom(&raw, nb.Body, skip); err != nil {
		return false, err
	}
	var remote []store.NewQueueRecipient
	for _, to := range fr.Redirect {
		a, err := ParseAddress(to)
		if err != nil {
			t.p.log.Warn("redirect to a bad address skipped", "id", t.env.ID, "account", lr.account.Address, "to", to)
			continue
		}
		local, err := t.p.IsLocalDomain(ctx, a.Domain)
		if err != nil {
			return false, err
		}
		if local {
			out := Outgoing{Source: SourceRedirect, Sender: t.env.Sender, Recipient: a.String(), Account: lr.account, Body: raw.Bytes()}
			plan.later = append(plan.later, func(context.Context) []Outgoing { return []Outgoing{out} })
			continue
		}
		remote = append(remote, store.NewQueueRecipient{Rcpt: a.String()})
	}
	if len(remote) > 0 {
		x, err := t.extraBody(t.sealed(ctx, domainOf(lr.account.Address), raw.Bytes()), false)
		if err != nil {
			return false, err
		}
		d.Extra = append(d.Extra, x)
		d.Queue = append(d.Queue, store.QueuedCopy{Body: len(d.Extra), NewQueueMessage: store.NewQueueMessage{
			Sender: t.p.srsForward(ctx, t.env.Sender, domainOf(lr.account.Address)), AccountID: lr.account.ID, Recipients: remote}})
		t.p.log.Info("redirected", "id", t.env.ID, "account", lr.account.Address, "remote", len(remote))
	}
	return true, nil
}

// copyFrom appends body to w without its first skip bytes.
func copyFrom(w io.Writer, body store.Body, skip int64) error {
	rc, err := body.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, skip); err != nil {
		return err
	}
	_, err = io.Copy(w, rc)
	return err
}

// readHeader reads the header section of body, bounded; a body that
// cannot be read has no header as far as loop checks go.
func readHeader(body store.Body) textproto.MIMEHeader {
	rc, err := body.Open()
	if err != nil {
		return textproto.MIMEHeader{}
	}
	defer rc.Close()
	h, _ := textproto.NewReader(bufio.NewReader(io.LimitReader(rc, maxHeaderRead))).ReadMIMEHeader()
	if h == nil {
		h = textproto.MIMEHeader{}
	}
	return h
}

// sendLater sends what the filters asked for after the commit. These are
// replies and notices: a failure is logged, the delivery stands.
func (t *Transaction) sendLater(ctx context.Context, later []func(context.Context) []Outgoing) {
	for _, fn := range later {
		for _, o := range fn(ctx) {
			if err := t.p.Send(ctx, o); err != nil {
				t.p.log.Warn("not sent", "id", t.env.ID, "source", o.Source.String(), "account", o.Account.Address, "to", o.Recipient, "err", err)
			}
		}
	}
}

// Send delivers a message the server makes on an account's behalf
// through the pipeline: a vacation reply, a rejection notice, a local
// redirect.
func (p *Pipeline) Send(ctx context.Context, o Outgoing) error {
	acct := o.Account
	tx := p.Begin(Envelope{ID: newID(), Source: o.Source, Sender: o.Sender, Account: &acct})
	if err := tx.AddRecipient(ctx, o.Recipient, RcptOptions{}); err != nil {
		return err
	}
	res, err := tx.Deliver(ctx, bytes.NewReader(o.Body))
	if err == nil {
		p.log.Info("sent", "id", tx.env.ID, "source", o.Source.String(), "account", acct.Address, "to", o.Recipient,
			"delivered", len(res.Delivered), "queued", res.Remote)
	}
	return err
}

// rejectNotice is the message that tells the sender a recipient's filter
// refused their message (RFC 5429 §2.1.1: a DSN-like notice from the null
// sender, carrying the reason and the original header).
func (t *Transaction) rejectNotice(lr *localRcpt, reason string, nb store.NewBlob) Outgoing {
	var b bytes.Buffer
	dom := domainOf(lr.account.Address)
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", dom)
	fmt.Fprintf(&b, "To: <%s>\r\n", t.env.Sender)
	fmt.Fprintf(&b, "Subject: Message rejected by %s\r\n", lr.account.Address)
	fmt.Fprintf(&b, "Date: %s\r\n", t.p.now().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	fmt.Fprintf(&b, "Message-ID: <%s.reject@%s>\r\n", newID(), dom)
	b.WriteString("Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	fmt.Fprintf(&b, "Your message to <%s> was rejected by the recipient's filter:\r\n\r\n", lr.address)
	for _, line := range strings.Split(strings.ReplaceAll(reason, "\r\n", "\n"), "\n") {
		b.WriteString("  " + line + "\r\n")
	}
	b.WriteString("\r\nThe header of your message follows.\r\n\r\n")
	if rc, err := nb.Body.Open(); err == nil {
		r := bufio.NewReader(io.LimitReader(rc, maxHeaderRead))
		for {
			line, err := r.ReadString('\n')
			if strings.TrimRight(line, "\r\n") == "" || err != nil {
				break
			}
			b.WriteString(strings.TrimRight(line, "\r\n") + "\r\n")
		}
		rc.Close()
	}
	return Outgoing{Source: SourceBounce, Recipient: t.env.Sender, Account: lr.account, Body: b.Bytes()}
}

// domainOf is the domain of an address.
func domainOf(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }
