// Package admin is the administration service of Postern: every rule about
// domains, accounts, aliases, app passwords, DKIM keys, quotas and the
// outbound queue as an administrator changes them. The CLI is one face of
// it; the admin JSON API, the web admin and the webmail's settings are
// others, so a rule lives here and nowhere else.
//
// It also holds the administrators of the admin API (admins.go: server
// administrators, and domain administrators limited to their domains by
// Administrator.CheckDomainScope and CheckAddressScope; an optional TOTP
// second factor), their login sessions and API tokens (adminauth.go: only
// digests are stored; the password itself is checked by
// auth.Service.LoginPrincipal under the shared login throttle), and the
// audit table that AuditLog lists.
//
// Beside the changes, it checks what DNS publishes for a domain against
// the records it needs (dnscheck.go, through the resolvers of [dns]
// servers, dnslookup.go) and imports accounts from CSV, all or none
// (import.go).
//
// Errors a face shows to a person are *Error values with a Kind (NotFound,
// Exists, Invalid, Conflict, Forbidden) that an HTTP face maps to a status
// code.
//
// Every change is written once to the audit log (slog, level info, msg
// "admin change") and to the audit table (store.Admins.AddAudit, listed by
// AuditLog) with who made it: the Actor carried in the context by
// WithActor. A change without an actor is refused (ErrNoActor), so a face
// cannot forget to say who it acts for. Reads need no actor and are not
// logged. Secrets (passwords, app passwords, private keys) never reach the
// log.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"postern/internal/dkim"
	"postern/internal/store"
)

// Options are the settings the service needs beyond the store.
type Options struct {
	// Hostname is the server's host name: the MX and SRV target of the DNS
	// records a domain needs.
	Hostname string
	// NewDKIMKeys makes a domain's signing keys; nil means dkim.GenerateKeys.
	// Tests pass a faster one (RSA-2048 generation takes a while).
	NewDKIMKeys func(now time.Time) ([]store.DKIMKey, error)
	// MTASTSMode is the MTA-STS policy's mode ([mtasts] mode): its id in
	// DNS changes with it. "" is "testing".
	MTASTSMode string
	// DNS answers the live DNS check (CheckDNS); nil: the check is
	// refused. NewDNSLookup asks the resolvers of [dns] servers.
	DNS DNSLookup
}

// Service holds the administrative rules over one store. It keeps no state
// of its own, so any number of faces may share one Service.
type Service struct {
	st         store.Store
	log        *slog.Logger
	host       string
	newKeys    func(time.Time) ([]store.DKIMKey, error)
	mtastsMode string
	dns        DNSLookup
}

// New returns the service over st; logger receives the audit lines (nil:
// discarded).
func New(st store.Store, logger *slog.Logger, opts Options) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.NewDKIMKeys == nil {
		opts.NewDKIMKeys = dkim.GenerateKeys
	}
	return &Service{st: st, log: logger, host: opts.Hostname, newKeys: opts.NewDKIMKeys, mtastsMode: opts.MTASTSMode, dns: opts.DNS}
}

// Actor is who asks for a change: "cli" for the command line,
// "admin:<name>" for an administrator of the admin API (Administrator.
// ActorName), later the user of the webmail.
type Actor struct {
	// Name identifies the actor in the audit log.
	Name string
	// Remote is the client address for network faces; "" for the CLI.
	Remote string
}

type actorKey struct{}

// WithActor returns a context that carries actor to the service's methods.
func WithActor(ctx context.Context, actor Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor carried by ctx.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok && a.Name != ""
}

// ErrNoActor is returned by every change asked for without an actor in the
// context: a mistake in the face, not in the administrator's input.
var ErrNoActor = errors.New("admin: change requested without an actor (admin.WithActor)")

// needActor is ErrNoActor when ctx carries no actor; every change calls it
// before doing anything.
func needActor(ctx context.Context) error {
	if _, ok := ActorFrom(ctx); !ok {
		return ErrNoActor
	}
	return nil
}

// audit logs one change that has been made. details are key/value pairs
// as for slog; callers never pass a secret.
func (s *Service) audit(ctx context.Context, action, target string, details ...any) {
	a, _ := ActorFrom(ctx)
	args := make([]any, 0, 8+len(details))
	args = append(args, "actor", a.Name)
	if a.Remote != "" {
		args = append(args, "remote", a.Remote)
	}
	args = append(args, "action", action, "target", target)
	s.log.InfoContext(ctx, "admin change", append(args, details...)...)
	// The audit table is the record the admin UI lists; the log line
	// above stays the record of last resort when the table cannot be
	// written (the change itself is done by now).
	e := store.AuditEntry{Actor: a.Name, Remote: a.Remote, Action: action, Target: target, Details: auditDetails(details)}
	if err := s.st.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.WarnContext(ctx, "admin change not recorded in the audit table", "action", action, "target", target, "err", err)
	}
}

// auditDetails renders slog-style key/value pairs as "k=v k=v".
func auditDetails(kv []any) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%v=%v", kv[i], kv[i+1])
	}
	return b.String()
}
