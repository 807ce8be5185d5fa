package deliver

import (
	"context"

	"postern/internal/store"
)

// Filter is the filter step of the pipeline: for one local recipient of a
// message it decides where the message goes. Sieve (RFC 5228) plugs in
// here; until then KeepFilter keeps everything in INBOX. A filter that
// fails never loses mail: the pipeline keeps the message in INBOX.
type Filter interface {
	Filter(ctx context.Context, in FilterInput) (FilterResult, error)
}

// FilterInput is what a filter decides on.
type FilterInput struct {
	Envelope Envelope
	Account  store.Account
	// Recipient is the address the message was sent to (an alias, a
	// +tag, a catch-all address...), as the sender gave it.
	Recipient string
	// Message is the body with what parsing it produced; the filter may
	// read the body (Message.Body.Open) but must not discard it.
	Message store.NewBlob
}

// FilterResult is a filter's decision. The zero value keeps the message
// in INBOX (the implicit keep of RFC 5228 §2.10.2).
type FilterResult struct {
	// Keep lists the mailboxes that get a copy, with their flags.
	Keep []Keep
	// Discard drops the message for this recipient when Keep is empty.
	Discard bool
}

// Keep is one copy a filter keeps.
type Keep struct {
	// Mailbox is the mailbox name; "" is INBOX.
	Mailbox  string
	Flags    store.Flags
	Keywords []string
}

// KeepFilter keeps every message in INBOX.
type KeepFilter struct{}

// Filter implements Filter.
func (KeepFilter) Filter(context.Context, FilterInput) (FilterResult, error) {
	return FilterResult{}, nil
}
