package jmapsubmit

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"postern/internal/deliver"
	"postern/internal/jmap"
	"postern/internal/store"
)

// Capability is the JMAP submission capability (RFC 8621 §1.3.2).
const Capability = "urn:ietf:params:jmap:submission"

// mailCapability is the capability of Email/set, which onSuccessUpdateEmail
// and onSuccessDestroyEmail invoke.
const mailCapability = "urn:ietf:params:jmap:mail"

// Signer returns the DKIM-Signature fields for a message from domain
// (nothing when the domain has no keys); *dkim.Signer is one, the same
// the submission port signs with.
type Signer interface {
	Sign(ctx context.Context, domain string, msg []byte) ([]byte, error)
}

// Options configure the submission capability.
type Options struct {
	// Pipeline sends the messages and decides which addresses an account
	// may send as: the one pipeline of SMTP submission.
	Pipeline *deliver.Pipeline
	// Signer DKIM-signs what is sent; nil signs nothing.
	Signer Signer
	// Hostname names this server in the Received and Message-ID fields it
	// adds.
	Hostname string
	// MaxMessageBytes and MaxRecipients are the submission port's limits
	// ([smtp] max_message_bytes, max_recipients); 0 means none.
	MaxMessageBytes int64
	MaxRecipients   int
	// Extensions are the SMTP extensions submission advertises that give
	// MAIL and RCPT parameters (smtpd.Server.EnvelopeExtensions), EHLO
	// keyword to arguments: the capability's submissionExtensions, and
	// the envelope parameters a client may use.
	Extensions map[string][]string
	// KeepFor is how long EmailSubmission records are kept; default 7
	// days.
	KeepFor time.Duration
	Logger  *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// accountCapability is the capability's value in accountCapabilities.
type accountCapability struct {
	MaxDelayedSend       int                 `json:"maxDelayedSend"`
	SubmissionExtensions map[string][]string `json:"submissionExtensions"`
}

type handler struct {
	st   store.Store
	opts Options
	log  *slog.Logger
	// setMu serialises the /set methods per account in this process, so
	// that ifInState and the checks of one call see no other call's
	// half-done changes.
	setMu sync.Map // store account id -> *sync.Mutex
}

// Register adds the submission capability, Identity/* and
// EmailSubmission/* to srv.
func Register(srv *jmap.Server, st store.Store, opts Options) {
	if opts.KeepFor <= 0 {
		opts.KeepFor = 7 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Extensions == nil {
		opts.Extensions = map[string][]string{}
	}
	h := &handler{st: st, opts: opts, log: opts.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	ac := accountCapability{MaxDelayedSend: 0, SubmissionExtensions: opts.Extensions}
	srv.AddCapability(jmap.Capability{
		URI:     Capability,
		Session: struct{}{},
		Account: func(context.Context, jmap.Principal) any { return ac },
	})
	srv.Handle("Identity/get", Capability, h.identityGet)
	srv.Handle("Identity/changes", Capability, h.identityChanges)
	srv.Handle("Identity/set", Capability, h.identitySet)
	srv.Handle("EmailSubmission/get", Capability, h.submissionGet)
	srv.Handle("EmailSubmission/changes", Capability, h.submissionChanges)
	srv.Handle("EmailSubmission/query", Capability, h.submissionQuery)
	srv.Handle("EmailSubmission/queryChanges", Capability, h.submissionQueryChanges)
	srv.Handle("EmailSubmission/set", Capability, h.submissionSet)
}

// account checks the call's accountId and returns the store account.
func (h *handler) account(ctx context.Context, c *jmap.Call, accountID string) (store.Account, error) {
	if err := c.CheckAccount(ctx, accountID); err != nil {
		return store.Account{}, err
	}
	id, ok := jmap.ParseAccountID(accountID)
	if !ok {
		return store.Account{}, jmap.NewError(jmap.AccountNotFound, "")
	}
	acct, err := h.st.AccountByID(ctx, id)
	if err != nil {
		return store.Account{}, storeErr(err)
	}
	return acct, nil
}

func (h *handler) lock(acct int64) func() {
	m, _ := h.setMu.LoadOrStore(acct, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// storeErr maps a store error of an account read: an account gone
// meanwhile is accountNotFound, anything else goes up as serverFail.
func storeErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return jmap.NewError(jmap.AccountNotFound, "")
	}
	return err
}

// Ids. Identities are "i<N>" and submissions "s<N>" with N the store id;
// emails "e<N>" and threads "t<N>" as package jmapmail makes them (the
// shared contract of the JMAP packages).
func formatID(prefix byte, id int64) string { return string(prefix) + strconv.FormatInt(id, 10) }

// parseID returns the number of an id made of prefix and a positive
// decimal without leading zeros, or false.
func parseID(s string, prefix byte) (int64, bool) {
	if len(s) < 2 || s[0] != prefix || s[1] == '0' || len(s) > 20 {
		return 0, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s[1:], 10, 64)
	return v, err == nil && v > 0
}

// resolveID turns "#creationId" into the id created for it earlier in the
// request (RFC 8620 §5.3); other ids come back as they are.
func resolveID(c *jmap.Call, id string) (string, bool) {
	if len(id) > 1 && id[0] == '#' {
		got, ok := c.CreatedIDs[id[1:]]
		return got, ok
	}
	return id, true
}

func formatState(v uint64) string { return strconv.FormatUint(v, 10) }

// parseState reads a state made by formatState.
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
