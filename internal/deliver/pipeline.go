// Package deliver is the one place that decides where a message goes.
// Every message that enters a mailbox or the outbound queue passes through
// its pipeline, whatever its source (the MX, submission, bounces, JMAP
// sending, Sieve redirects and vacation replies):
//
//	tx := p.Begin(Envelope{...})       // sender, source, authenticated account
//	err := tx.AddRecipient(ctx, rcpt)  // resolve: alias, account, +tag, catch-all, remote
//	res, err := tx.Deliver(ctx, body)  // parse once, filter, then one store commit
//
// Deliver writes the body once, parses it once, runs the filter step for
// each local recipient (Sieve plugs in there), and commits the local copies
// and the queued remote copies in one store transaction: a client that
// retries after a failure never causes a second remote copy. Callers stay
// thin: they map the typed errors to their protocol's replies.
//
// The rules of sending as an account live here too, for every way of
// sending (SMTP submission, JMAP): Owns (which addresses an account may
// send as) and CheckSubmission (the header of a submitted message).
package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"postern/internal/authcheck"
	"postern/internal/srs"
	"postern/internal/store"
)

// Source is where a message comes from; it decides where its recipients
// may be.
type Source int

const (
	// SourceMX is mail from another MTA on port 25: local recipients only.
	SourceMX Source = iota + 1
	// SourceSubmission is mail from an authenticated user: anywhere.
	SourceSubmission
	// SourceBounce is a delivery status notification made by the queue,
	// for the sender of a message that failed.
	SourceBounce
	// SourceJMAP, SourceRedirect and SourceVacation are mail the server
	// sends on a user's behalf.
	SourceJMAP
	SourceRedirect
	SourceVacation
)

func (s Source) String() string {
	switch s {
	case SourceMX:
		return "mx"
	case SourceSubmission:
		return "submission"
	case SourceBounce:
		return "bounce"
	case SourceJMAP:
		return "jmap"
	case SourceRedirect:
		return "redirect"
	case SourceVacation:
		return "vacation"
	}
	return "unknown"
}

// mayRelay tells whether mail from this source may go to remote recipients
// given directly (not through an alias).
func (s Source) mayRelay() bool { return s != SourceMX }

// Envelope is what a message comes with besides its body.
type Envelope struct {
	// ID is the transaction id of the Received header and the logs.
	ID     string
	Source Source
	// Sender is the envelope sender; "" is the null sender.
	Sender string
	// Account is the authenticated submitter, nil for none.
	Account *store.Account
	// EnvID and Ret are the DSN parameters of RFC 3461 §4.4 and §4.3.
	EnvID, Ret string
	// RequireTLS: MAIL FROM REQUIRETLS (RFC 8689); remote copies go only
	// over verified TLS.
	RequireTLS bool
	// RemoteIP and Helo are the SMTP client's address and greeting, for
	// the inbound checks of mail from port 25.
	RemoteIP netip.Addr
	Helo     string
}

// ParseFunc turns a raw message into what the store keeps. It reads r to
// its end.
type ParseFunc func(r io.Reader) (store.MessageMeta, error)

// Waker is told when entries were queued (the outbound queue's runner).
type Waker interface{ Wake() }

// Options build a Pipeline.
type Options struct {
	Directory store.Directory
	Mailstore store.Mailstore
	Parse     ParseFunc
	// Filter decides per local recipient; nil keeps everything in INBOX.
	Filter Filter
	// Queue is woken after remote copies were queued; may be nil.
	Queue  Waker
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// SRSSecret keys the Sender Rewriting Scheme of redirected mail and of
	// the bounces that come back for it; nil leaves senders as they are.
	SRSSecret []byte
	// Log keeps refusals in the delivery log; may be nil. (Deliveries
	// write their rows with the delivery: store.Delivery.Log.)
	Log LogRecorder
	// Checks makes the verdicts on mail from port 25 (SPF, DKIM, DMARC,
	// ARC, iprev); nil checks nothing. AuthservID names us in the
	// Authentication-Results field (the hostname).
	Checks     *authcheck.Checker
	AuthservID string
	// Counts keeps the DMARC evaluations; may be nil.
	Counts CountRecorder
	// Sealer adds an ARC set to checked mail forwarded on (alias
	// forwards, Sieve redirects); nil forwards it unsealed.
	Sealer Sealer
}

// Pipeline is the delivery pipeline.
type Pipeline struct {
	dir    store.Directory
	ms     store.Mailstore
	parse  ParseFunc
	filter Filter
	queue  Waker
	log    *slog.Logger
	now    func() time.Time
	srs    []byte
	rec    LogRecorder

	// checks are Options.Checks until SetChecks replaces them.
	checks     atomic.Pointer[authcheck.Checker]
	spools     sync.Pool // of *bytes.Buffer, for the checks' spool
	authservID string
	counts     CountRecorder
	sealer     Sealer
}

// SetChecks replaces the inbound checks (a configuration reload); nil
// turns them off. A message being checked finishes with the checks it
// started with.
func (p *Pipeline) SetChecks(c *authcheck.Checker) { p.checks.Store(c) }

// New returns a pipeline.
func New(o Options) *Pipeline {
	p := &Pipeline{dir: o.Directory, ms: o.Mailstore, parse: o.Parse, filter: o.Filter, queue: o.Queue, log: o.Logger, now: o.Now, srs: o.SRSSecret, rec: o.Log,
		authservID: o.AuthservID, counts: o.Counts, sealer: o.Sealer}
	p.checks.Store(o.Checks)
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.filter == nil {
		p.filter = KeepFilter{}
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// SetQueue sets the Waker after construction: the queue and the pipeline
// need each other (bounces go through the pipeline).
func (p *Pipeline) SetQueue(q Waker) { p.queue = q }

// IsLocalDomain reports whether mail for domain is delivered here.
func (p *Pipeline) IsLocalDomain(ctx context.Context, domain string) (bool, error) {
	_, err := p.dir.Domain(ctx, strings.ToLower(domain))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Resolve returns where mail for addr goes (see resolveAddr).
func (p *Pipeline) Resolve(ctx context.Context, addr Address) (Resolution, error) {
	return resolveAddr(ctx, p.dir, p.log, addr)
}

// Owns tells whether the account may use addr as its sender: its own
// address, a +tag of it, or an alias that resolves to it.
func (p *Pipeline) Owns(ctx context.Context, acct store.Account, addr Address) (bool, error) {
	// Not through the catch-all: it receives unknown addresses, it does
	// not make them its owner's to send as.
	res, err := resolveWith(ctx, p.dir, p.log, addr, false)
	if errors.Is(err, ErrNotLocal) || errors.Is(err, ErrUnknownUser) || errors.Is(err, ErrAliasLoop) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, a := range res.Accounts {
		if a.ID == acct.ID {
			return true, nil
		}
	}
	return false, nil
}

// Begin starts a transaction: one message for a set of recipients.
func (p *Pipeline) Begin(env Envelope) *Transaction {
	return &Transaction{p: p, env: env, seen: map[int64]bool{}}
}

// RcptOptions are what a recipient comes with.
type RcptOptions struct {
	// Notify and ORcpt are the DSN parameters of RFC 3461 §4.1 and §4.2.
	Notify, ORcpt string
	// DeclaredSize is the SIZE the client announced (RFC 1870), 0 if none:
	// a recipient whose quota cannot take it is refused at once.
	DeclaredSize int64
}

// Recipient errors, matched with errors.Is; AddRecipient wraps them.
var (
	// ErrRelayDenied: a remote recipient from a source that may not relay.
	ErrRelayDenied = errors.New("relay denied")
	// ErrBadAddress: the address does not parse.
	ErrBadAddress = errors.New("bad address")
	// ErrOverQuota: a local account cannot take the message.
	ErrOverQuota = errors.New("mailbox full")
)

// Transaction is one message on its way: recipients are added, then the
// body is delivered once to all of them.
type Transaction struct {
	p      *Pipeline
	env    Envelope
	local  []localRcpt
	remote []remoteRcpt
	seen   map[int64]bool
	rcpts  int
	// junk: the verdicts quarantine the message (to Junk, not INBOX);
	// authSummary is their results for the delivery log.
	junk        bool
	authSummary string
	verdict     *authcheck.Verdict
}

type localRcpt struct {
	account store.Account
	// address is the recipient as given (for the filter and the logs).
	address string
}

type remoteRcpt struct {
	addr, notify, orcpt string
	// viaAlias: reached through an alias (a forward), not given directly.
	viaAlias bool
	// via is the domain of the alias that forwards here: the copy goes
	// out from an SRS address of it.
	via string
}

// Envelope returns the transaction's envelope.
func (t *Transaction) Envelope() Envelope { return t.env }

// Recipients is the number of recipients accepted so far.
func (t *Transaction) Recipients() int { return t.rcpts }

// AddRecipient resolves rcpt and adds where it leads. Errors: ErrBadAddress
// or ErrRouting (syntax), ErrRelayDenied, ErrUnknownUser, ErrAliasLoop,
// ErrOverQuota; anything else is a temporary local failure.
func (t *Transaction) AddRecipient(ctx context.Context, rcpt string, o RcptOptions) error {
	err := t.addRecipient(ctx, rcpt, o)
	if err != nil && refused(err) {
		t.recordRefusal(rcpt, err)
	}
	return err
}

func (t *Transaction) addRecipient(ctx context.Context, rcpt string, o RcptOptions) error {
	a, err := ParseAddress(rcpt)
	switch {
	case errors.Is(err, ErrRouting):
		return fmt.Errorf("%w: %w", ErrRelayDenied, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrBadAddress, err)
	}
	if orig, ok, err := t.p.srsReverse(ctx, a); ok {
		// A bounce for mail a filter redirected: back to its sender.
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnknownUser, err)
		}
		t.addRemote(remoteRcpt{addr: orig, notify: o.Notify, orcpt: o.ORcpt, viaAlias: true})
		t.rcpts++
		return nil
	}
	res, err := t.p.Resolve(ctx, a)
	switch {
	case errors.Is(err, ErrNotLocal):
		if !t.env.Source.mayRelay() {
			return ErrRelayDenied
		}
		t.addRemote(remoteRcpt{addr: a.String(), notify: o.Notify, orcpt: o.ORcpt})
		t.rcpts++
		return nil
	case err != nil:
		return err
	}
	for _, acct := range res.Accounts {
		if overQuota(acct, o.DeclaredSize) {
			return fmt.Errorf("%w: %s", ErrOverQuota, acct.Address)
		}
	}
	for _, acct := range res.Accounts {
		if !t.seen[acct.ID] {
			t.seen[acct.ID] = true
			t.local = append(t.local, localRcpt{account: acct, address: a.String()})
		}
	}
	for _, fwd := range res.Remote {
		t.addRemote(remoteRcpt{addr: fwd, notify: o.Notify, viaAlias: true, via: a.Domain})
	}
	t.rcpts++
	return nil
}

func (t *Transaction) addRemote(r remoteRcpt) {
	for _, have := range t.remote {
		if strings.EqualFold(have.addr, r.addr) {
			return
		}
	}
	t.remote = append(t.remote, r)
}

// overQuota reports whether a message of size bytes would not fit.
func overQuota(a store.Account, size int64) bool {
	if a.QuotaBytes > 0 && (a.UsedBytes+size > a.QuotaBytes || a.UsedBytes >= a.QuotaBytes) {
		return true
	}
	return a.QuotaMessages > 0 && a.UsedMessages >= a.QuotaMessages
}

// srsForward rewrites sender for a copy forwarded from domain (an alias's
// or a redirecting account's). The null sender and senders of our own
// domains stay: SPF passes for those already.
func (p *Pipeline) srsForward(ctx context.Context, sender, domain string) string {
	at := strings.LastIndexByte(sender, '@')
	if p.srs == nil || sender == "" || at < 0 {
		return sender
	}
	if local, err := p.IsLocalDomain(ctx, sender[at+1:]); err != nil || local {
		return sender
	}
	r := srs.New(p.srs, domain)
	r.SetClock(p.now)
	return r.Forward(sender)
}

// srsReverse recognises a rewritten address of a local domain: ok is
// false for any other address; err tells why a rewritten one is refused.
func (p *Pipeline) srsReverse(ctx context.Context, a Address) (orig string, ok bool, err error) {
	if p.srs == nil || len(a.Local) < 5 || !strings.EqualFold(a.Local[:3], "SRS") {
		return "", false, nil
	}
	local, err := p.IsLocalDomain(ctx, a.Domain)
	if err != nil || !local {
		return "", false, nil
	}
	r := srs.New(p.srs, a.Domain)
	r.SetClock(p.now)
	orig, err = r.Reverse(a.String())
	if errors.Is(err, srs.ErrNotSRS) {
		return "", false, nil
	}
	return orig, true, err
}
