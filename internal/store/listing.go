package store

import "context"

// Lister is the part of a Mailstore for large mailboxes: listings without
// the cached envelope, body structure and preview.
type Lister interface {
	// MessageUIDs returns the UIDs of the mailbox in ascending order.
	MessageUIDs(ctx context.Context, mailboxID int64) ([]uint32, error)
	// MessageFlags is Messages without Envelope, BodyStructure and
	// Preview (with ThreadID: JMAP collapses threads on light rows).
	MessageFlags(ctx context.Context, mailboxID int64, from, to uint32) ([]Message, error)
	// MessageEnvelopes reads what a client's message list fetches (FETCH
	// 1:* (FLAGS UID ENVELOPE)): UID, ModSeq, Flags, Keywords and the
	// stored Envelope, no other field.
	MessageEnvelopes(ctx context.Context, mailboxID int64, from, to uint32) ([]Message, error)
	// SelectListing returns what SELECT reports of the messages.
	SelectListing(ctx context.Context, mailboxID int64) (SelectListing, error)
	// HighestModSeq returns the mailbox's highest modseq, cheaply.
	HighestModSeq(ctx context.Context, mailboxID int64) (uint64, error)
}

// SelectListing is the UIDs of a mailbox with its first unseen message and
// the keywords in use.
type SelectListing struct {
	UIDs []uint32
	// FirstUnseen is the sequence number of the first message without
	// \Seen, or 0.
	FirstUnseen uint32
	// Keywords are the keywords in use, possibly repeated.
	Keywords []string
}
