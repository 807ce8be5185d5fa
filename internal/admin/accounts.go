package admin

import (
	"context"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

// Account is what the service shows of an account: the store's record
// without its password hash and SCRAM keys, so that no face can print or
// serialise them by accident.
type Account struct {
	ID       int64
	Address  string
	Disabled bool
	// QuotaBytes and QuotaMessages are the limits; 0 means unlimited.
	QuotaBytes    int64
	QuotaMessages int64
	UsedBytes     int64
	UsedMessages  int64
	CreatedAt     time.Time
	// LastLogin is the time of the last successful login by protocol
	// (auth.LoginProtocols: imap, pop3, smtp, jmap, webmail,
	// managesieve); a protocol never used is absent. The server writes
	// it at most once a minute per protocol, so it may be that late.
	// Filled by Account and Accounts only.
	LastLogin map[string]time.Time
}

func accountView(a store.Account) Account {
	return Account{ID: a.ID, Address: a.Address, Disabled: a.Disabled,
		QuotaBytes: a.QuotaBytes, QuotaMessages: a.QuotaMessages,
		UsedBytes: a.UsedBytes, UsedMessages: a.UsedMessages, CreatedAt: a.CreatedAt}
}

// NewPassword says where an account's new password comes from: Given, chosen
// by a person and held to the password rules (auth.ValidatePassword: at
// least 8 characters, no NUL, CR or LF), or Generate, made by the service
// and returned once by the call.
type NewPassword struct {
	Given    string
	Generate bool
}

// choose returns the password to set and whether it was generated.
func (p NewPassword) choose() (string, bool, error) {
	if p.Generate {
		if p.Given != "" {
			return "", false, invalid("password", "", nil, "give a password or have one generated, not both")
		}
		return auth.GeneratePassword(), true, nil
	}
	if err := auth.ValidatePassword(p.Given); err != nil {
		return "", false, invalid("password", "", err, "%s", err.Error())
	}
	return p.Given, false, nil
}

// AddAccount creates an account with INBOX, Drafts, Sent, Archive, Junk and
// Trash. Its domain must be local, and the address must not be an alias
// (KindConflict: the alias would hide the account from delivery). It
// returns the generated password, "" when one was given.
func (s *Service) AddAccount(ctx context.Context, addr string, pw NewPassword) (Account, string, error) {
	if err := needActor(ctx); err != nil {
		return Account{}, "", err
	}
	addr, err := s.localAddress(ctx, "address", addr)
	if err != nil {
		return Account{}, "", err
	}
	password, generated, err := pw.choose()
	if err != nil {
		return Account{}, "", err
	}
	if err := s.refuseAlias(ctx, addr); err != nil {
		return Account{}, "", err
	}
	cred, err := auth.HashPassword(password)
	if err != nil {
		return Account{}, "", err
	}
	a, err := s.st.AddAccount(ctx, addr, cred)
	if isExists(err) {
		// The store refuses an address taken by an account or an alias;
		// an alias may have been added since the check above.
		if err := s.refuseAlias(ctx, addr); err != nil {
			return Account{}, "", err
		}
	}
	if err != nil {
		return Account{}, "", storeErr(err, "address", addr, "account "+addr)
	}
	s.audit(ctx, "account.add", addr, "password_generated", generated)
	if !generated {
		password = ""
	}
	return accountView(a), password, nil
}

// refuseAlias is the conflict of an account address that is an alias.
func (s *Service) refuseAlias(ctx context.Context, addr string) error {
	ok, err := s.isAlias(ctx, addr)
	if err != nil || !ok {
		return err
	}
	return conflict("address", addr, store.ErrExists, "%s is an alias; delete the alias first", addr)
}

// Account returns one account.
func (s *Service) Account(ctx context.Context, addr string) (Account, error) {
	addr, err := address("address", addr)
	if err != nil {
		return Account{}, err
	}
	a, err := s.account(ctx, addr)
	if err != nil {
		return Account{}, err
	}
	v := accountView(a)
	if v.LastLogin, err = s.st.AccountLastLogins(ctx, a.ID); err != nil {
		return Account{}, err
	}
	return v, nil
}

// Accounts lists the accounts of domain by address, or of every domain
// when domain is "". A domain that is not local is KindNotFound.
func (s *Service) Accounts(ctx context.Context, domain string) ([]Account, error) {
	if domain != "" {
		d, err := s.localDomain(ctx, domain)
		if err != nil {
			return nil, err
		}
		domain = d.Name
	}
	list, err := s.st.Accounts(ctx, domain)
	if err != nil {
		return nil, storeErr(err, "domain", domain, "domain "+domain)
	}
	logins, err := s.st.LastLogins(ctx, domain)
	if err != nil {
		return nil, storeErr(err, "domain", domain, "domain "+domain)
	}
	out := make([]Account, len(list))
	for i, a := range list {
		out[i] = accountView(a)
		out[i].LastLogin = logins[a.ID]
		if out[i].LastLogin == nil {
			out[i].LastLogin = map[string]time.Time{}
		}
	}
	return out, nil
}

// SetPassword replaces the account's password and returns the account
// with the generated password ("" when given). App passwords stay; their
// SCRAM keys were derived with the old salt, so they work with SCRAM again
// only once re-created.
func (s *Service) SetPassword(ctx context.Context, addr string, pw NewPassword) (Account, string, error) {
	if err := needActor(ctx); err != nil {
		return Account{}, "", err
	}
	addr, err := address("address", addr)
	if err != nil {
		return Account{}, "", err
	}
	password, generated, err := pw.choose()
	if err != nil {
		return Account{}, "", err
	}
	// Look first: hashing is deliberately slow (argon2id).
	a, err := s.account(ctx, addr)
	if err != nil {
		return Account{}, "", err
	}
	// The SCRAM salt stays, so app passwords keep working with SCRAM.
	cred, err := auth.ChangePassword(password, a.SCRAMSHA256)
	if err != nil {
		return Account{}, "", err
	}
	if err := s.st.SetCredentials(ctx, addr, cred); err != nil {
		return Account{}, "", storeErr(err, "address", addr, "account "+addr)
	}
	s.audit(ctx, "account.password", addr, "password_generated", generated)
	if !generated {
		password = ""
	}
	return accountView(a), password, nil
}

// DeleteAccount removes the account, its mailboxes and its mail.
func (s *Service) DeleteAccount(ctx context.Context, addr string) error {
	return s.accountChange(ctx, addr, "account.delete", s.st.DeleteAccount)
}

// DisableAccount stops the account's logins on every protocol; its mail is
// still received.
func (s *Service) DisableAccount(ctx context.Context, addr string) error {
	return s.accountChange(ctx, addr, "account.disable", func(ctx context.Context, a string) error {
		return s.st.SetDisabled(ctx, a, true)
	})
}

// EnableAccount lets a disabled account log in again.
func (s *Service) EnableAccount(ctx context.Context, addr string) error {
	return s.accountChange(ctx, addr, "account.enable", func(ctx context.Context, a string) error {
		return s.st.SetDisabled(ctx, a, false)
	})
}

// SetQuota sets the account's limits (see ParseQuota); 0 is unlimited.
// Mail past the limit is refused with 452 4.2.2 (RFC 3463) on SMTP and
// OVERQUOTA on IMAP (RFC 9208).
func (s *Service) SetQuota(ctx context.Context, addr string, q Quota) error {
	if q.Bytes < 0 || q.Messages < 0 {
		return invalid("quota", "", nil, "quota must not be negative")
	}
	return s.accountChange(ctx, addr, "account.quota", func(ctx context.Context, a string) error {
		return s.st.SetQuota(ctx, a, q.Bytes, q.Messages)
	}, "bytes", q.Bytes, "messages", q.Messages)
}

// accountChange runs one store change on an existing account and logs it.
func (s *Service) accountChange(ctx context.Context, raw, action string,
	change func(context.Context, string) error, details ...any) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	addr, err := address("address", raw)
	if err != nil {
		return err
	}
	if err := change(ctx, addr); err != nil {
		return storeErr(err, "address", addr, "account "+addr)
	}
	s.audit(ctx, action, addr, details...)
	return nil
}
