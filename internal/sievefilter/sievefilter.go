// Package sievefilter is the filter step of the delivery pipeline
// (deliver.Filter) made of Sieve scripts: for each local recipient it runs
// the administrator's "before" script, the account's active script and the
// administrator's "after" script (internal/sieve), and turns what they
// decided into the pipeline's terms: mailboxes with flags, redirects, a
// reject, an edited copy, and what to do once the copies are stored
// (vacation replies, duplicate ids to remember). The account's vacation
// response (store.Vacation, set over JMAP or the CLI) is acted on as a
// vacation action after the scripts: see vacation.go.
//
// A script that fails at run time (a limit, actions that cannot be
// combined) makes Filter return an error: the pipeline keeps the message in
// INBOX and logs why (RFC 5228 §2.10.6).
package sievefilter

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"postern/internal/deliver"
	"postern/internal/sieve"
	"postern/internal/store"
)

// Store is what the filter reads and records.
type Store interface {
	store.SieveStore
	Mailbox(ctx context.Context, accountID int64, name string) (store.Mailbox, error)
}

// Options build a Filter.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// Sieve limits every script; Include is set by the filter.
	Sieve sieve.Options
	// Hostname names the server in the Message-IDs of replies.
	Hostname string
	// Location is the zone of date tests; nil is the machine's.
	Location *time.Location
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Filter runs Sieve scripts at delivery.
type Filter struct {
	o     Options
	log   *slog.Logger
	mu    sync.Mutex
	cache map[string]*sieve.Script // compiled scripts by hash of their source
	// bySource finds the compiled script of source bytes seen before.
	bySource map[*byte]sourceScript
	// globals holds the global scripts as read at globalsAt: they are
	// the same for every delivery, so they are read once a second.
	globals   [2]globalScript
	globalsAt time.Time
	// active holds accounts' active scripts and vacation responses as
	// read at their time: a delivery burst to one account reads them once
	// a second.
	active map[int64]accountSettings
	readAt map[int64]time.Time
}

type sourceScript struct {
	accountID int64
	n         int
	script    *sieve.Script
}

type globalScript struct {
	sc  store.SieveScript
	err error
}

// accountSettings is what an account has set for its deliveries.
type accountSettings struct {
	globalScript
	vacation store.Vacation
}

// globalsTTL is how long a change to a script made by another process
// (the CLI) may take to apply; changes made in this process through
// Forget apply at once.
const globalsTTL = time.Second

// Forget drops what the filter remembers of the account's active script
// (every account's for 0): call it after changing scripts.
func (f *Filter) Forget(accountID int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if accountID == 0 {
		f.globalsAt = time.Time{}
		f.active, f.readAt = nil, nil
		return
	}
	delete(f.active, accountID)
	delete(f.readAt, accountID)
}

// settings returns the account's active script (its error ErrNotFound
// when none is active) and vacation response, read again when the copy is
// older than globalsTTL.
func (f *Filter) settings(ctx context.Context, accountID int64) (accountSettings, error) {
	now := time.Now()
	f.mu.Lock()
	if at, ok := f.readAt[accountID]; ok && now.Sub(at) < globalsTTL {
		a := f.active[accountID]
		f.mu.Unlock()
		return a, nil
	}
	f.mu.Unlock()
	var a accountSettings
	a.sc, a.err = f.o.Store.ActiveSieveScript(ctx, accountID)
	if a.err != nil && !errors.Is(a.err, store.ErrNotFound) {
		return a, a.err
	}
	var err error
	if a.vacation, err = f.o.Store.Vacation(ctx, accountID); err != nil {
		return a, err
	}
	f.mu.Lock()
	if f.active == nil || len(f.active) >= maxCached {
		f.active, f.readAt = map[int64]accountSettings{}, map[int64]time.Time{}
	}
	f.active[accountID], f.readAt[accountID] = a, now
	f.mu.Unlock()
	return a, nil
}

// maxCached bounds the compiled scripts kept; past it the cache restarts.
const maxCached = 4096

// New returns a Filter.
func New(o Options) *Filter {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	return &Filter{o: o, log: o.Logger, cache: map[string]*sieve.Script{}}
}

var _ deliver.Filter = (*Filter)(nil)

// Compile compiles src as a script of account accountID (0 for a global
// one), loading what it includes from the store: the check made when a
// script is uploaded.
func (f *Filter) Compile(ctx context.Context, accountID int64, src []byte) (*sieve.Script, error) {
	return Compile(ctx, f.o.Store, f.o.Sieve, accountID, src)
}

// Compile compiles src with opts as a script of account accountID (0 for
// a global one): include :personal loads the account's scripts from st,
// include :global the administrator's.
func Compile(ctx context.Context, st store.SieveStore, opts sieve.Options, accountID int64, src []byte) (*sieve.Script, error) {
	opts.Include = func(name string, global bool) ([]byte, error) {
		var sc store.SieveScript
		var err error
		if global || accountID == 0 {
			sc, err = st.GlobalSieveScript(ctx, name)
		} else {
			sc, err = st.SieveScript(ctx, accountID, name)
		}
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return nil, sieve.ErrScriptNotFound
		}
		return sc.Source, err
	}
	return sieve.Compile(src, opts)
}

// compiled returns the compiled script for src, from the cache unless it
// includes others (they may change on their own).
func (f *Filter) compiled(ctx context.Context, accountID int64, src []byte) (*sieve.Script, error) {
	if len(src) > 0 {
		// The scripts read once a second come back as the same bytes:
		// no hash for them. The key keeps those bytes alive, so the
		// address is never reused for another script.
		f.mu.Lock()
		s, ok := f.bySource[&src[0]]
		f.mu.Unlock()
		if ok && s.accountID == accountID && s.n == len(src) {
			return s.script, nil
		}
	}
	sum := sha256.Sum256(src)
	key := fmt.Sprintf("%d:%x", accountID, sum[:16])
	f.mu.Lock()
	s := f.cache[key]
	f.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := f.Compile(ctx, accountID, src)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(src, []byte("include")) {
		f.mu.Lock()
		if len(f.cache) >= maxCached {
			f.cache = map[string]*sieve.Script{}
			f.bySource = nil
		}
		f.cache[key] = s
		if len(src) > 0 {
			if f.bySource == nil {
				f.bySource = map[*byte]sourceScript{}
			}
			f.bySource[&src[0]] = sourceScript{accountID: accountID, n: len(src), script: s}
		}
		f.mu.Unlock()
	}
	return s, nil
}

// scripts returns the scripts that run for acct, in order, from its
// settings.
func (f *Filter) scripts(ctx context.Context, acct store.Account, set accountSettings) ([]*sieve.Script, []string, error) {
	var out []*sieve.Script
	var names []string
	add := func(accountID int64, sc store.SieveScript, err error, name string) error {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		s, err := f.compiled(ctx, accountID, sc.Source)
		if err != nil {
			return fmt.Errorf("script %s: %w", name, err)
		}
		out = append(out, s)
		names = append(names, name)
		return nil
	}
	globals := f.globalScripts(ctx)
	if err := add(0, globals[0].sc, globals[0].err, "global before"); err != nil {
		return nil, nil, err
	}
	if err := add(acct.ID, set.sc, set.err, fmt.Sprintf("%q", set.sc.Name)); err != nil {
		return nil, nil, err
	}
	if err := add(0, globals[1].sc, globals[1].err, "global after"); err != nil {
		return nil, nil, err
	}
	return out, names, nil
}

// globalScripts returns the global before and after scripts, read again
// when the copy is older than globalsTTL.
func (f *Filter) globalScripts(ctx context.Context) [2]globalScript {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.globalsAt.IsZero() && now.Sub(f.globalsAt) < globalsTTL {
		return f.globals
	}
	var g [2]globalScript
	for i, name := range []string{store.SieveGlobalBefore, store.SieveGlobalAfter} {
		g[i].sc, g[i].err = f.o.Store.GlobalSieveScript(ctx, name)
		if g[i].err != nil && !errors.Is(g[i].err, store.ErrNotFound) {
			return g // a failure is not kept
		}
	}
	f.globals, f.globalsAt = g, now
	return g
}

// Filter implements deliver.Filter.
func (f *Filter) Filter(ctx context.Context, in deliver.FilterInput) (deliver.FilterResult, error) {
	set, err := f.settings(ctx, in.Account.ID)
	if err != nil {
		return deliver.FilterResult{}, err
	}
	scripts, names, err := f.scripts(ctx, in.Account, set)
	now := f.o.Now()
	responder := VacationAction(set.vacation, now)
	if err != nil || len(scripts) == 0 && responder == nil {
		return deliver.FilterResult{}, err
	}
	env := sieve.Env{
		Envelope: sieve.Envelope{From: in.Envelope.Sender, To: in.Recipient},
		Message:  in.Message.Body,
		Now:      now,
		Location: f.o.Location,
		MailboxExists: func(name string) bool {
			_, err := f.o.Store.Mailbox(ctx, in.Account.ID, name)
			return err == nil
		},
		Duplicate: func(handle, id string) bool {
			seen, err := f.o.Store.SieveTracked(ctx, in.Account.ID, duplicateKey(handle, id), now)
			return err == nil && seen
		},
		UserAddresses: userAddresses(in),
	}
	if in.Envelope.Account != nil {
		env.Envelope.Auth = in.Envelope.Account.Address
	}
	var results []*sieve.Result
	for i, s := range scripts {
		r, err := s.Run(ctx, env)
		if err != nil {
			return deliver.FilterResult{}, fmt.Errorf("script %s: %w", names[i], err)
		}
		results = append(results, r)
	}
	return f.combine(ctx, in, env, results, responder)
}

// userAddresses are the addresses vacation treats as the user's own.
func userAddresses(in deliver.FilterInput) []string {
	addrs := []string{in.Account.Address}
	if in.Recipient != "" && !strings.EqualFold(in.Recipient, in.Account.Address) {
		addrs = append(addrs, in.Recipient)
	}
	return addrs
}

func duplicateKey(handle, id string) string { return "dup:" + handle + "\x00" + id }

func vacationKey(handle, sender string) string {
	return "vacation:" + handle + "\x00" + strings.ToLower(sender)
}

// combine merges the results of the scripts that ran into one decision.
// The implicit keep stays only if no script cancelled it; keeps, redirects,
// header edits and records add up; a reject wins over everything. The
// account's vacation response, when in effect, is the vacation of a
// message no script replied to and that is kept somewhere: a message the
// scripts throw away (spam, mostly) gets no reply.
func (f *Filter) combine(ctx context.Context, in deliver.FilterInput, env sieve.Env, results []*sieve.Result, responder *sieve.Vacation) (deliver.FilterResult, error) {
	var fr deliver.FilterResult
	implicit := true
	var implicitFlags []string
	var vacation *sieve.Vacation
	var edits []sieve.HeaderEdit
	var marks []sieve.DuplicateMark
	seenBox := map[string]int{}
	addKeep := func(box string, flags []string, create bool) {
		if strings.EqualFold(box, "INBOX") {
			box = ""
		}
		sf, kw := splitFlags(flags)
		if i, ok := seenBox[box]; ok {
			fr.Keep[i].Flags |= sf
			fr.Keep[i].Keywords = mergeKeywords(fr.Keep[i].Keywords, kw)
			fr.Keep[i].Create = fr.Keep[i].Create || create
			return
		}
		seenBox[box] = len(fr.Keep)
		fr.Keep = append(fr.Keep, deliver.Keep{Mailbox: box, Flags: sf, Keywords: kw, Create: create})
	}
	for _, r := range results {
		if r.Reject != nil {
			reason := r.Reject.Reason
			if reason == "" {
				reason = "Message rejected"
			}
			return deliver.FilterResult{Reject: reason}, nil
		}
		implicit = implicit && r.ImplicitKeep
		implicitFlags = r.ImplicitKeepFlags
		for _, k := range r.Keeps {
			addKeep(k.Mailbox, k.Flags, k.Create)
		}
		for _, rd := range r.Redirects {
			fr.Redirect = append(fr.Redirect, rd.Address)
		}
		if r.Vacation != nil {
			vacation = r.Vacation
		}
		edits = append(edits, r.HeaderEdits...)
		marks = append(marks, r.DuplicateMarks...)
	}
	if implicit {
		addKeep("INBOX", implicitFlags, false)
	}
	fr.Discard = len(fr.Keep) == 0
	if vacation == nil && !fr.Discard {
		vacation = responder
	}
	if len(edits) > 0 {
		body, err := editedBody(in.Message.Body, edits)
		if err != nil {
			return deliver.FilterResult{}, err
		}
		fr.Body = body
	}
	var reply func(context.Context) []deliver.Outgoing
	if vacation != nil {
		if why := sieve.VacationSkipReason(env, vacation); why != "" {
			f.log.Info("vacation not sent", "account", in.Account.Address, "to", in.Envelope.Sender, "reason", why)
		} else {
			reply = f.vacationReply(in, env, vacation)
		}
	}
	if reply != nil || len(marks) > 0 {
		acct := in.Account.ID
		now := env.Now
		fr.After = func(ctx context.Context) []deliver.Outgoing {
			for _, m := range marks {
				if _, err := f.o.Store.TrackSieve(ctx, acct, duplicateKey(m.Handle, m.ID), now, now.Add(m.Period), m.Last); err != nil {
					f.log.Warn("duplicate id not recorded", "account", in.Account.Address, "err", err)
				}
			}
			if reply == nil {
				return nil
			}
			return reply(ctx)
		}
	}
	return fr, nil
}

// vacationReply returns the After step that sends one reply per sender
// and period (RFC 5230 §4.2), recorded before it is sent.
func (f *Filter) vacationReply(in deliver.FilterInput, env sieve.Env, v *sieve.Vacation) func(context.Context) []deliver.Outgoing {
	return func(ctx context.Context) []deliver.Outgoing {
		key := vacationKey(v.Handle, in.Envelope.Sender)
		seen, err := f.o.Store.TrackSieve(ctx, in.Account.ID, key, env.Now, env.Now.Add(v.Period), false)
		if err != nil {
			f.log.Warn("vacation not sent", "account", in.Account.Address, "to", in.Envelope.Sender, "err", err)
			return nil
		}
		if seen {
			f.log.Info("vacation not sent", "account", in.Account.Address, "to", in.Envelope.Sender, "reason", "already replied within the period")
			return nil
		}
		body, err := sieve.BuildVacationReply(sieve.VacationReply{Vacation: v, Envelope: env.Envelope, Original: in.Message.Body,
			MessageID: "<" + randomID() + ".vacation@" + f.hostname(in.Account.Address) + ">", Date: env.Now})
		if err != nil {
			f.log.Warn("vacation not sent", "account", in.Account.Address, "to", in.Envelope.Sender, "err", err)
			return nil
		}
		return []deliver.Outgoing{{Source: deliver.SourceVacation, Recipient: in.Envelope.Sender, Account: in.Account, Body: body}}
	}
}

func (f *Filter) hostname(account string) string {
	if f.o.Hostname != "" {
		return f.o.Hostname
	}
	return account[strings.LastIndexByte(account, '@')+1:]
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// editedBody applies the header edits to the message, without the
// Return-Path line the pipeline adds again.
func editedBody(body store.Body, edits []sieve.HeaderEdit) ([]byte, error) {
	rc, err := body.Open()
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(raw, []byte("Return-Path:")) {
		if i := bytes.Index(raw, []byte("\r\n")); i >= 0 {
			raw = raw[i+2:]
		}
	}
	return sieve.ApplyHeaderEdits(raw, edits)
}

// splitFlags turns IMAP flag names into the store's system flags and
// keywords (RFC 5232 flags are IMAP flags).
func splitFlags(flags []string) (store.Flags, []string) {
	var sf store.Flags
	var kw []string
	for _, fl := range flags {
		switch strings.ToLower(fl) {
		case `\seen`:
			sf |= store.FlagSeen
		case `\answered`:
			sf |= store.FlagAnswered
		case `\flagged`:
			sf |= store.FlagFlagged
		case `\deleted`:
			sf |= store.FlagDeleted
		case `\draft`:
			sf |= store.FlagDraft
		default:
			if fl != "" && !strings.HasPrefix(fl, `\`) {
				kw = append(kw, fl)
			}
		}
	}
	return sf, kw
}

func mergeKeywords(a, b []string) []string {
	for _, k := range b {
		found := false
		for _, have := range a {
			if strings.EqualFold(have, k) {
				found = true
				break
			}
		}
		if !found {
			a = append(a, k)
		}
	}
	return a
}
