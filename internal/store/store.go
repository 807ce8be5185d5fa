// Package store is the storage contract of Postern: the types every protocol
// server shares (domains, accounts, aliases, mailboxes, messages, flags and
// modification sequences) and the narrow interfaces through which they are
// read and changed. Protocol code never sees SQL; sqlstore implements these
// interfaces and storetest is the conformance suite every backend passes.
//
// Atomicity: every method that changes state runs in one transaction; its
// effects are visible to every later call on any interface once it returns
// nil, and are durable (fsynced) by then.
package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"time"
)

// Errors returned by every backend; match them with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrExists        = errors.New("already exists")
	ErrOverQuota     = errors.New("over quota")
	ErrInvalid       = errors.New("invalid argument")
	ErrMailboxInUse  = errors.New("mailbox in use")
	ErrNotPermitted  = errors.New("not permitted")
	ErrStoreShutdown = errors.New("store is closed")
	ErrLimit         = errors.New("limit reached")
)

// Domain is a mail domain served locally.
type Domain struct {
	ID   int64
	Name string
	// CatchAll, when not empty, is the address that receives mail for unknown
	// local parts of this domain.
	CatchAll string
	// Postmaster, when not empty, receives mail for postmaster@ and
	// abuse@ of the domain that no account or alias takes (RFC 5321
	// §4.5.1); empty means the domain's oldest account.
	Postmaster string
	CreatedAt  time.Time
}

// Credentials are what the store keeps of a password: never the password.
type Credentials struct {
	// PasswordHash is a PHC string ($argon2id$...).
	PasswordHash string
	// SCRAMSHA256 holds the salt, iteration count, StoredKey and ServerKey for
	// SCRAM-SHA-256 in the auth package's encoding.
	SCRAMSHA256 string
}

// Account is a mailbox owner who can log in.
type Account struct {
	ID       int64
	Address  string // lower-case local@domain
	DomainID int64
	Credentials
	Disabled bool
	// QuotaBytes is the storage limit; 0 means unlimited.
	QuotaBytes int64
	// QuotaMessages is the message-count limit; 0 means unlimited.
	QuotaMessages int64
	UsedBytes     int64
	UsedMessages  int64
	CreatedAt     time.Time
}

// Alias maps one address (or "@domain" is not allowed: catch-alls live on the
// domain) to one or more destination addresses, local or remote.
type Alias struct {
	Source       string
	Destinations []string
}

// Directory holds domains, accounts and aliases: the account database.
type Directory interface {
	AddDomain(ctx context.Context, name string) (Domain, error)
	Domain(ctx context.Context, name string) (Domain, error)
	Domains(ctx context.Context) ([]Domain, error)
	// DeleteDomain removes the domain with its accounts, their mail, and its aliases.
	DeleteDomain(ctx context.Context, name string) error
	// SetCatchAll sets (or clears, with "") the domain's catch-all address.
	SetCatchAll(ctx context.Context, domain, address string) error
	// SetPostmaster sets (or clears, with "") where the domain's
	// postmaster@ and abuse@ mail goes (Domain.Postmaster).
	SetPostmaster(ctx context.Context, domain, address string) error

	// AddAccount creates the account and its mailboxes: INBOX plus the
	// special-use mailboxes Drafts, Sent, Archive, Junk, Trash. Its domain
	// must exist (ErrNotFound) and the address must be free (ErrExists),
	// also of aliases.
	AddAccount(ctx context.Context, address string, cred Credentials) (Account, error)
	Account(ctx context.Context, address string) (Account, error)
	AccountByID(ctx context.Context, id int64) (Account, error)
	// Accounts lists the accounts of one domain, or of all when domain is "".
	Accounts(ctx context.Context, domain string) ([]Account, error)
	SetCredentials(ctx context.Context, address string, cred Credentials) error
	// RehashPassword replaces the account's password hash by newHash, the
	// same password hashed with new parameters, only if it is still
	// oldHash (a password change meanwhile wins); it reports whether it
	// did. Nothing else changes: sessions and tokens stay valid.
	RehashPassword(ctx context.Context, accountID int64, oldHash, newHash string) (bool, error)
	SetDisabled(ctx context.Context, address string, disabled bool) error
	SetQuota(ctx context.Context, address string, bytes, messages int64) error
	// DeleteAccount removes the account, its mailboxes and messages.
	DeleteAccount(ctx context.Context, address string) error

	// AddAlias creates or fails with ErrExists; the source's domain must be local.
	AddAlias(ctx context.Context, source string, destinations []string) error
	Alias(ctx context.Context, source string) (Alias, error)
	Aliases(ctx context.Context) ([]Alias, error)
	DeleteAlias(ctx context.Context, source string) error
}

// Flags are the IMAP system flags, kept as a bit set.
type Flags uint8

const (
	FlagSeen Flags = 1 << iota
	FlagAnswered
	FlagFlagged
	FlagDeleted
	FlagDraft
	// FlagRecent is never stored; sessions compute it.
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagSeen, `\Seen`}, {FlagAnswered, `\Answered`}, {FlagFlagged, `\Flagged`},
	{FlagDeleted, `\Deleted`}, {FlagDraft, `\Draft`},
}

// Names returns the IMAP names of the flags, in a fixed order.
func (f Flags) Names() []string {
	var out []string
	for _, fn := range flagNames {
		if f&fn.f != 0 {
			out = append(out, fn.name)
		}
	}
	return out
}

// ParseFlag returns the system flag with this IMAP name (case-insensitive),
// or ok=false for a keyword.
func ParseFlag(name string) (Flags, bool) {
	for _, fn := range flagNames {
		if strings.EqualFold(fn.name, name) {
			return fn.f, true
		}
	}
	return 0, false
}

// Special-use attributes (RFC 6154).
const (
	SpecialDrafts  = `\Drafts`
	SpecialSent    = `\Sent`
	SpecialArchive = `\Archive`
	SpecialJunk    = `\Junk`
	SpecialTrash   = `\Trash`
)

// DefaultMailboxes are created with every account, INBOX first.
var DefaultMailboxes = []struct{ Name, SpecialUse string }{
	{"INBOX", ""},
	{"Drafts", SpecialDrafts},
	{"Sent", SpecialSent},
	{"Archive", SpecialArchive},
	{"Junk", SpecialJunk},
	{"Trash", SpecialTrash},
}

// Mailbox is one folder of an account.
type Mailbox struct {
	ID            int64
	AccountID     int64
	Name          string // "/"-separated hierarchy, INBOX always upper-case
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	SpecialUse    string
	Subscribed    bool
}

// MailboxStatus is what STATUS and POP3 STAT report.
type MailboxStatus struct {
	Mailbox
	Messages int64
	Unseen   int64
	Deleted  int64
	Size     int64
}

// Message is one message in one mailbox: the metadata IMAP answers FETCH
// from without reading the body.
type Message struct {
	ID           int64
	MailboxID    int64
	UID          uint32
	ModSeq       uint64
	Flags        Flags
	Keywords     []string
	InternalDate time.Time
	// SaveDate is when the message was saved into its mailbox (delivery,
	// APPEND, COPY, MOVE; IMAP SAVEDATE, RFC 8514); zero when unknown (a
	// message stored before it was kept). Only full rows carry it.
	SaveDate time.Time
	Size     int64
	BlobID   int64
	// ThreadID names the message's conversation: the ID of its first
	// message, assigned at delivery (MessageMeta.Thread).
	ThreadID int64
	// Envelope and BodyStructure are the message package's encodings,
	// opaque to the store.
	Envelope      []byte
	BodyStructure []byte
	Preview       string
}

// MessageMeta is what parsing at delivery produced, stored with the message.
type MessageMeta struct {
	Envelope      []byte
	BodyStructure []byte
	Preview       string
	// SearchText is the decoded text of the message for full-text search;
	// or TextParts, the decoded text of each text part as it is (TextCut
	// when a bound cut some): a store indexes the words of either.
	SearchText string
	TextParts  []string
	TextCut    bool
	// Headers are the decoded header fields for header search (name: value lines).
	Headers string
	// Thread links the message to its conversation.
	Thread ThreadKeys
}

// ThreadKeys are what assigns a message to a thread at delivery, in the
// manner of RFC 5256 REFERENCES: the thread of the nearest parent the
// account holds, else (for a reply without known parents) the latest
// thread with the same base subject, else a new thread.
type ThreadKeys struct {
	// MessageID is the message's own id, without angle brackets.
	MessageID string
	// Parents are the ids of References, then In-Reply-To when it adds
	// one, oldest first (RFC 5256 §2.2).
	Parents []string
	// BaseSubject is the RFC 5256 §2.1 base subject; IsReply tells that
	// the subject marked a reply or forward.
	BaseSubject string
	IsReply     bool
}

// Body is a complete message body on its way into the store. Passing it to
// a store call (Deliver, Append, AppendMany) hands it over: the store keeps
// it or releases it, whether the call succeeds or not. A Body never handed
// over is released with Discard.
type Body interface {
	Size() int64
	// Open reads the body from its start (to parse it).
	Open() (io.ReadCloser, error)
	Discard()
}

// BodyWriter receives a body as it arrives (Mailstore.NewBody). Small
// bodies stay in memory; a backend may send large ones to their final place
// as they come, so that no byte is written twice.
type BodyWriter interface {
	io.Writer
	// Finish ends the body.
	Finish() (Body, error)
	// Abort drops a body that will not be finished; it does nothing after
	// Finish, so `defer w.Abort()` is the idiom.
	Abort()
}

// BytesBody is a body in memory, for messages made by the server itself
// (bounces, replies) and for tests.
type BytesBody []byte

// Size implements Body.
func (b BytesBody) Size() int64 { return int64(len(b)) }

// Open implements Body.
func (b BytesBody) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }

// Discard implements Body.
func (b BytesBody) Discard() {}

// Bytes returns the body itself, for readers that must not change it.
func (b BytesBody) Bytes() []byte { return b }

// NewBlob is a body with what parsing it produced.
type NewBlob struct {
	Body Body
	Meta MessageMeta
}

// Size is the size of the body.
func (nb NewBlob) Size() int64 { return nb.Body.Size() }

// DeliveryTarget is one mailbox that receives a copy of a message.
type DeliveryTarget struct {
	AccountID int64
	// Mailbox is the mailbox name; "" means INBOX. A mailbox that does not
	// exist is created when Create is set, else the copy goes to INBOX.
	Mailbox string
	Create  bool
	// SpecialUse is given to a mailbox created for this copy (\Junk for
	// a DMARC quarantine).
	SpecialUse string
	Flags      Flags
	Keywords   []string
	// IgnoreQuota delivers even when the account is over its quota.
	IgnoreQuota bool
	// Body picks the body of the copy: 0 is Delivery.Blob, i is
	// Delivery.Extra[i-1].
	Body int
}

// Delivery is everything one accepted message does to the store: copies in
// local mailboxes and copies queued for remote recipients, committed
// together or not at all, so that a client retrying a transaction that
// failed never causes a second remote copy.
type Delivery struct {
	Blob         NewBlob
	InternalDate time.Time
	// Targets are the local copies.
	Targets []DeliveryTarget
	// Queue are the copies for remote recipients; they reference the same
	// body. Every recipient is due at InternalDate.
	Queue []QueuedCopy
	// Extra are further bodies that some targets or queued copies take
	// instead of Blob (a copy a filter edited, a redirected copy with the
	// header that stops redirect loops); their Body field picks one.
	Extra []NewBlob
	// Log are the delivery log's rows of this delivery, written in its
	// transaction (see LogEvent.Target and Queue).
	Log []LogEvent
	// QuotaFallback: when some target or queued copy is stored, targets
	// over quota are stored too, ignoring their quota (the message was
	// accepted for every recipient at once). Without it, or when nothing
	// else is stored, they fail with ErrOverQuota.
	QuotaFallback bool
}

// QueuedCopy is one entry of the outbound queue made by a Delivery.
type QueuedCopy struct {
	NewQueueMessage
	// Skip is how many bytes at the start of the body the queued copy
	// leaves out: the Return-Path that only a final delivery adds (RFC
	// 5321 §4.4), so that one stored body serves both.
	Skip int64
	// Body picks the body as DeliveryTarget.Body does.
	Body int
}

// DeliveryOutcome tells what a Delivery did.
type DeliveryOutcome struct {
	// Targets are in Delivery.Targets order.
	Targets []DeliveryResult
	// QueueIDs are the ids of the queue entries, in Delivery.Queue order.
	QueueIDs []int64
}

// DeliveryResult tells what happened for one target.
type DeliveryResult struct {
	MailboxID   int64
	UID         uint32
	UIDValidity uint32
	// Err is ErrOverQuota or nil.
	Err error
	// OverQuota is set when the copy was stored despite the quota
	// (Delivery.QuotaFallback).
	OverQuota bool
}

// ChangeKind tells subscribers what kind of change happened.
type ChangeKind int

const (
	ChangeNewMessage ChangeKind = iota + 1
	ChangeFlags
	ChangeExpunge
	ChangeMailboxes // created, deleted, renamed, subscribed
)

// Change is published after a transaction that changed a mailbox commits.
type Change struct {
	Kind      ChangeKind
	AccountID int64
	MailboxID int64
	UIDs      []uint32
	ModSeq    uint64
	// PrevModSeq, for ChangeNewMessage, is the mailbox's highest modseq
	// just before this change (0 when unknown): a session whose view is at
	// PrevModSeq knows the event is the whole change and needs no query.
	// Modseqs are drawn from the account's sequence, so a mailbox's are
	// not consecutive.
	PrevModSeq uint64
}

// Notifier carries Change events between sessions. In one process it is a
// hub in memory; with several nodes it can travel over the database.
type Notifier interface {
	Publish(Change)
	// Subscribe delivers the changes of one account until cancel is called.
	// Events must be read promptly; a slow reader loses events but always
	// learns that it did (a Change with Kind 0) so it can resync.
	Subscribe(accountID int64) (events <-chan Change, cancel func())
}

// FlagOp is how STORE changes flags.
type FlagOp int

const (
	FlagsAdd FlagOp = iota + 1
	FlagsRemove
	FlagsReplace
)

// FlagUpdate changes flags of the messages with the given UIDs.
type FlagUpdate struct {
	Op       FlagOp
	Flags    Flags
	Keywords []string
	// UnchangedSince, when not zero, is the CONDSTORE condition (RFC 7162):
	// messages whose modseq is higher are not changed and are reported in
	// FlagResult.Failed.
	UnchangedSince uint64
}

// FlagResult reports which messages changed and which failed the condition.
type FlagResult struct {
	// Changed are the messages that changed: ID, UID, MailboxID and
	// their new flags, keywords and modseq (other fields may be unset).
	Changed []Message
	Failed  []uint32
}

// Mailstore holds mailboxes and messages.
type Mailstore interface {
	MetadataStore
	URLAuthStore

	// NewBody starts a body to hand to Deliver, Append or AppendMany.
	NewBody() (BodyWriter, error)
	// Deliver stores one body into every target and queues its remote
	// copies in one transaction, shared with other concurrent operations
	// (group commit); durable when it returns. The body is stored once and
	// referenced by every copy. All copies are stored or none: a target
	// whose account or mailbox is gone fails the whole delivery (ErrNotFound),
	// and so does any other error. The one exception is quota: a target
	// over quota fails alone (its result's Err), or is stored anyway under
	// Delivery.QuotaFallback; when no copy at all is stored, Deliver returns
	// the results and nil.
	Deliver(ctx context.Context, d Delivery) (DeliveryOutcome, error)

	Mailboxes(ctx context.Context, accountID int64) ([]Mailbox, error)
	Mailbox(ctx context.Context, accountID int64, name string) (Mailbox, error)
	MailboxStatus(ctx context.Context, mailboxID int64) (MailboxStatus, error)
	CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (Mailbox, error)
	// DeleteMailbox removes the mailbox and its messages; INBOX cannot be deleted.
	DeleteMailbox(ctx context.Context, accountID int64, name string) error
	// RenameMailbox renames the mailbox and its children. Renaming INBOX moves
	// its messages into a new mailbox and leaves INBOX empty (RFC 3501 §6.3.5).
	RenameMailbox(ctx context.Context, accountID int64, from, to string) error
	// SetSubscribed subscribes or unsubscribes an existing mailbox, or
	// unsubscribes the name of one deleted while subscribed.
	SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error
	// RecentUID is the highest UID of the mailbox that an IMAP session
	// took as \Recent (RFC 3501 §2.3.2); 0 when none did.
	RecentUID(ctx context.Context, mailboxID int64) (uint32, error)
	// SetRecentUID raises it to uid; it never goes down.
	SetRecentUID(ctx context.Context, mailboxID int64, uid uint32) error
	// KeptSubscriptions are the names subscribed whose mailbox was deleted
	// since (RFC 3501 §6.3.6), sorted; creating the mailbox again takes
	// the name off this list, subscribed.
	KeptSubscriptions(ctx context.Context, accountID int64) ([]string, error)

	// Messages lists messages with uid in [from, to] (to 0 means no upper
	// bound), in UID order.
	Messages(ctx context.Context, mailboxID int64, from, to uint32) ([]Message, error)
	// MessagesChangedSince lists messages whose modseq is above modseq.
	MessagesChangedSince(ctx context.Context, mailboxID int64, modseq uint64) ([]Message, error)
	// ExpungedSince lists UIDs expunged with a modseq above modseq.
	ExpungedSince(ctx context.Context, mailboxID int64, modseq uint64) ([]uint32, error)
	// Append stores a blob as a new message of one mailbox; like Deliver it is
	// subject to quota unless the target says otherwise.
	Append(ctx context.Context, mailboxID int64, blob NewBlob, target DeliveryTarget, internalDate time.Time) (Message, error)
	UpdateFlags(ctx context.Context, mailboxID int64, uids []uint32, upd FlagUpdate) (FlagResult, error)
	// Expunge removes the messages with these UIDs; it returns the UIDs that
	// were removed and the new highest modseq.
	Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, uint64, error)
	// Copy copies messages into another mailbox and returns the pairs of
	// source and destination UIDs. With move, the sources are expunged in
	// the same transaction. A copy into another account's mailbox (one
	// shared through ACLStore) counts against that account's quota.
	Copy(ctx context.Context, fromMailbox int64, uids []uint32, toMailbox int64, move bool) (src, dst []uint32, err error)
	// ExpungeDeleted removes the messages among uids (all when uids is nil)
	// that carry \Deleted at the moment of the expunge, so a flag another
	// session cleared meanwhile is honoured (RFC 9051 §6.4.3, RFC 4315 §2.1).
	ExpungeDeleted(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, uint64, error)
	// MessageFlagsChangedSince is MessagesChangedSince without Envelope,
	// BodyStructure and Preview, in UID order: what a CONDSTORE/QRESYNC
	// resync needs, at a cost that follows the number of changes.
	MessageFlagsChangedSince(ctx context.Context, mailboxID int64, modseq uint64) ([]Message, error)
	// MessagesByID returns the account's messages with these ids, whole
	// (envelope, body structure, preview, thread), in id order; ids that
	// name no message of the account are left out. JMAP names messages by
	// id, wherever they are.
	MessagesByID(ctx context.Context, accountID int64, ids []int64) ([]Message, error)
	// ThreadMessages returns the account's messages in these threads,
	// without envelope, body structure and preview, ordered by thread,
	// then internal date, then id (a JMAP Thread's emailIds).
	ThreadMessages(ctx context.Context, accountID int64, threadIDs []int64) ([]Message, error)
	// MessagesByDate calls fn with the mailbox's messages in received
	// order (internal date, then id), newest first when newestFirst, until
	// fn returns false; after, when not nil, starts past that message (its
	// InternalDate and ID), so a walk can stop and go on. The messages
	// carry ID, MailboxID, UID, ThreadID and InternalDate only. It reads
	// as it goes, so a caller that stops after a page pays for that page,
	// not for the mailbox (JMAP Email/query by receivedAt). fn must not
	// call the store.
	MessagesByDate(ctx context.Context, mailboxID int64, newestFirst bool, after *Message, fn func(Message) bool) error

	// OpenBlob returns the body of a message. The reader also implements
	// io.ReaderAt and io.Seeker.
	OpenBlob(ctx context.Context, blobID int64) (io.ReadCloser, error)

	// AccountModSeq is the account's current modseq (JMAP state).
	AccountModSeq(ctx context.Context, accountID int64) (uint64, error)
	// Changes lists what changed in the account after modseq since, read
	// in one transaction; ErrNotFound for an unknown account.
	Changes(ctx context.Context, accountID int64, since uint64) (AccountChanges, error)

	Lister
	MultiAppender
	TextSearcher
}

// Store is everything a backend offers; storetest holds every backend to
// all of it.
type Store interface {
	Directory
	Mailstore
	QueueStore
	DKIMKeys
	AppPasswords
	AccessTokens
	SieveStore
	SubmissionStore
	Uploads
	Admins
	WebmailStore
	DeliveryLog
	MTASTSCache
	TLSResults
	Reports
	AccountImport
	LastLogins
	ACLStore
	Notifier() Notifier
	Close() error
}

// AccountChanges is what changed in an account after a modseq: the answer
// to "what changed since state S" that JMAP's /changes methods need, read
// from one sequence per account (every change takes the account's next
// modseq, see Mailstore.Changes).
type AccountChanges struct {
	// ModSeq is the account's modseq when the changes were read: the new
	// state.
	ModSeq uint64
	// Created are messages that arrived after since; Updated those that
	// existed before and changed (flags, keywords, mailbox) after it.
	Created, Updated []ChangedMessage
	// Destroyed are messages that left the account after since (expunged,
	// or gone with their mailbox).
	Destroyed []ChangedMessage
	// Mailboxes changed after since: their own properties (name,
	// subscription) or their messages (counts); MailboxesDestroyed were
	// deleted.
	Mailboxes          []int64
	MailboxesDestroyed []int64
}

// ChangedMessage names a message in AccountChanges.
type ChangedMessage struct {
	ID, ThreadID, MailboxID int64
	ModSeq                  uint64
}

// IsDiskFull reports whether err comes from a full disk: the file system's
// ENOSPC, or SQLite's SQLITE_FULL. Protocols answer it as the storage
// limit it is (SMTP 452 4.3.1, IMAP NO [LIMIT]), not as a server bug.
func IsDiskFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "SQLITE_FULL")
}
