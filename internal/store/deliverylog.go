package store

import (
	"context"
	"time"
)

// LogKind is what happened to a message at one step of its way: one row
// of the delivery log.
type LogKind string

// The delivery log's events.
const (
	// LogAccepted: the message was taken (its Detail lists the recipients).
	LogAccepted LogKind = "accepted"
	// LogDelivered: a copy went into a local mailbox (Detail names it).
	LogDelivered LogKind = "delivered"
	// LogQueued: a copy for remote recipients entered the outbound queue.
	LogQueued LogKind = "queued"
	// LogRelayed: the remote MX accepted a recipient (Detail is its reply).
	LogRelayed LogKind = "relayed"
	// LogDeferred: an attempt failed temporarily (Detail is the error).
	LogDeferred LogKind = "deferred"
	// LogBounced: a recipient failed for good (Detail is the error).
	LogBounced LogKind = "bounced"
	// LogRejected: the message or a recipient was refused (Detail is why).
	LogRejected LogKind = "rejected"
	// LogHeld, LogReleased, LogRetried and LogDropped are an
	// administrator's actions on a queue entry.
	LogHeld     LogKind = "held"
	LogReleased LogKind = "released"
	LogRetried  LogKind = "retried"
	LogDropped  LogKind = "dropped"
)

// LogEvent is one row of the delivery log.
type LogEvent struct {
	ID int64
	// Msg is the ID of the message's first row: every row of one message
	// (its queue entries' included) carries it. Set by the store.
	Msg  int64
	Time time.Time
	Kind LogKind
	// TxnID is the transaction id of the Received header and the logs;
	// MessageID the message's Message-ID (without angle brackets), on its
	// accepted row; QueueID the outbound queue entry, 0 for none.
	TxnID     string
	MessageID string
	QueueID   int64
	// Source is where the message came from (mx, submission, ...).
	Source string
	Sender string
	// Rcpt is the recipient the row is about, "" for the whole message.
	Rcpt   string
	Detail string
	// Delay is how long the message took from acceptance to this step
	// (delivered and relayed rows).
	Delay time.Duration

	// Target and Queue tie a row of Delivery.Log to the delivery's
	// outcome (1-based indexes; 0 for none): a row for Targets[Target-1]
	// is written only when that copy was stored; a row for
	// Queue[Queue-1] gets the entry's QueueID. Not stored.
	Target, Queue int
}

// LogQuery selects rows of the delivery log; empty fields select all.
// Address, MessageID and TxnID select every row of the messages that
// carry them (Address as the sender or a recipient).
type LogQuery struct {
	Address   string
	MessageID string
	TxnID     string
	QueueID   int64
	Since     time.Time
	// Before, when not 0, returns rows older than that row id (paging).
	Before int64
	// Limit bounds the rows returned (newest first); at most 1000.
	Limit int
}

// LogCount is how many events of one kind happened in one hour.
type LogCount struct {
	Hour time.Time
	Kind LogKind
	N    int64
}

// DeliveryLog keeps what happened to each message, for the administrator.
// Its rows are written in the same transaction as the change they tell
// of (Delivery.Log, the queue's updates), so they cost no commit of their
// own.
type DeliveryLog interface {
	// AppendLog writes rows that belong to no other change (rejections).
	AppendLog(ctx context.Context, events []LogEvent) error
	// SearchLog returns the rows that match, newest first.
	SearchLog(ctx context.Context, q LogQuery) ([]LogEvent, error)
	// TraceLog returns every row of the messages that txnID, or else a
	// Message-ID or a queue id, names: the transactions, their queue
	// entries, oldest first.
	TraceLog(ctx context.Context, key string) ([]LogEvent, error)
	// PruneLog deletes up to limit rows older than before and returns how
	// many it deleted.
	PruneLog(ctx context.Context, before time.Time, limit int) (int, error)
	// LogCounts counts the rows since a time by hour and kind.
	LogCounts(ctx context.Context, since time.Time) ([]LogCount, error)
	// IndexLog adds the search keys (transaction id, Message-ID,
	// addresses) of up to limit rows not indexed yet, and returns how many
	// rows it indexed. Searches find rows not indexed yet too, more
	// slowly; a background loop calls it every few seconds.
	IndexLog(ctx context.Context, limit int) (int, error)
}
