package store

import (
	"context"
	"time"
)

// SieveScript is one Sieve script (RFC 5228) of an account, or a global
// one run for every account before or after the account's own.
type SieveScript struct {
	ID        int64
	AccountID int64 // 0 for a global script
	Name      string
	Source    []byte
	Active    bool
	UpdatedAt time.Time
}

// Names of the two global scripts.
const (
	SieveGlobalBefore = "before"
	SieveGlobalAfter  = "after"
)

// SieveStore keeps Sieve scripts and what scripts remember between
// deliveries (vacation replies sent, duplicate ids seen). It stores what
// it is given: compiling a script and every other rule about scripts
// belong to the admin service. Each method is atomic on its own.
type SieveStore interface {
	// SieveScripts lists an account's scripts by name, with their source.
	SieveScripts(ctx context.Context, accountID int64) ([]SieveScript, error)
	// SieveScript returns one; ErrNotFound when there is none.
	SieveScript(ctx context.Context, accountID int64, name string) (SieveScript, error)
	// ActiveSieveScript returns the account's active script; ErrNotFound
	// when none is active.
	ActiveSieveScript(ctx context.Context, accountID int64) (SieveScript, error)
	// PutSieveScript creates or replaces a script (an active one stays
	// active); ErrNotFound when there is no such account.
	PutSieveScript(ctx context.Context, accountID int64, name string, src []byte) error
	// SetActiveSieveScript makes name the active script and every other
	// one inactive; "" deactivates all. ErrNotFound for an unknown name.
	SetActiveSieveScript(ctx context.Context, accountID int64, name string) error
	// DeleteSieveScript removes an inactive script: ErrNotFound when there
	// is none, ErrNotPermitted when it is the active one (RFC 5804 §2.10).
	DeleteSieveScript(ctx context.Context, accountID int64, name string) error
	// RenameSieveScript renames a script, keeping it active if it was;
	// ErrNotFound, or ErrExists when newName is taken.
	RenameSieveScript(ctx context.Context, accountID int64, oldName, newName string) error

	// GlobalSieveScript returns the global script SieveGlobalBefore or
	// SieveGlobalAfter; ErrNotFound when it is not set.
	GlobalSieveScript(ctx context.Context, name string) (SieveScript, error)
	// PutGlobalSieveScript sets it; nil src removes it.
	PutGlobalSieveScript(ctx context.Context, name string, src []byte) error

	// SieveTracked reports whether key was recorded for the account and
	// has not expired at now.
	SieveTracked(ctx context.Context, accountID int64, key string, now time.Time) (bool, error)
	// TrackSieve records key until expires and reports whether it was
	// already recorded and unexpired at now; a live record keeps its expiry
	// unless refresh. Expired records of the account are dropped on the way.
	TrackSieve(ctx context.Context, accountID int64, key string, now, expires time.Time, refresh bool) (seen bool, err error)

	// The vacation response is Sieve's vacation set outside a script.
	VacationStore
}

// Vacation is an account's vacation response (RFC 8621 §8): while Enabled
// and within From and To, senders get an automatic reply. Nil texts and
// zero times are unset (JMAP null).
type Vacation struct {
	Enabled  bool
	From, To time.Time // zero: no bound
	Subject  *string
	TextBody *string
	HTMLBody *string
	// Version moves at every change (0: never set); UpdatedAt is when.
	Version   int64
	UpdatedAt time.Time
}

// VacationStore keeps accounts' vacation responses. It stores what it is
// given; the rules about them belong to the admin service, and acting on
// them to the delivery filter.
type VacationStore interface {
	// Vacation returns the account's vacation response: a zero Vacation
	// (disabled, Version 0) when it never set one; ErrNotFound when there
	// is no such account.
	Vacation(ctx context.Context, accountID int64) (Vacation, error)
	// PutVacation replaces it (From and To are kept to the second) and
	// returns it as stored, with its new Version; ErrNotFound when there
	// is no such account.
	PutVacation(ctx context.Context, accountID int64, v Vacation) (Vacation, error)
}
