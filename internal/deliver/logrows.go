package deliver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"strings"

	"postern/internal/store"
)

// LogRecorder keeps the delivery log's rows that belong to no store
// change: refusals. It must not block (the SMTP client waits).
type LogRecorder interface {
	Record(store.LogEvent)
}

// logRows are the delivery log rows of a delivery, committed with it
// (store.Delivery.Log): the message accepted, each local copy, each
// recipient queued.
func (t *Transaction) logRows(messageID string, d *store.Delivery, owners []*localRcpt) []store.LogEvent {
	now := t.p.now()
	base := store.LogEvent{Time: now, TxnID: t.env.ID}
	var rcpts []string
	for _, l := range t.local {
		rcpts = append(rcpts, l.address)
	}
	for _, r := range t.remote {
		rcpts = append(rcpts, r.addr)
	}
	acc := base
	acc.Kind, acc.MessageID, acc.Source, acc.Sender = store.LogAccepted, messageID, t.env.Source.String(), t.env.Sender
	if t.env.Sender == "" {
		acc.Detail = "from <> "
	}
	acc.Detail += "to " + strings.Join(rcpts, ", ")
	if t.authSummary != "" {
		acc.Detail += "; " + t.authSummary
	}
	rows := make([]store.LogEvent, 0, 1+len(d.Targets)+len(d.Queue))
	rows = append(rows, acc)
	for i, tg := range d.Targets {
		ev := base
		ev.Kind, ev.Rcpt, ev.Target = store.LogDelivered, owners[i].address, i+1
		ev.Detail = owners[i].account.Address + " " + mailboxName(tg)
		rows = append(rows, ev)
	}
	for i, q := range d.Queue {
		for _, r := range q.Recipients {
			ev := base
			ev.Kind, ev.Rcpt, ev.Queue = store.LogQueued, r.Rcpt, i+1
			ev.Detail = "from <" + q.Sender + ">"
			rows = append(rows, ev)
		}
	}
	return rows
}

// recordRefusal logs a recipient or a message that was refused.
func (t *Transaction) recordRefusal(rcpt string, err error) {
	if t.p.rec == nil {
		return
	}
	t.p.rec.Record(store.LogEvent{Time: t.p.now(), Kind: store.LogRejected, TxnID: t.env.ID,
		Source: t.env.Source.String(), Sender: t.env.Sender, Rcpt: rcpt, Detail: err.Error()})
}

// refused tells whether an AddRecipient error is a refusal (logged) rather
// than a local failure.
func refused(err error) bool {
	return errors.Is(err, ErrRelayDenied) || errors.Is(err, ErrBadAddress) || errors.Is(err, ErrUnknownUser) ||
		errors.Is(err, ErrAliasLoop) || errors.Is(err, ErrOverQuota) || errors.Is(err, ErrRouting)
}

// maxIDScan bounds how much of a header is read for its Message-ID when
// nothing else parses the message (mail only relayed).
const maxIDScan = 64 << 10

// headCapture keeps the start of a body as it is written.
type headCapture struct{ buf bytes.Buffer }

func (h *headCapture) Write(p []byte) (int, error) {
	if room := maxIDScan - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// messageIDOf finds the Message-ID field in the start of a message.
func messageIDOf(head []byte) string {
	r := textproto.NewReader(bufio.NewReader(io.LimitReader(bytes.NewReader(head), maxIDScan)))
	h, _ := r.ReadMIMEHeader() // a header cut at the bound still gives its fields so far
	return strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
}
