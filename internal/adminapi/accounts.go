package adminapi

import (
	"time"

	"postern/internal/admin"
)

type accountJSON struct {
	Address       string    `json:"address"`
	Disabled      bool      `json:"disabled"`
	QuotaBytes    int64     `json:"quota_bytes"`
	QuotaMessages int64     `json:"quota_messages"`
	UsedBytes     int64     `json:"used_bytes"`
	UsedMessages  int64     `json:"used_messages"`
	CreatedAt     time.Time `json:"created_at"`
	// LastLogin is by protocol (imap, pop3, smtp, jmap, webmail,
	// managesieve), a key absent when never.
	LastLogin map[string]time.Time `json:"last_login"`
}

func toAccountJSON(ac admin.Account) accountJSON {
	if ac.LastLogin == nil {
		ac.LastLogin = map[string]time.Time{}
	}
	return accountJSON{Address: ac.Address, Disabled: ac.Disabled, QuotaBytes: ac.QuotaBytes,
		QuotaMessages: ac.QuotaMessages, UsedBytes: ac.UsedBytes, UsedMessages: ac.UsedMessages, CreatedAt: ac.CreatedAt,
		LastLogin: ac.LastLogin}
}

// listAccounts lists a domain's accounts with their storage and quota.
func (a *api) listAccounts(c *call) (any, error) {
	name, err := domainParam(c)
	if err != nil {
		return nil, err
	}
	list, err := a.svc.Accounts(c.ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]accountJSON, len(list))
	for i, ac := range list {
		out[i] = toAccountJSON(ac)
	}
	return map[string]any{"accounts": out}, nil
}

// passwordRequest chooses a password as the CLI does: given, or generated
// (returned once) when none is given.
type passwordRequest struct {
	Password string `json:"password"`
}

func (p passwordRequest) choice() admin.NewPassword {
	if p.Password == "" {
		return admin.NewPassword{Generate: true}
	}
	return admin.NewPassword{Given: p.Password}
}

type addAccountRequest struct {
	Address  string `json:"address"`
	Password string `json:"password"`
}

type accountWithPassword struct {
	Account accountJSON `json:"account"`
	// Password is the generated password, in this answer only.
	Password string `json:"password,omitempty"`
}

func (a *api) addAccount(c *call) (any, error) {
	var req addAccountRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if err := c.admin.CheckAddressScope(req.Address); err != nil {
		return nil, err
	}
	ac, pw, err := a.svc.AddAccount(c.ctx, req.Address, passwordRequest{req.Password}.choice())
	if err != nil {
		return nil, err
	}
	return created{accountWithPassword{Account: toAccountJSON(ac), Password: pw}}, nil
}

// addressParam is the path's account or alias address, once the caller's
// scope allows it.
func addressParam(c *call) (string, error) {
	addr := c.r.PathValue("address")
	return addr, c.admin.CheckAddressScope(addr)
}

func (a *api) getAccount(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	ac, err := a.svc.Account(c.ctx, addr)
	if err != nil {
		return nil, err
	}
	return toAccountJSON(ac), nil
}

func (a *api) deleteAccount(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	if _, err := a.svc.Account(c.ctx, addr); err != nil {
		return nil, err
	}
	if err := confirmed(c, addr); err != nil {
		return nil, err
	}
	return nil, a.svc.DeleteAccount(c.ctx, addr)
}

func (a *api) setPassword(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	var req passwordRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	ac, pw, err := a.svc.SetPassword(c.ctx, addr, req.choice())
	if err != nil {
		return nil, err
	}
	return accountWithPassword{Account: toAccountJSON(ac), Password: pw}, nil
}

type quotaRequest struct {
	// Size is bytes or a size with a unit ("10M"), as the CLI takes it;
	// Messages a count. Both may be JSON numbers or strings; 0 or ""
	// is unlimited.
	Size     flexString `json:"size"`
	Messages flexString `json:"messages"`
}

func (a *api) setQuota(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	var req quotaRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	q, err := admin.ParseQuota(string(req.Size), string(req.Messages))
	if err != nil {
		return nil, err
	}
	return nil, a.svc.SetQuota(c.ctx, addr, q)
}

func (a *api) disableAccount(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DisableAccount(c.ctx, addr)
}

func (a *api) enableAccount(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.EnableAccount(c.ctx, addr)
}

type appPasswordJSON struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	SCRAM     bool      `json:"scram"`
}

func (a *api) listAppPasswords(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	list, err := a.svc.AppPasswords(c.ctx, addr)
	if err != nil {
		return nil, err
	}
	out := make([]appPasswordJSON, len(list))
	for i, p := range list {
		out[i] = appPasswordJSON{Name: p.Name, CreatedAt: p.CreatedAt, LastUsed: p.LastUsed, SCRAM: p.SCRAM}
	}
	return map[string]any{"app_passwords": out}, nil
}

func (a *api) revokeAppPassword(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DeleteAppPassword(c.ctx, addr, c.r.PathValue("name"))
}
