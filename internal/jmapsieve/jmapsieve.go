package jmapsieve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"postern/internal/admin"
	"postern/internal/jmap"
	"postern/internal/store"
)

// Capabilities this package adds.
const (
	CapabilityVacation = "urn:ietf:params:jmap:vacationresponse" // RFC 8621 §1.3.3
	CapabilitySieve    = "urn:ietf:params:jmap:sieve"            // RFC 9661 §2
	CapabilityQuota    = "urn:ietf:params:jmap:quota"            // RFC 9425 §3
)

// Store is what the methods read directly; every change goes through the
// admin service.
type Store interface {
	AccountByID(ctx context.Context, id int64) (store.Account, error)
	SieveScripts(ctx context.Context, accountID int64) ([]store.SieveScript, error)
}

// BlobReader opens a blob the account uploaded (RFC 8620 §6.1), for a
// script created or updated from it: jmap.Blobs satisfies it. It returns
// jmap.ErrBlobNotFound for a blob the account may not see.
type BlobReader interface {
	Download(ctx context.Context, accountID, blobID string) (rc io.ReadCloser, size int64, contentType string, err error)
}

// Options configure the three data types.
type Options struct {
	Admin *admin.Service
	Store Store
	// Uploads are the uploaded blobs; nil: a script's content can only
	// come from another script's blobId.
	Uploads BlobReader
	// Changed is called after a change of an account's scripts or vacation
	// response, so that the next delivery sees it at once
	// (sievefilter.Filter.Forget).
	Changed func(accountID int64)
	// SieveExtensions and MaxRedirects are advertised in the sieve
	// capability (sieve.Extensions(), the configured redirect limit).
	SieveExtensions []string
	MaxRedirects    int
	// Now is the clock; nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler holds what the methods share.
type Handler struct {
	o     Options
	setMu sync.Map // store account id -> *sync.Mutex
}

// New returns a Handler; Register plugs it into a jmap.Server, and Blobs
// serves script contents for that server's downloads.
func New(o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Changed == nil {
		o.Changed = func(int64) {}
	}
	return &Handler{o: o}
}

// Register adds the three capabilities and their methods to srv.
func (h *Handler) Register(srv *jmap.Server) {
	srv.AddCapability(jmap.Capability{URI: CapabilityVacation, Session: struct{}{}})
	srv.Handle("VacationResponse/get", CapabilityVacation, h.vacationGet)
	srv.Handle("VacationResponse/set", CapabilityVacation, h.vacationSet)

	srv.AddCapability(jmap.Capability{URI: CapabilityQuota, Session: struct{}{}})
	srv.Handle("Quota/get", CapabilityQuota, h.quotaGet)
	srv.Handle("Quota/changes", CapabilityQuota, h.quotaChanges)
	srv.Handle("Quota/query", CapabilityQuota, h.quotaQuery)
	srv.Handle("Quota/queryChanges", CapabilityQuota, h.quotaQueryChanges)

	srv.AddCapability(jmap.Capability{URI: CapabilitySieve, Session: struct{}{},
		Account: func(context.Context, jmap.Principal) any { return h.sieveCapability() }})
	srv.Handle("SieveScript/get", CapabilitySieve, h.scriptGet)
	srv.Handle("SieveScript/changes", CapabilitySieve, h.scriptChanges)
	srv.Handle("SieveScript/query", CapabilitySieve, h.scriptQuery)
	srv.Handle("SieveScript/queryChanges", CapabilitySieve, h.scriptQueryChanges)
	srv.Handle("SieveScript/set", CapabilitySieve, h.scriptSet)
	srv.Handle("SieveScript/validate", CapabilitySieve, h.scriptValidate)
}

// account checks the call's accountId and returns the store account.
func (h *Handler) account(ctx context.Context, c *jmap.Call, accountID string) (store.Account, error) {
	if err := c.CheckAccount(ctx, accountID); err != nil {
		return store.Account{}, err
	}
	id, ok := jmap.ParseAccountID(accountID)
	if !ok {
		return store.Account{}, jmap.NewError(jmap.AccountNotFound, "")
	}
	acct, err := h.o.Store.AccountByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return acct, jmap.NewError(jmap.AccountNotFound, "")
	}
	return acct, err
}

// asUser is the context of a change the account makes itself, for the
// admin service's audit log.
func asUser(ctx context.Context, acct store.Account) context.Context {
	return admin.WithActor(ctx, admin.Actor{Name: "jmap:" + acct.Address})
}

// lock serialises the /set methods of one account in this process, so
// ifInState and the checks of one request see no other's half-done
// changes.
func (h *Handler) lock(acct int64) func() {
	m, _ := h.setMu.LoadOrStore(acct, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// setError is a SetError of type t.
func setError(t jmap.ErrorType, description string) *jmap.Error {
	return jmap.NewError(t, description)
}

// adminSetError turns a refusal of the admin service into the SetError
// the client sees; props maps the admin's field names to properties.
// Anything that is not a refusal goes up as a method failure.
func adminSetError(err error, props map[string]string) (*jmap.Error, error) {
	var ae *admin.Error
	if !errors.As(err, &ae) {
		return nil, err
	}
	switch ae.Kind {
	case admin.KindNotFound:
		return setError(jmap.NotFound, ae.Msg), nil
	case admin.KindExists:
		return setError(jmap.AlreadyExists, ae.Msg), nil
	}
	if p, ok := props[ae.Field]; ok {
		return setError(jmap.InvalidProperties, ae.Msg).With("properties", []string{p}), nil
	}
	return setError(jmap.InvalidProperties, ae.Msg), nil
}
