package deliver

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"postern/internal/store"
)

// Resolution errors.
var (
	// ErrNotLocal: the domain is not served here.
	ErrNotLocal = errors.New("domain not local")
	// ErrUnknownUser: the domain is local but nobody receives this address.
	ErrUnknownUser = errors.New("unknown user")
	// ErrAliasLoop: the address leads only into a loop of aliases (or
	// deeper than maxAliasDepth). Permanent: retrying cannot help.
	ErrAliasLoop = errors.New("alias loop")
)

// maxAliasDepth bounds alias chains: deeper is treated as a loop.
const maxAliasDepth = 10

// Resolution is where mail for one address goes: local accounts (without
// duplicates) and remote addresses that aliases forward to.
type Resolution struct {
	Accounts []store.Account
	Remote   []string
	// Loop is set when an alias led back into itself: the branch was cut.
	Loop bool
}

// resolveAddr returns where mail for addr goes. Order: an alias of that
// exact address, an account, the same two for the address without its
// +subaddress, then the domain's catch-all. Aliases expand recursively;
// destinations outside the local domains are returned in Remote. An alias
// that leads back to one already being expanded is a loop: that branch is
// cut (logged once), and the rest of the expansion still counts, so a loop
// that also reaches accounts delivers to them; a loop that reaches nothing
// is ErrAliasLoop.
func resolveAddr(ctx context.Context, dir store.Directory, log *slog.Logger, addr Address) (Resolution, error) {
	return resolveWith(ctx, dir, log, addr, true)
}

// resolveWith is resolveAddr; withCatchAll false leaves the domain's
// catch-all out (a sender owns only the addresses that name it).
func resolveWith(ctx context.Context, dir store.Directory, log *slog.Logger, addr Address, withCatchAll bool) (Resolution, error) {
	if addr.IsLiteral() {
		return Resolution{}, ErrNotLocal
	}
	dom, err := dir.Domain(ctx, addr.Domain)
	if errors.Is(err, store.ErrNotFound) {
		return Resolution{}, ErrNotLocal
	}
	if err != nil {
		return Resolution{}, err
	}
	r := &resolver{dir: dir, log: log, seenAcct: map[int64]bool{}, seenRemote: map[string]bool{}, path: map[string]bool{}}
	candidates := []string{strings.ToLower(addr.String())}
	base, _, _ := strings.Cut(strings.ToLower(addr.Local), "+")
	if base != "" && base != strings.ToLower(addr.Local) {
		candidates = append(candidates, base+"@"+addr.Domain)
	}
	// RFC 5321 §4.5.1: postmaster (and abuse, by custom) exist in every
	// domain: where the administrator said, else the oldest account.
	postmaster := ""
	if base == "postmaster" || base == "abuse" {
		var err error
		if postmaster, err = postmasterOf(ctx, dir, dom); err != nil {
			return Resolution{}, err
		}
		if postmaster != "" {
			candidates = append(candidates, postmaster)
		}
	}
	if dom.CatchAll != "" && withCatchAll {
		candidates = append(candidates, dom.CatchAll)
	}
	for _, c := range candidates {
		var found bool
		var err error
		if c == postmaster {
			found, err = r.expandDestination(ctx, c, 0) // it may be remote
		} else {
			found, err = r.expand(ctx, c, 0)
		}
		if err != nil {
			return Resolution{}, err
		}
		if !found {
			continue
		}
		if r.loopAt != "" {
			log.Warn("alias loop", "address", addr.String(), "alias", r.loopAt,
				"accounts", len(r.res.Accounts), "remote", len(r.res.Remote))
		}
		if len(r.res.Accounts) == 0 && len(r.res.Remote) == 0 {
			if r.loopAt != "" {
				return Resolution{}, ErrAliasLoop
			}
			break // an alias whose every destination is gone
		}
		r.res.Loop = r.loopAt != ""
		return r.res, nil
	}
	return Resolution{}, ErrUnknownUser
}

// resolver accumulates one resolution's result.
type resolver struct {
	dir        store.Directory
	log        *slog.Logger
	res        Resolution
	seenAcct   map[int64]bool
	seenRemote map[string]bool
	// path holds the aliases being expanded, to tell a loop from a
	// destination reached twice by two branches.
	path   map[string]bool
	loopAt string
}

// expand adds what is behind address; found is false when the address is
// neither an alias nor an account.
func (r *resolver) expand(ctx context.Context, address string, depth int) (bool, error) {
	if r.path[address] || depth > maxAliasDepth {
		if r.loopAt == "" {
			r.loopAt = address
		}
		return true, nil
	}
	al, err := r.dir.Alias(ctx, address)
	if err == nil {
		r.path[address] = true
		defer delete(r.path, address)
		for _, dest := range al.Destinations {
			ok, err := r.expandDestination(ctx, dest, depth)
			if err != nil {
				return false, err
			}
			if !ok {
				r.log.Warn("alias destination does not exist", "alias", address, "destination", dest)
			}
		}
		return true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	acct, err := r.dir.Account(ctx, address)
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
	_, err = r.dir.Domain(ctx, a.Domain)
	if errors.Is(err, store.ErrNotFound) {
		if key := strings.ToLower(a.String()); !r.seenRemote[key] {
			r.seenRemote[key] = true
			r.res.Remote = append(r.res.Remote, a.String())
		}
		return true, nil
	}
	if err != nil {
		return false, err
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

// postmasterOf is where the domain's postmaster and abuse mail goes: the
// address set for it, else the domain's oldest account, else "".
func postmasterOf(ctx context.Context, dir store.Directory, dom store.Domain) (string, error) {
	if dom.Postmaster != "" {
		return dom.Postmaster, nil
	}
	accts, err := dir.Accounts(ctx, dom.Name)
	if err != nil || len(accts) == 0 {
		return "", err
	}
	oldest := accts[0]
	for _, a := range accts[1:] {
		if a.ID < oldest.ID {
			oldest = a
		}
	}
	return oldest.Address, nil
}
