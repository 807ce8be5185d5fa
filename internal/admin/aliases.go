package admin

import (
	"context"
	"strings"

	"postern/internal/store"
)

// AddAlias makes mail for source go to destinations: local addresses
// (accounts, other aliases, subaddresses) and remote ones, which are
// forwarded through the outbound queue. source must be in a local domain
// and must not be an account (KindConflict: the alias would take its mail).
// Destinations are trimmed, blank ones skipped and duplicates dropped; a
// local destination need not exist yet.
func (s *Service) AddAlias(ctx context.Context, source string, destinations []string) (store.Alias, error) {
	if err := needActor(ctx); err != nil {
		return store.Alias{}, err
	}
	src, err := s.localAddress(ctx, "address", source)
	if err != nil {
		return store.Alias{}, err
	}
	dests, err := aliasDestinations(src, destinations)
	if err != nil {
		return store.Alias{}, err
	}
	if err := s.refuseAccount(ctx, src); err != nil {
		return store.Alias{}, err
	}
	err = s.st.AddAlias(ctx, src, dests)
	if isExists(err) {
		// Taken by an alias, or by an account added since the check.
		if err := s.refuseAccount(ctx, src); err != nil {
			return store.Alias{}, err
		}
	}
	if err != nil {
		return store.Alias{}, storeErr(err, "address", src, "alias "+src)
	}
	s.audit(ctx, "alias.add", src, "destinations", strings.Join(dests, ","))
	return store.Alias{Source: src, Destinations: dests}, nil
}

// aliasDestinations checks and normalises the destinations of src.
func aliasDestinations(src string, list []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, d := range list {
		if strings.TrimSpace(d) == "" {
			continue
		}
		addr, err := address("destination", d)
		if err != nil {
			return nil, invalid("destination", d, err, "destination %q is not a valid address", strings.TrimSpace(d))
		}
		// An alias to itself loops until deliver's depth limit and then
		// fails every message; refuse it here where the mistake is made.
		if addr == src {
			return nil, invalid("destination", d, nil, "alias %s cannot point to itself", src)
		}
		if !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
	}
	if len(out) == 0 {
		return nil, invalid("destination", "", nil, "alias needs at least one destination")
	}
	return out, nil
}

// refuseAccount is the conflict of an alias source that is an account.
func (s *Service) refuseAccount(ctx context.Context, addr string) error {
	ok, err := s.isAccount(ctx, addr)
	if err != nil || !ok {
		return err
	}
	return conflict("address", addr, store.ErrExists, "%s is an account; an alias cannot shadow it", addr)
}

// Aliases lists every alias by source.
func (s *Service) Aliases(ctx context.Context) ([]store.Alias, error) {
	return s.st.Aliases(ctx)
}

// DeleteAlias removes one alias.
func (s *Service) DeleteAlias(ctx context.Context, source string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	src, err := address("address", source)
	if err != nil {
		return err
	}
	if err := s.st.DeleteAlias(ctx, src); err != nil {
		return storeErr(err, "address", src, "alias "+src)
	}
	s.audit(ctx, "alias.delete", src)
	return nil
}
