package admin

import (
	"context"
	"strings"
	"time"

	"postern/internal/store"
)

// AddDomain makes name a local domain with its DKIM keys (an Ed25519 and
// an RSA pair), so mail from it is signed from the start. The keys are made
// before the domain is added, and a domain whose keys cannot be stored is
// removed again: a domain never exists without keys because of this call.
func (s *Service) AddDomain(ctx context.Context, name string) (store.Domain, error) {
	if err := needActor(ctx); err != nil {
		return store.Domain{}, err
	}
	name, err := domainName(name)
	if err != nil {
		return store.Domain{}, err
	}
	keys, err := s.newKeys(time.Now())
	if err != nil {
		return store.Domain{}, err
	}
	d, err := s.st.AddDomain(ctx, name)
	if err != nil {
		return store.Domain{}, storeErr(err, "domain", name, "domain "+name)
	}
	if err := s.st.RotateDKIMKeys(ctx, name, keys); err != nil {
		// Best effort: the domain is new and empty, so nothing is lost.
		_ = s.st.DeleteDomain(ctx, name)
		return store.Domain{}, err
	}
	s.audit(ctx, "domain.add", name, "dkim_selectors", selectors(keys))
	return d, nil
}

// Domain returns one local domain.
func (s *Service) Domain(ctx context.Context, name string) (store.Domain, error) {
	return s.localDomain(ctx, name)
}

// Domains lists the local domains by name.
func (s *Service) Domains(ctx context.Context) ([]store.Domain, error) {
	return s.st.Domains(ctx)
}

// DeleteDomain removes the domain with its accounts, their mail, its
// aliases and its DKIM keys.
func (s *Service) DeleteDomain(ctx context.Context, name string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	name, err := domainName(name)
	if err != nil {
		return err
	}
	if err := s.st.DeleteDomain(ctx, name); err != nil {
		return storeErr(err, "domain", name, "domain "+name)
	}
	s.audit(ctx, "domain.delete", name)
	return nil
}

// SetCatchAll makes target receive the mail for unknown local parts of
// domain. Recipient resolution looks the catch-all up as a local account or
// alias only (deliver.Resolve), so target must be one of those: a catch-all
// that names nothing would silently do nothing. To send such mail
// elsewhere, point the catch-all at an alias that forwards.
func (s *Service) SetCatchAll(ctx context.Context, domain, target string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	d, err := s.localDomain(ctx, domain)
	if err != nil {
		return err
	}
	addr, err := address("address", target)
	if err != nil {
		return err
	}
	if err := s.checkCatchAllTarget(ctx, addr); err != nil {
		return err
	}
	if err := s.st.SetCatchAll(ctx, d.Name, addr); err != nil {
		return storeErr(err, "domain", d.Name, "domain "+d.Name)
	}
	s.audit(ctx, "domain.catchall.set", d.Name, "catch_all", addr)
	return nil
}

func (s *Service) checkCatchAllTarget(ctx context.Context, addr string) error {
	if _, err := s.st.Domain(ctx, domainOf(addr)); isNotFound(err) {
		return invalid("address", addr, nil,
			"catch-all %s is not in a local domain; point the catch-all at an alias that forwards to it", addr)
	} else if err != nil {
		return err
	}
	for _, is := range []func(context.Context, string) (bool, error){s.isAccount, s.isAlias} {
		ok, err := is(ctx, addr)
		if err != nil || ok {
			return err
		}
	}
	return &Error{Kind: KindNotFound, Field: "address", Value: addr,
		Msg: addr + " is neither an account nor an alias", Err: store.ErrNotFound}
}

// ClearCatchAll removes the domain's catch-all: mail for unknown local
// parts is refused again.
func (s *Service) ClearCatchAll(ctx context.Context, domain string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	d, err := s.localDomain(ctx, domain)
	if err != nil {
		return err
	}
	if err := s.st.SetCatchAll(ctx, d.Name, ""); err != nil {
		return storeErr(err, "domain", d.Name, "domain "+d.Name)
	}
	s.audit(ctx, "domain.catchall.clear", d.Name, "was", d.CatchAll)
	return nil
}

func selectors(keys []store.DKIMKey) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k.Selector)
	}
	return b.String()
}

// SetPostmaster names where the domain's postmaster@ and abuse@ mail goes
// when no account or alias of those names exists (RFC 5321 §4.5.1 requires
// postmaster); "" goes back to the default, the domain's oldest account.
// A local target must be an account or alias; a remote one is forwarded.
func (s *Service) SetPostmaster(ctx context.Context, domain, target string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	d, err := s.localDomain(ctx, domain)
	if err != nil {
		return err
	}
	addr := ""
	if target != "" {
		if addr, err = address("address", target); err != nil {
			return err
		}
		if _, err := s.st.Domain(ctx, domainOf(addr)); err == nil {
			if err := s.checkCatchAllTarget(ctx, addr); err != nil {
				return err
			}
		} else if !isNotFound(err) {
			return err
		}
	}
	if err := s.st.SetPostmaster(ctx, d.Name, addr); err != nil {
		return storeErr(err, "domain", d.Name, "domain "+d.Name)
	}
	s.audit(ctx, "domain.postmaster.set", d.Name, "postmaster", addr)
	return nil
}
