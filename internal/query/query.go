// Package query finds, orders and threads the messages of a mailbox:
// typed search criteria evaluated through the store (Search), sort keys
// (Sort) and the threading algorithms of RFC 5256 (Thread). It knows no
// protocol: IMAP's SEARCH, SORT and THREAD and JMAP's Email/query filters
// and sorts are translations into these types.
//
// What is not protocol-neutral stays with the protocol: sequence numbers,
// saved results, the wire syntax. A protocol passes its view of the
// mailbox (Query.UIDs) and maps the UIDs of the answer back.
//
// Mapping JMAP's Email/query (RFC 8621 §4.4) onto these types:
//
//	inMailbox,                Query.MailboxID (one query per mailbox; the
//	inMailboxOtherThan        mailboxes a filter cannot match are not searched)
//	hasKeyword / notKeyword   Keyword, or Flag for $seen, $flagged, $answered,
//	                          $draft; Not{C: ...} for notKeyword
//	before / after            Date{Field: Received, Op: Before / Since}
//	minSize / maxSize         Not{C: Size{Op: Smaller}} / Size{Op: Smaller}
//	hasAttachment             Attachment (Not{C: Attachment{}} for false)
//	allInThreadHaveKeyword,   MessageIDs: the messages of the threads that
//	some-, noneInThread...    qualify, decided by the protocol over the account
//	from, to, cc, bcc,        Text{Field: store.TextHeaders, Header: "from", ...}
//	subject, header           (header [name] alone: Needle "")
//	body / text               Text{Field: store.TextBody / store.TextAll}
//	AND / OR / NOT            And / Or / Not{C: Or{...}}
//	sort receivedAt, sentAt,  SortArrival, SortDate, SortSize,
//	size, from, to, subject   SortDisplayFrom, SortDisplayTo, SortSubject
//	sort hasKeyword           SortHasKeyword
//	sort allInThread...,      SortInSet, IDs the messages of the threads
//	someInThreadHaveKeyword   that qualify
//	collation                 SortKey.Collation
//	(several mailboxes)       Search each, then Order all the matches
package query

import (
	"context"
	"io"
	"time"

	"postern/internal/store"
)

// Store is what queries read: the light and full listings, the store's
// text search, and bodies for messages without a usable cached envelope.
// store.Mailstore satisfies it.
type Store interface {
	store.TextSearcher
	MessageUIDs(ctx context.Context, mailboxID int64) ([]uint32, error)
	MessageFlags(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error)
	Messages(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error)
	OpenBlob(ctx context.Context, blobID int64) (io.ReadCloser, error)
}

// Query names the messages a search looks at and what it asks of them.
type Query struct {
	MailboxID int64
	// UIDs, when not nil, are the messages to consider, ascending: a
	// protocol's view of the mailbox, such as an IMAP session's, which may
	// still show a message expunged since or not yet show a new one. Nil
	// means the messages the store holds now.
	UIDs []uint32
	// Criteria selects among them; nil selects every one.
	Criteria Criterion
}

// Criterion is a search condition: And, Or, Not, or one of the leaves
// Flag, Keyword, Date, Size, UIDSet, ModSeq, Text, MessageIDs and
// Attachment. A nil Criterion
// matches every message.
type Criterion interface{ criterion() }

// And matches messages that match every member; an empty And matches
// every message.
type And []Criterion

// Or matches messages that match at least one member; an empty Or
// matches none.
type Or []Criterion

// Not matches messages that C does not match.
type Not struct{ C Criterion }

// Flag matches messages that have every system flag of Flags set; unset
// flags are Not{C: Flag{...}}.
type Flag struct{ Flags store.Flags }

// Keyword matches messages that carry the keyword, compared without
// regard to case (RFC 9051 §2.3.2, RFC 8621 §4.1.1).
type Keyword struct{ Name string }

// DateField is the date a Date criterion compares.
type DateField uint8

const (
	// Received is the date the message entered the mailbox: IMAP's
	// internal date, JMAP's receivedAt.
	Received DateField = iota + 1
	// Sent is the Date header field (RFC 5322 §3.6.1); a message without
	// a usable one matches no Sent criterion.
	Sent
)

// DateOp is how a Date criterion compares.
type DateOp uint8

const (
	Before DateOp = iota + 1 // earlier than Time
	On                       // equal to Time
	Since                    // equal to Time or later
)

// Date compares a date of the message with Time.
type Date struct {
	Field DateField
	Op    DateOp
	Time  time.Time
	// Calendar compares calendar dates, ignoring time of day and zone:
	// the message's date in its own zone against Time's date, as IMAP
	// does (RFC 9051 §6.4.4). Otherwise instants are compared, as JMAP's
	// before and after do.
	Calendar bool
}

// SizeOp is how a Size criterion compares.
type SizeOp uint8

const (
	Larger  SizeOp = iota + 1 // size > Bytes
	Smaller                   // size < Bytes
)

// Size compares the size of the message in octets.
type Size struct {
	Op    SizeOp
	Bytes int64
}

// UIDRange is the UIDs from First to Last, both included.
type UIDRange struct{ First, Last uint32 }

// UIDSet matches messages whose UID is in one of its ranges; an empty set
// matches none.
type UIDSet []UIDRange

// ModSeq matches messages whose modseq is at least Min (RFC 7162 §3.1.5).
type ModSeq struct{ Min uint64 }

// Text matches messages whose decoded text contains a string; the store
// answers it (store.TextQuery has the rules).
type Text store.TextQuery

// MessageIDs matches messages whose store id is in the set: what a
// protocol decided beyond one mailbox (JMAP's thread keyword filters).
type MessageIDs map[int64]bool

// Attachment matches messages that have an attachment (HasAttachment),
// from the cached body structure.
type Attachment struct{}

func (And) criterion()     {}
func (Or) criterion()      {}
func (Not) criterion()     {}
func (Flag) criterion()    {}
func (Keyword) criterion() {}
func (Date) criterion()    {}
func (Size) criterion()    {}
func (UIDSet) criterion()  {}
func (ModSeq) criterion()  {}
func (Text) criterion()    {}

func (MessageIDs) criterion() {}
func (Attachment) criterion() {}

// Load is how much of each message a search reads, and its results carry.
type Load uint8

const (
	// LoadUID reads nothing but UIDs: results carry UID alone.
	LoadUID Load = iota
	// LoadFlags reads the light listing (store.Lister.MessageFlags):
	// flags, keywords, modseq, internal date, size.
	LoadFlags
	// LoadFull reads whole rows, with the cached envelope.
	LoadFull
)
