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
// in INBOX (the implicit keep of RFC 5228 §2.10.2): with Keep empty and
// Discard false the message goes to INBOX, whatever else is set.
type FilterResult struct {
	// Keep lists the mailboxes that get a copy, with their flags.
	Keep []Keep
	// Discard drops the message for this recipient when Keep is empty; a
	// redirect that cancels the implicit keep sets it too.
	Discard bool
	// Redirect sends the message on to these addresses (Sieve redirect).
	// A remote copy is queued with the envelope sender rewritten by SRS
	// and committed with the local copies; a local one is delivered after
	// them, through its own recipient's filter.
	Redirect []string
	// Reject refuses the message for this recipient; the sender is told
	// Reject (RFC 5429). When every recipient rejects a message that is
	// still being received, the SMTP client hears it as a 550.
	Reject string
	// Body replaces the message this recipient's copies take, kept and
	// redirected (Sieve editheader): a complete message, without the
	// Return-Path line, which the pipeline adds.
	Body []byte
	// After runs once the recipient's copies are committed and returns
	// messages to send then (vacation replies); nil for none.
	After func(ctx context.Context) []Outgoing
}

// Outgoing is a message the server sends on a recipient's behalf after a
// delivery (a vacation reply).
type Outgoing struct {
	Source Source
	// Sender is the envelope sender, "" for the null sender.
	Sender    string
	Recipient string
	// Account is the account it is sent for.
	Account store.Account
	Body    []byte
}

// Keep is one copy a filter keeps.
type Keep struct {
	// Mailbox is the mailbox name; "" is INBOX. A mailbox that does not
	// exist is created with Create, else the copy goes to INBOX.
	Mailbox  string
	Create   bool
	Flags    store.Flags
	Keywords []string
}

// KeepFilter keeps every message in INBOX.
type KeepFilter struct{}

// Filter implements Filter.
func (KeepFilter) Filter(context.Context, FilterInput) (FilterResult, error) {
	return FilterResult{}, nil
}
