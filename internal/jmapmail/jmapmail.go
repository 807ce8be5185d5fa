package jmapmail

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"postern/internal/jmap"
	"postern/internal/msgmeta"
	"postern/internal/store"
)

// Capability is the JMAP mail capability (RFC 8621 §1.3.1).
const Capability = "urn:ietf:params:jmap:mail"

// Options configure the mail capability. A zero field takes its default.
type Options struct {
	// MaxMailboxesPerEmail is advertised as maxMailboxesPerEmail. Default
	// 1: a store message lives in exactly one mailbox. Negative: null (no
	// limit).
	MaxMailboxesPerEmail int
	// MaxMailboxDepth bounds the levels of a mailbox tree; default 10.
	MaxMailboxDepth int
	// MaxSizeMailboxName bounds a JMAP name in octets of UTF-8; default
	// 255 (RFC 8621 asks at least 100). The store bounds a whole
	// hierarchical name to 512 octets as well.
	MaxSizeMailboxName int
	// MaxSizeAttachmentsPerEmail is advertised as is; default 50 MiB.
	MaxSizeAttachmentsPerEmail int64
	// EmailQuerySortOptions are the Email/query sorts advertised; default
	// every sort Email/query supports (emailSortProperties).
	EmailQuerySortOptions []string
	// Parse is the delivery-time parser (app.ParseMessage), so that what
	// Email/set and Email/import store is indexed and threaded as IMAP
	// APPEND's is; nil: msgmeta.Parse.
	Parse  func(io.Reader) (store.MessageMeta, error)
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxMailboxesPerEmail == 0 {
		o.MaxMailboxesPerEmail = 1
	}
	if o.MaxMailboxDepth <= 0 {
		o.MaxMailboxDepth = 10
	}
	if o.MaxSizeMailboxName <= 0 {
		o.MaxSizeMailboxName = 255
	}
	if o.MaxSizeAttachmentsPerEmail <= 0 {
		o.MaxSizeAttachmentsPerEmail = 50 << 20
	}
	if o.EmailQuerySortOptions == nil {
		o.EmailQuerySortOptions = emailSortProperties
	}
	if o.Parse == nil {
		o.Parse = msgmeta.Parse
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// accountCapability is the capability's value in an account's
// accountCapabilities (RFC 8621 §1.3.1); its session value is {}.
type accountCapability struct {
	MaxMailboxesPerEmail       *int     `json:"maxMailboxesPerEmail"`
	MaxMailboxDepth            int      `json:"maxMailboxDepth"`
	MaxSizeMailboxName         int      `json:"maxSizeMailboxName"`
	MaxSizeAttachmentsPerEmail int64    `json:"maxSizeAttachmentsPerEmail"`
	EmailQuerySortOptions      []string `json:"emailQuerySortOptions"`
	MayCreateTopLevelMailbox   bool     `json:"mayCreateTopLevelMailbox"`
}

// handler holds what the methods share.
type handler struct {
	st   store.Store
	opts Options
	// setMu serialises Mailbox/set per account in this process, so that
	// ifInState and the checks of one request see no other request's
	// half-done changes.
	setMu sync.Map // store account id -> *sync.Mutex
	// totals remembers mailbox totals for Email/query's calculateTotal.
	totals listTotals
}

// Register adds the mail capability and the Mailbox methods to srv.
func Register(srv *jmap.Server, st store.Store, opts Options) {
	opts = opts.withDefaults()
	h := &handler{st: st, opts: opts}
	ac := accountCapability{
		MaxMailboxDepth:            opts.MaxMailboxDepth,
		MaxSizeMailboxName:         opts.MaxSizeMailboxName,
		MaxSizeAttachmentsPerEmail: opts.MaxSizeAttachmentsPerEmail,
		EmailQuerySortOptions:      opts.EmailQuerySortOptions,
		MayCreateTopLevelMailbox:   true,
	}
	if n := opts.MaxMailboxesPerEmail; n > 0 {
		ac.MaxMailboxesPerEmail = &n
	}
	srv.AddCapability(jmap.Capability{
		URI:     Capability,
		Session: struct{}{},
		Account: func(context.Context, jmap.Principal) any { return ac },
	})
	srv.Handle("Mailbox/get", Capability, h.get)
	srv.Handle("Mailbox/changes", Capability, h.changes)
	srv.Handle("Mailbox/query", Capability, h.query)
	srv.Handle("Mailbox/queryChanges", Capability, h.queryChanges)
	srv.Handle("Mailbox/set", Capability, h.set)
	h.registerMessages(srv)
}

// account checks the call's accountId and returns the store account id.
func account(ctx context.Context, c *jmap.Call, accountID string) (int64, error) {
	if err := c.CheckAccount(ctx, accountID); err != nil {
		return 0, err
	}
	id, ok := jmap.ParseAccountID(accountID)
	if !ok {
		return 0, jmap.NewError(jmap.AccountNotFound, "")
	}
	return id, nil
}

func (h *handler) lock(acct int64) func() {
	m, _ := h.setMu.LoadOrStore(acct, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// formatState is the state string of an account modseq.
func formatState(modseq uint64) string { return strconv.FormatUint(modseq, 10) }

// parseState reads a state string made by formatState: decimal digits
// without a sign or leading zeros.
func parseState(s string) (uint64, bool) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// storeErr maps a store error of an account read to the method error the
// client sees: an account gone meanwhile is accountNotFound, anything else
// goes up as serverFail.
func storeErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return jmap.NewError(jmap.AccountNotFound, "")
	}
	return err
}
