package admin

import (
	"context"
	"strings"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

// AppPassword is what the service shows of an app password: never its
// digest or keys, and the secret only once, from AddAppPassword.
type AppPassword struct {
	// Account is the address of the account it belongs to.
	Account   string
	Name      string
	CreatedAt time.Time
	// LastUsed is the time of the last login with it (zero: never).
	LastUsed time.Time
	// SCRAM is false when the account had no SCRAM keys when it was made:
	// then it works with PLAIN and LOGIN only.
	SCRAM bool
}

func appPasswordView(acct string, p store.AppPassword) AppPassword {
	return AppPassword{Account: acct, Name: p.Name, CreatedAt: p.CreatedAt, LastUsed: p.LastUsed, SCRAM: p.SCRAMSHA256 != ""}
}

// maxAppPasswordName matches the store's limit, checked here to say so in
// words.
const maxAppPasswordName = 64

// AddAppPassword generates a named password for one device or program of
// the account, usable on every protocol in place of the account password.
// The secret is returned once; only its digest is kept.
func (s *Service) AddAppPassword(ctx context.Context, addr, name string) (AppPassword, string, error) {
	if err := needActor(ctx); err != nil {
		return AppPassword{}, "", err
	}
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return AppPassword{}, "", err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxAppPasswordName || strings.ContainsAny(name, "\r\n\t") {
		return AppPassword{}, "", invalid("name", name, nil,
			"app password name %q: give 1 to %d characters, no tabs or line breaks", name, maxAppPasswordName)
	}
	secret, p, err := auth.NewAppPassword(acct, name)
	if err != nil {
		return AppPassword{}, "", err
	}
	p, err = s.st.AddAppPassword(ctx, p)
	if err != nil {
		return AppPassword{}, "", storeErr(err, "name", name, "app password "+name+" of "+acct.Address)
	}
	s.audit(ctx, "app_password.add", acct.Address, "name", name)
	return appPasswordView(acct.Address, p), secret, nil
}

// AppPasswords lists the account's app passwords by name.
func (s *Service) AppPasswords(ctx context.Context, addr string) ([]AppPassword, error) {
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return nil, err
	}
	list, err := s.st.AppPasswords(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	out := make([]AppPassword, len(list))
	for i, p := range list {
		out[i] = appPasswordView(acct.Address, p)
	}
	return out, nil
}

// DeleteAppPassword revokes one app password at once.
func (s *Service) DeleteAppPassword(ctx context.Context, addr, name string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	if err := s.st.DeleteAppPassword(ctx, acct.ID, name); err != nil {
		return storeErr(err, "name", name, "app password "+name+" of "+acct.Address)
	}
	s.audit(ctx, "app_password.delete", acct.Address, "name", name)
	return nil
}

// accountAt returns the account at an address as given (normalised, in a
// local domain): the one an app password or a Sieve script belongs to.
func (s *Service) accountAt(ctx context.Context, raw string) (store.Account, error) {
	addr, err := s.localAddress(ctx, "address", raw)
	if err != nil {
		return store.Account{}, err
	}
	return s.account(ctx, addr)
}
