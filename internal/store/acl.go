package store

import (
	"context"
	"fmt"
	"strings"
)

// Rights is a set of mailbox access rights (RFC 4314 §2.1): what an
// account other than the owner may do with a shared mailbox. The owner
// always holds every right.
type Rights uint16

// The standard rights of RFC 4314 §2.1, in the order of their letters.
const (
	RightLookup         Rights = 1 << iota // l: the mailbox is visible to LIST
	RightRead                              // r: SELECT, FETCH, SEARCH, STATUS, COPY from
	RightSeen                              // s: keep \Seen
	RightWrite                             // w: keep flags other than \Seen and \Deleted
	RightInsert                            // i: APPEND, COPY/MOVE into
	RightPost                              // p: send mail to the submission address
	RightCreate                            // k: CREATE children, RENAME into
	RightDeleteMailbox                     // x: DELETE, RENAME from
	RightDeleteMessages                    // t: set or clear \Deleted
	RightExpunge                           // e: EXPUNGE
	RightAdmin                             // a: SETACL, DELETEACL, GETACL, LISTRIGHTS
)

// AllRights is what the owner of a mailbox holds.
const AllRights = RightLookup | RightRead | RightSeen | RightWrite | RightInsert | RightPost |
	RightCreate | RightDeleteMailbox | RightDeleteMessages | RightExpunge | RightAdmin

const rightLetters = "lrswipkxtea"

// The obsolete rights of RFC 2086 stand for groups of the new ones (RFC
// 4314 §2.1.1): "c" for creating and deleting mailboxes, "d" for deleting
// messages.
const (
	obsoleteCreate = RightCreate | RightDeleteMailbox
	obsoleteDelete = RightDeleteMessages | RightExpunge
)

// ParseRights reads a rights string; "c" and "d" grant their groups.
// Letters of no known right are ErrInvalid (RFC 4314 §3.1 answers them
// with BAD).
func ParseRights(s string) (Rights, error) {
	var r Rights
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case 'c':
			r |= obsoleteCreate
		case 'd':
			r |= obsoleteDelete
		default:
			j := strings.IndexByte(rightLetters, ch)
			if j < 0 {
				return 0, fmt.Errorf("%w: unknown right %q", ErrInvalid, ch)
			}
			r |= 1 << j
		}
	}
	return r, nil
}

// String spells the rights in RFC 4314 order, followed by "c" and "d"
// when any right of their group is held, as clients of RFC 2086 read them
// (RFC 4314 §2.1.1).
func (r Rights) String() string {
	var b strings.Builder
	for i := 0; i < len(rightLetters); i++ {
		if r&(1<<i) != 0 {
			b.WriteByte(rightLetters[i])
		}
	}
	if r&obsoleteCreate != 0 {
		b.WriteByte('c')
	}
	if r&obsoleteDelete != 0 {
		b.WriteByte('d')
	}
	return b.String()
}

// Has tells whether every right of want is held.
func (r Rights) Has(want Rights) bool { return r&want == want }

// Anyone is the ACL identifier of every account of the owner's domain
// (RFC 4314 §2).
const Anyone = "anyone"

// ACLEntry is one identifier's rights on a mailbox. A negative entry takes
// its rights away from the identifier whatever its positive entries and
// anyone's grant (RFC 4314 §2).
type ACLEntry struct {
	// Identifier is an account's address or Anyone.
	Identifier string
	Negative   bool
	Rights     Rights
}

// SharedMailbox is another account's mailbox on which an account holds
// some rights.
type SharedMailbox struct {
	Mailbox
	// Owner is the owning account's address.
	Owner  string
	Rights Rights
	// Subscribed is the grantee's subscription (Mailbox.Subscribed is the
	// owner's): on until the grantee unsubscribes.
	Subscribed bool
}

// ACLStore keeps who may use which mailbox besides its owner. Grants go
// to accounts of the owner's domain; they go with the mailbox (deleted or
// renamed) and with the grantee's account.
type ACLStore interface {
	// MailboxACL lists the mailbox's entries, by identifier; the owner's
	// implicit rights are not among them.
	MailboxACL(ctx context.Context, mailboxID int64) ([]ACLEntry, error)
	// SetMailboxACL replaces the rights of the entry's identifier (and
	// sign) on the mailbox; no rights removes the entry. The identifier
	// must be Anyone or an account of the owner's domain other than the
	// owner (ErrNotFound, ErrInvalid).
	SetMailboxACL(ctx context.Context, mailboxID int64, e ACLEntry) error
	// MailboxRights is what accountID may do with the mailbox: every
	// right for its owner, else its own and anyone's grants less its own
	// and anyone's negative entries.
	MailboxRights(ctx context.Context, mailboxID, accountID int64) (Rights, error)
	// SharedMailboxes lists the other accounts' mailboxes on which
	// accountID holds any right, by owner and name.
	SharedMailboxes(ctx context.Context, accountID int64) ([]SharedMailbox, error)
	// SetSharedSubscribed records the grantee's subscription to another
	// account's mailbox.
	SetSharedSubscribed(ctx context.Context, accountID, mailboxID int64, subscribed bool) error
}
