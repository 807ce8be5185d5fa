package store

import (
	"context"
	"errors"
	"time"
)

// Identity is an address an account sends as, with the name and
// signatures a client puts on its mail (JMAP Identity, RFC 8621 §6).
// Which addresses an account may send as is decided by the delivery
// pipeline (deliver.Pipeline.Owns), not here.
type Identity struct {
	ID        int64
	AccountID int64
	Name      string
	Email     string
	// ReplyTo and Bcc are lists of addresses in the JSON of their
	// protocol (JMAP EmailAddress[]), opaque to the store; nil is null.
	ReplyTo, Bcc                 []byte
	TextSignature, HTMLSignature string
	// IsDefault marks the identity of the account's own address: it is
	// made by the store with the first read and cannot be destroyed.
	IsDefault bool
	ModSeq    uint64
}

// EmailSubmission is the record of a message an account sent through JMAP
// (RFC 8621 §7), kept for a while after sending.
type EmailSubmission struct {
	ID         int64
	AccountID  int64
	IdentityID int64
	EmailID    int64
	ThreadID   int64
	// Envelope and DeliveryStatus are JSON of their protocol, opaque to
	// the store.
	Envelope, DeliveryStatus []byte
	SendAt                   time.Time
	UndoStatus               string
	// QueueIDs are the outbound queue entries the message made.
	QueueIDs []int64
	ModSeq   uint64
}

// ObjectChanges is what changed in one kind of object of an account after
// a state (JMAP /changes): the state now, and one change per object in
// the order of their last change. An object created and destroyed after
// the state is left out.
type ObjectChanges struct {
	State   uint64
	Changes []ObjectChange
}

// ObjectChange is one object's change: created or destroyed after the
// state, else updated; ModSeq is its last change, CreatedModSeq its
// creation.
type ObjectChange struct {
	ID                    int64
	ModSeq, CreatedModSeq uint64
	Created, Destroyed    bool
}

// IDs returns the ids created, updated and destroyed.
func (c ObjectChanges) IDs() (created, updated, destroyed []int64) {
	for _, ch := range c.Changes {
		switch {
		case ch.Created:
			created = append(created, ch.ID)
		case ch.Destroyed:
			destroyed = append(destroyed, ch.ID)
		default:
			updated = append(updated, ch.ID)
		}
	}
	return created, updated, destroyed
}

// ErrStateTooOld: the changes after this state are no longer all known
// (records were purged since); the client must resynchronise.
var ErrStateTooOld = errors.New("state too old")

// SubmissionStore keeps JMAP identities and email submissions. Each kind
// has its own per-account state, a sequence that only grows: every
// create, update and destroy takes its next value. Each method is atomic.
type SubmissionStore interface {
	// Identities returns the account's identities by id and the state,
	// first making the default identity of the account's address when it
	// has none. ErrNotFound for an unknown account.
	Identities(ctx context.Context, accountID int64) ([]Identity, uint64, error)
	// CreateIdentity stores a new identity (ID, ModSeq and IsDefault are
	// set by the store) and returns it.
	CreateIdentity(ctx context.Context, id Identity) (Identity, error)
	// UpdateIdentity replaces the name, replyTo, bcc and signatures of an
	// identity (the email never changes): ErrNotFound.
	UpdateIdentity(ctx context.Context, id Identity) (Identity, error)
	// DestroyIdentity: ErrNotFound, or ErrNotPermitted for the default.
	DestroyIdentity(ctx context.Context, accountID, id int64) error
	// IdentityChanges lists changes after since; ErrStateTooOld when
	// since is beyond what is kept, ErrInvalid when it is in the future.
	IdentityChanges(ctx context.Context, accountID int64, since uint64) (ObjectChanges, error)

	// CreateEmailSubmission records a sent message (ID and ModSeq set by
	// the store).
	CreateEmailSubmission(ctx context.Context, s EmailSubmission) (EmailSubmission, error)
	// EmailSubmissions returns the account's submissions with these ids
	// (all of them when ids is nil) by id, and the state.
	EmailSubmissions(ctx context.Context, accountID int64, ids []int64) ([]EmailSubmission, uint64, error)
	// DestroyEmailSubmission forgets one: ErrNotFound.
	DestroyEmailSubmission(ctx context.Context, accountID, id int64) error
	// EmailSubmissionChanges is IdentityChanges for submissions.
	EmailSubmissionChanges(ctx context.Context, accountID int64, since uint64) (ObjectChanges, error)
	// PurgeEmailSubmissions destroys the account's submissions sent before
	// cutoff (reported by changes as destroyed) and drops the records of
	// those destroyed before cutoff; it returns how many it destroyed.
	PurgeEmailSubmissions(ctx context.Context, accountID int64, cutoff time.Time) (int, error)
}
