package adminapi

import (
	"strings"
	"time"

	"postern/internal/admin"
	"postern/internal/store"
)

type domainJSON struct {
	Name       string    `json:"name"`
	CatchAll   string    `json:"catch_all"`
	Postmaster string    `json:"postmaster"`
	CreatedAt  time.Time `json:"created_at"`
}

func toDomainJSON(d store.Domain) domainJSON {
	return domainJSON{Name: d.Name, CatchAll: d.CatchAll, Postmaster: d.Postmaster, CreatedAt: d.CreatedAt}
}

// listDomains lists the domains the caller manages.
func (a *api) listDomains(c *call) (any, error) {
	list, err := a.svc.Domains(c.ctx)
	if err != nil {
		return nil, err
	}
	out := []domainJSON{}
	for _, d := range list {
		if c.admin.CheckDomainScope(d.Name) == nil {
			out = append(out, toDomainJSON(d))
		}
	}
	return map[string]any{"domains": out}, nil
}

type nameRequest struct {
	Name string `json:"name"`
}

func (a *api) addDomain(c *call) (any, error) {
	if err := c.admin.CheckServerScope("adding a domain"); err != nil {
		return nil, err
	}
	var req nameRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	d, err := a.svc.AddDomain(c.ctx, req.Name)
	if err != nil {
		return nil, err
	}
	return created{toDomainJSON(d)}, nil
}

// domainParam is the path's domain, once the caller's scope allows it.
func domainParam(c *call) (string, error) {
	d := c.r.PathValue("domain")
	return d, c.admin.CheckDomainScope(d)
}

func (a *api) getDomain(c *call) (any, error) {
	name, err := domainParam(c)
	if err != nil {
		return nil, err
	}
	d, err := a.svc.Domain(c.ctx, name)
	if err != nil {
		return nil, err
	}
	return toDomainJSON(d), nil
}

type confirmRequest struct {
	// Confirm is the name of what is deleted, typed again.
	Confirm string `json:"confirm"`
}

// confirmed checks that the body names what the path deletes.
func confirmed(c *call, name string) error {
	var req confirmRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return err
	}
	if !strings.EqualFold(strings.TrimSpace(req.Confirm), strings.TrimSpace(name)) {
		return badRequest("not deleted: confirm %q is not %q; type the name again to delete it and everything in it",
			req.Confirm, name)
	}
	return nil
}

func (a *api) deleteDomain(c *call) (any, error) {
	if err := c.admin.CheckServerScope("deleting a domain"); err != nil {
		return nil, err
	}
	name := c.r.PathValue("domain")
	if _, err := a.svc.Domain(c.ctx, name); err != nil {
		return nil, err
	}
	if err := confirmed(c, name); err != nil {
		return nil, err
	}
	return nil, a.svc.DeleteDomain(c.ctx, name)
}

type addressRequest struct {
	Address string `json:"address"`
}

// setCatchAll sets the catch-all; an empty address clears it.
func (a *api) setCatchAll(c *call) (any, error) {
	name, err := domainParam(c)
	if err != nil {
		return nil, err
	}
	var req addressRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if req.Address == "" {
		return nil, a.svc.ClearCatchAll(c.ctx, name)
	}
	return nil, a.svc.SetCatchAll(c.ctx, name, req.Address)
}

func (a *api) setPostmaster(c *call) (any, error) {
	name, err := domainParam(c)
	if err != nil {
		return nil, err
	}
	var req addressRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	return nil, a.svc.SetPostmaster(c.ctx, name, req.Address)
}

type dkimJSON struct {
	Domain    string    `json:"domain"`
	Selector  string    `json:"selector"`
	Algorithm string    `json:"algorithm"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
}

func toDKIMJSON(list []admin.DKIMKey) map[string]any {
	out := make([]dkimJSON, len(list))
	for i, k := range list {
		out[i] = dkimJSON{Domain: k.Domain, Selector: k.Selector, Algorithm: k.Algorithm, Active: k.Active, CreatedAt: k.CreatedAt}
	}
	return map[string]any{"keys": out}
}

func (a *api) listDKIM(c *call) (any, error) {
	name, err := domainParam(c)
	if err != nil {
		return nil, err
	}
	keys, err := a.svc.DKIMKeys(c.ctx, name)
	if err != nil {
		return nil, err
	}
	return toDKIMJSON(keys), nil
}

func (a *api) rotateDKIM(c *call) (any, error) {
	name, err := domainParam(c)
	if err != nil {
		return nil, err
	}
	keys, err := a.svc.RotateDKIM(c.ctx, name)
	if err != nil {
		return nil, err
	}
	return created{toDKIMJSON(keys)}, nil
}

type dnsRecordJSON struct {
	Purpose string `json:"purpose"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Value   string `json:"value"`
}

// dnsRecords answers the records the domain needs, one by one and as the
// zone file `postern dns` prints.
func (a *api) dnsRecords(c *call) (any, error) {
	name, err := domainParam(c)
	if err != nil {
		return nil, err
	}
	z, err := a.svc.DNSRecords(c.ctx, name)
	if err != nil {
		return nil, err
	}
	recs := make([]dnsRecordJSON, len(z.Records))
	for i, r := range z.Records {
		recs[i] = dnsRecordJSON{Purpose: string(r.Purpose), Name: r.Name, Type: r.Type, Value: r.Value}
	}
	return map[string]any{"domain": z.Domain, "host": z.Host, "records": recs, "zone": z.ZoneFile()}, nil
}

type dnsCheckRecordJSON struct {
	Type   string   `json:"type"`
	Name   string   `json:"name"`
	Want   string   `json:"want"`
	Found  []string `json:"found"`
	Status string   `json:"status"`
	Fix    string   `json:"fix"`
}

type dnsCheckJSON struct {
	Domain    string               `json:"domain"`
	CheckedAt time.Time            `json:"checked_at"`
	Records   []dnsCheckRecordJSON `json:"records"`
}

// dnsCheck looks the domain's records up in DNS now and marks each ok,
// missing, wrong or error with the fix.
func (a *api) dnsCheck(c *call) (any, error) {
	name, err := domainParam(c)
	if err != nil {
		return nil, err
	}
	chk, err := a.svc.CheckDNS(c.ctx, name)
	if err != nil {
		return nil, err
	}
	out := dnsCheckJSON{Domain: chk.Domain, CheckedAt: chk.CheckedAt.Truncate(time.Second), Records: make([]dnsCheckRecordJSON, len(chk.Records))}
	for i, r := range chk.Records {
		out.Records[i] = dnsCheckRecordJSON{Type: r.Type, Name: r.Name, Want: r.Want, Found: r.Found, Status: r.Status, Fix: r.Fix}
	}
	return out, nil
}
