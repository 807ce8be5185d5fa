// Package deliver is the MDA: it resolves recipient addresses through
// aliases, subaddresses and catch-alls to local accounts, and writes a message
// durably into their mailboxes, stored once however many recipients it has.
package deliver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"postern/internal/store"
)

// Resolution errors.
var (
	// ErrNotLocal: the domain is not served here.
	ErrNotLocal = errors.New("domain not local")
	// ErrUnknownUser: the domain is local but nobody receives this address.
	ErrUnknownUser = errors.New("unknown user")
	// ErrAliasLoop: alias expansion went too deep.
	ErrAliasLoop = errors.New("alias loop")
)

const maxAliasDepth = 10

// BlobStore is where bodies are written before the database references them.
type BlobStore interface {
	Create() (BlobWriter, error)
	Remove(key string) error
}

// BlobWriter receives one body; Commit makes it durable.
type BlobWriter interface {
	io.Writer
	Commit() (key string, size int64, err error)
	Abort()
	// Inline returns the body when it is small enough to be stored in the
	// database rather than as a file (nil otherwise); valid after Commit.
	Inline() []byte
}

// ParseFunc turns a raw message into what the store keeps for IMAP.
// It reads r to its end.
type ParseFunc func(r io.Reader) (store.MessageMeta, error)

// Deliverer is the local delivery agent.
type Deliverer struct {
	dir    store.Directory
	ms     store.Mailstore
	blobs  BlobStore
	parse  ParseFunc
	logger *slog.Logger
}

// New returns a Deliverer.
func New(dir store.Directory, ms store.Mailstore, blobs BlobStore, parse ParseFunc, logger *slog.Logger) *Deliverer {
	return &Deliverer{dir: dir, ms: ms, blobs: blobs, parse: parse, logger: logger}
}

// IsLocalDomain reports whether mail for domain is delivered here.
func (d *Deliverer) IsLocalDomain(ctx context.Context, domain string) (bool, error) {
	_, err := d.dir.Domain(ctx, strings.ToLower(domain))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Resolution is where mail for one address goes: local accounts (without
// duplicates) and remote addresses that aliases forward to.
type Resolution struct {
	Accounts []store.Account
	Remote   []string
}

// Resolve returns where mail for addr goes. Order: an alias of that exact
// address, an account, the same two for the address without its
// +subaddress, then the domain's catch-all. Aliases expand recursively;
// destinations outside the local domains are returned in Remote, for the
// outbound queue.
func (d *Deliverer) Resolve(ctx context.Context, addr Address) (Resolution, error) {
	if addr.IsLiteral() {
		return Resolution{}, ErrNotLocal
	}
	dom, err := d.dir.Domain(ctx, addr.Domain)
	if errors.Is(err, store.ErrNotFound) {
		return Resolution{}, ErrNotLocal
	}
	if err != nil {
		return Resolution{}, err
	}
	r := &resolver{d: d, seenAcct: map[int64]bool{}, seenRemote: map[string]bool{}}
	candidates := []string{strings.ToLower(addr.String())}
	if base, _, ok := strings.Cut(strings.ToLower(addr.Local), "+"); ok && base != "" {
		candidates = append(candidates, base+"@"+addr.Domain)
	}
	if dom.CatchAll != "" {
		candidates = append(candidates, dom.CatchAll)
	}
	for _, c := range candidates {
		found, err := r.expand(ctx, c, 0)
		if err != nil {
			return Resolution{}, err
		}
		if found {
			if len(r.res.Accounts) == 0 && len(r.res.Remote) == 0 {
				break // an alias whose every destination is gone
			}
			return r.res, nil
		}
	}
	return Resolution{}, ErrUnknownUser
}

// resolver accumulates one Resolve's result.
type resolver struct {
	d          *Deliverer
	res        Resolution
	seenAcct   map[int64]bool
	seenRemote map[string]bool
}

// expand adds what is behind address; found is false when the address is
// neither an alias nor an account.
func (r *resolver) expand(ctx context.Context, address string, depth int) (bool, error) {
	if depth > maxAliasDepth {
		return false, ErrAliasLoop
	}
	al, err := r.d.dir.Alias(ctx, address)
	if err == nil {
		for _, dest := range al.Destinations {
			ok, err := r.expandDestination(ctx, dest, depth)
			if err != nil {
				return false, err
			}
			if !ok {
				r.d.logger.Warn("alias destination does not exist", "alias", address, "destination", dest)
			}
		}
		return true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	acct, err := r.d.dir.Account(ctx, address)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !r.seenAcct[acct.ID] {
		r.seenAcct[acct.ID] = true
		r.res.Accounts = append(r.res.Accounts, acct)
	}
	return true, nil
}

func (r *resolver) expandDestination(ctx context.Context, dest string, depth int) (bool, error) {
	a, err := ParseAddress(dest)
	if err != nil || a.IsLiteral() {
		return false, nil
	}
	local, err := r.d.IsLocalDomain(ctx, a.Domain)
	if err != nil {
		return false, err
	}
	if !local {
		if key := strings.ToLower(a.String()); !r.seenRemote[key] {
			r.seenRemote[key] = true
			r.res.Remote = append(r.res.Remote, a.String())
		}
		return true, nil
	}
	ok, err := r.expand(ctx, strings.ToLower(a.String()), depth+1)
	if err != nil || ok {
		return ok, err
	}
	// A destination may itself be a subaddress of an account.
	if base, _, cut := strings.Cut(strings.ToLower(a.Local), "+"); cut && base != "" {
		return r.expand(ctx, base+"@"+a.Domain, depth+1)
	}
	return false, nil
}

// Message is one message to deliver to local accounts.
type Message struct {
	// ID is the transaction id that appears in the Received header and logs.
	ID       string
	From     string
	Accounts []store.Account
	// Body is the complete message, headers included, with CRLF line ends.
	Body         io.Reader
	InternalDate time.Time
}

// Result says where the message went.
type Result struct {
	BlobKey   string
	Size      int64
	Delivered []store.Account
	OverQuota []store.Account
}

// ErrAllOverQuota: no recipient had room, nothing was stored.
var ErrAllOverQuota = errors.New("every recipient is over quota")

// Deliver writes the body to the blob store, parses it once, and stores it
// into each account's INBOX in one (group-committed) transaction. It returns
// only after the body and the database rows are durable. A recipient that is
// over quota still receives the message when others succeed: it has already
// been accepted for them all, and a partial refusal would lose it for that one.
func (d *Deliverer) Deliver(ctx context.Context, m Message) (Result, error) {
	w, err := d.blobs.Create()
	if err != nil {
		return Result{}, err
	}
	meta, err := d.parse(io.TeeReader(m.Body, w))
	if err == nil {
		_, err = io.Copy(w, m.Body) // whatever the parser left unread
	}
	if err != nil {
		w.Abort()
		return Result{}, err
	}
	key, size, err := w.Commit()
	if err != nil {
		return Result{}, err
	}
	res := Result{BlobKey: key, Size: size}
	blob := store.NewBlob{Key: key, Size: size, Inline: w.Inline(), Meta: meta}
	targets := make([]store.DeliveryTarget, len(m.Accounts))
	for i, a := range m.Accounts {
		targets[i] = store.DeliveryTarget{AccountID: a.ID}
	}
	results, err := d.ms.Deliver(ctx, blob, m.InternalDate, targets)
	if err != nil {
		return res, err
	}
	var retry []store.DeliveryTarget
	for i, r := range results {
		switch {
		case r.Err == nil:
			res.Delivered = append(res.Delivered, m.Accounts[i])
		case errors.Is(r.Err, store.ErrOverQuota):
			res.OverQuota = append(res.OverQuota, m.Accounts[i])
			retry = append(retry, store.DeliveryTarget{AccountID: m.Accounts[i].ID, IgnoreQuota: true})
		default:
			return res, r.Err
		}
	}
	if len(res.Delivered) == 0 {
		// Nothing references the body: do not leave it for the sweeper.
		if err := d.blobs.Remove(key); err != nil {
			d.logger.Warn("removing unreferenced blob", "blob", key, "err", err)
		}
		return res, ErrAllOverQuota
	}
	if len(retry) > 0 {
		if _, err := d.ms.Deliver(ctx, blob, m.InternalDate, retry); err != nil {
			return res, err
		}
		res.Delivered = append(res.Delivered, res.OverQuota...)
	}
	return res, nil
}
