package adminapi

import (
	"errors"
	"time"

	"postern/internal/admin"
)

type sieveScriptJSON struct {
	Name      string    `json:"name"`
	Active    bool      `json:"active"`
	Size      int       `json:"size"`
	UpdatedAt time.Time `json:"updated_at"`
}

// scriptRequest carries a script's source.
type scriptRequest struct {
	Script string `json:"script"`
}

// sieveRefusal adds where the compiler refused a script to the answer.
func sieveRefusal(err error) error {
	var se *admin.SieveError
	if admin.KindOf(err) == admin.KindInvalid && errors.As(err, &se) {
		e := *toAPIError(err)
		e.Line, e.Column = se.Line, se.Column
		return &e
	}
	return err
}

func (a *api) listSieve(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	list, err := a.svc.SieveScripts(c.ctx, addr)
	if err != nil {
		return nil, err
	}
	out := make([]sieveScriptJSON, len(list))
	for i, s := range list {
		out[i] = sieveScriptJSON{Name: s.Name, Active: s.Active, Size: s.Size, UpdatedAt: s.UpdatedAt}
	}
	return map[string]any{"scripts": out}, nil
}

func (a *api) getSieve(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	name := c.r.PathValue("name")
	src, err := a.svc.SieveScript(c.ctx, addr, name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"name": name, "script": string(src)}, nil
}

func (a *api) putSieve(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	var req scriptRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	return nil, sieveRefusal(a.svc.PutSieveScript(c.ctx, addr, c.r.PathValue("name"), []byte(req.Script)))
}

func (a *api) activateSieve(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	return nil, sieveRefusal(a.svc.ActivateSieveScript(c.ctx, addr, c.r.PathValue("name")))
}

func (a *api) deactivateSieve(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.ActivateSieveScript(c.ctx, addr, "")
}

func (a *api) deleteSieve(c *call) (any, error) {
	addr, err := addressParam(c)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DeleteSieveScript(c.ctx, addr, c.r.PathValue("name"))
}

// Global scripts ("before" and "after" every account's) are a server
// administrator's.

func (a *api) getGlobalSieve(c *call) (any, error) {
	if err := c.admin.CheckServerScope("global Sieve scripts"); err != nil {
		return nil, err
	}
	which := c.r.PathValue("which")
	src, err := a.svc.GlobalSieveScript(c.ctx, which)
	if err != nil {
		return nil, err
	}
	return map[string]any{"name": which, "script": string(src)}, nil
}

func (a *api) putGlobalSieve(c *call) (any, error) {
	if err := c.admin.CheckServerScope("global Sieve scripts"); err != nil {
		return nil, err
	}
	var req scriptRequest
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	return nil, sieveRefusal(a.svc.PutGlobalSieveScript(c.ctx, c.r.PathValue("which"), []byte(req.Script)))
}

func (a *api) deleteGlobalSieve(c *call) (any, error) {
	if err := c.admin.CheckServerScope("global Sieve scripts"); err != nil {
		return nil, err
	}
	return nil, a.svc.PutGlobalSieveScript(c.ctx, c.r.PathValue("which"), nil)
}
