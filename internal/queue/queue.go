// Package queue is Postern's outbound mail: the durable queue of messages for
// remote recipients, the SMTP client that carries them to the next MTA (MX
// lookup or a smarthost), retries with backoff, and delivery status
// notifications (RFC 3464) back to the sender.
//
// Contract for callers (submission, alias forwarding):
//
//	type Enqueuer interface {
//		Enqueue(ctx context.Context, msg Message) (id string, err error)
//	}
//
// Enqueue returns only once the body is durable and the queue rows are
// committed (the durability rule of DESIGN.md); from then on the message is
// never lost: it is delivered, or it bounces to its sender with a DSN.
// Message.Body holds the complete message exactly as it will be sent
// (already DKIM-signed, with its Received header). Recipients must be remote:
// local recipients go through internal/deliver.
package queue

import (
	"context"
	"io"
)

// Message is one message handed to the queue.
type Message struct {
	// From is the envelope sender; "" is the null sender (no bounce is ever
	// sent for it).
	From string
	// To are the remote envelope recipients, at least one.
	To []string
	// Body is the message as it will be sent; read once by Enqueue.
	Body io.Reader
	// AccountID is the submitting account, 0 when none (forwarded mail).
	AccountID int64
	// EnvID, Ret and Notify carry the DSN parameters of RFC 3461 when the
	// client gave them ("" otherwise); Notify applies to every recipient.
	EnvID  string
	Ret    string
	Notify string
}

// Enqueuer is what submission and local delivery use to send mail out.
type Enqueuer interface {
	Enqueue(ctx context.Context, msg Message) (id string, err error)
}
