package store

import (
	"context"
	"time"
)

// Admin is an administrator of the admin listener: not a mail account (no
// mailbox, no protocol login), kept in its own table.
type Admin struct {
	ID   int64
	Name string
	// PasswordHash is a PHC string ($argon2id$...).
	PasswordHash string
	// Role is AdminRoleServer or AdminRoleDomain.
	Role string
	// Domains are the domains a domain administrator manages.
	Domains []string
	// TOTPSecret is the base32 secret of the second factor, "" for none.
	TOTPSecret string
	CreatedAt  time.Time
	// LastLogin is the time of the last successful login (zero: never).
	LastLogin time.Time
}

// The administrator roles.
const (
	AdminRoleServer = "server"
	AdminRoleDomain = "domain"
)

// The kinds of AdminToken.
const (
	AdminSession = "session"
	AdminAPI     = "api"
)

// AdminToken is a login session or a named API token of an administrator.
// The token itself is never stored, only its SHA-256 digest.
type AdminToken struct {
	ID      int64
	AdminID int64
	Kind    string // AdminSession or AdminAPI
	Name    string // of an API token
	Hash    []byte
	// ExpiresAt is when it stops working; zero: never (API tokens).
	ExpiresAt time.Time
	CreatedAt time.Time
	LastUsed  time.Time
}

// AuditEntry is one admin change as recorded.
type AuditEntry struct {
	ID      int64
	At      time.Time
	Actor   string
	Remote  string
	Action  string
	Target  string
	Details string
}

// AuditFilter selects audit entries: every set field must match exactly
// (Since: at or after it). Entries come newest first; BeforeID pages on
// (only entries with a smaller ID), Limit caps the count.
type AuditFilter struct {
	Actor, Action, Target string
	Since                 time.Time
	BeforeID              int64
	Limit                 int
}

// Admins is the storage of administrators, their tokens and the audit
// log. Every method is atomic on its own.
type Admins interface {
	// AddAdmin stores a; ErrExists when the name is taken.
	AddAdmin(ctx context.Context, a Admin) (Admin, error)
	Admin(ctx context.Context, name string) (Admin, error)
	// Admins lists every administrator by name.
	Admins(ctx context.Context) ([]Admin, error)
	// DeleteAdmin removes the administrator and its sessions and tokens.
	DeleteAdmin(ctx context.Context, name string) error
	// SetAdminTOTP sets (or clears, with "") the second factor's secret.
	SetAdminTOTP(ctx context.Context, name, secret string) error
	// UseAdminTOTPStep records that the administrator's TOTP code of time
	// step was used, and reports false when that step or a later one was
	// used already (a code replayed, or an older one): a code logs in once.
	UseAdminTOTPStep(ctx context.Context, id, step int64) (bool, error)
	// TouchAdminLogin records a successful login.
	TouchAdminLogin(ctx context.Context, id int64, at time.Time) error

	// AddAdminToken stores t and returns it with ID and CreatedAt;
	// ErrNotFound without such an administrator, ErrExists for an API
	// token name the administrator already has. It drops the
	// administrator's expired sessions.
	AddAdminToken(ctx context.Context, t AdminToken) (AdminToken, error)
	// AdminToken returns the token with this digest and its
	// administrator; expiry is the caller's to check.
	AdminToken(ctx context.Context, hash []byte) (AdminToken, Admin, error)
	// AdminTokens lists an administrator's tokens of one kind, oldest first.
	AdminTokens(ctx context.Context, adminID int64, kind string) ([]AdminToken, error)
	// TouchAdminToken records a use and moves the expiry (unless zero).
	TouchAdminToken(ctx context.Context, id int64, at, expires time.Time) error
	// DeleteAdminToken revokes token id of the administrator; ErrNotFound
	// when it has none such.
	DeleteAdminToken(ctx context.Context, adminID, id int64) error

	// AddAudit records one change.
	AddAudit(ctx context.Context, e AuditEntry) error
	// Audit lists recorded changes, newest first.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}
