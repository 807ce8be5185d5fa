package adminapi

import "strings"

type aliasJSON struct {
	Source       string   `json:"source"`
	Destinations []string `json:"destinations"`
}

// listAliases lists the aliases the caller manages, of one domain when
// the path names it.
func (a *api) listAliases(c *call) (any, error) {
	domain := c.r.PathValue("domain")
	if domain != "" {
		if _, err := domainParam(c); err != nil {
			return nil, err
		}
		d, err := a.svc.Domain(c.ctx, domain)
		if err != nil {
			return nil, err
		}
		domain = d.Name
	}
	list, err := a.svc.Aliases(c.ctx)
	if err != nil {
		return nil, err
	}
	out := []aliasJSON{}
	for _, al := range list {
		if domain != "" && !strings.HasSuffix(al.Source, "@"+domain) {
			continue
		}
		if c.admin.CheckAddressScope(al.Source) == nil {
			out = append(out, aliasJSON(al))
		}
	}
	return map[string]any{"aliases": out}, nil
}

func (a *api) addAlias(c *call) (any, error) {
	var req aliasJSON
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	if err := c.admin.CheckAddressScope(req.Source); err != nil {
		return nil, err
	}
	al, err := a.svc.AddAlias(c.ctx, req.Source, req.Destinations)
	if err != nil {
		return nil, err
	}
	return created{aliasJSON(al)}, nil
}

func (a *api) deleteAlias(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DeleteAlias(c.ctx, addr)
}
