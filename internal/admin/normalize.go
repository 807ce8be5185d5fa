package admin

import (
	"context"
	"strings"

	"postern/internal/deliver"
	"postern/internal/store"
)

// Every name an administrator types goes through these, so that the
// service stores and looks up one canonical form: what deliver uses when it
// resolves a recipient (lower case, RFC 5321 syntax, no address literals).

// domainName returns the canonical form of a domain name.
func domainName(raw string) (string, error) {
	d, err := deliver.NormalizeDomain(strings.TrimSpace(raw))
	if err != nil {
		return "", invalid("domain", raw, err, "%q is not a domain name", raw)
	}
	return d, nil
}

// address returns the canonical form of an address.
func address(field, raw string) (string, error) {
	a, err := deliver.Normalize(strings.TrimSpace(raw))
	if err != nil {
		return "", invalid(field, raw, err, "%q is not a valid address (local@domain)", raw)
	}
	return a, nil
}

func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

// localDomain returns the canonical name of a domain that must exist.
func (s *Service) localDomain(ctx context.Context, raw string) (store.Domain, error) {
	name, err := domainName(raw)
	if err != nil {
		return store.Domain{}, err
	}
	d, err := s.st.Domain(ctx, name)
	return d, storeErr(err, "domain", name, "domain "+name)
}

// localAddress returns the canonical form of an address whose domain must
// be local: accounts and aliases exist only in local domains.
func (s *Service) localAddress(ctx context.Context, field, raw string) (string, error) {
	addr, err := address(field, raw)
	if err != nil {
		return "", err
	}
	if _, err := s.localDomain(ctx, domainOf(addr)); err != nil {
		return "", err
	}
	return addr, nil
}

// account returns the account at a canonical address.
func (s *Service) account(ctx context.Context, addr string) (store.Account, error) {
	a, err := s.st.Account(ctx, addr)
	return a, storeErr(err, "address", addr, "account "+addr)
}

// isAlias and isAccount report whether addr is taken by that kind of entry;
// errors other than ErrNotFound are returned.
func (s *Service) isAlias(ctx context.Context, addr string) (bool, error) {
	return present(s.st.Alias(ctx, addr))
}

func (s *Service) isAccount(ctx context.Context, addr string) (bool, error) {
	return present(s.st.Account(ctx, addr))
}

func present[T any](_ T, err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, err
}
