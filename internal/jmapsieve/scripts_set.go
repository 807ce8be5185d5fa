package jmapsieve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"postern/internal/admin"
	"postern/internal/jmap"
	"postern/internal/store"
)

// SetError types of RFC 9661 §3.5 and RFC 8621 §4.6 (blobNotFound).
const (
	InvalidSieve  jmap.ErrorType = "invalidSieve"
	SieveIsActive jmap.ErrorType = "sieveIsActive"
	BlobNotFound  jmap.ErrorType = "blobNotFound"
)

type scriptSetArgs struct {
	setArgs
	OnSuccessActivateScript   *string `json:"onSuccessActivateScript"`
	OnSuccessDeactivateScript bool    `json:"onSuccessDeactivateScript"`
}

// scriptPatch is a SieveScript create or update object, decoded.
type scriptPatch struct {
	name    *string // nil: not given, or null on create
	blobID  string  // "": not given
	hasName bool
}

// decodeScriptPatch reads a create (or update) object: name (String, or
// null on create), blobId; id and isActive are server-set and may only be
// sent with the value they have (cur nil: the create defaults). ok is
// false when raw is not an object.
func decodeScriptPatch(raw json.RawMessage, cur *store.SieveScript) (p scriptPatch, bad []string, ok bool) {
	var m map[string]json.RawMessage
	if len(raw) > maxPatchSize || json.Unmarshal(raw, &m) != nil || m == nil {
		return p, nil, false
	}
	for k, v := range m {
		ok := true
		switch k {
		case "name":
			p.hasName = true
			if !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
				var s string
				ok = json.Unmarshal(v, &s) == nil
				p.name = &s
			} else {
				ok = cur == nil // a script keeps a name
			}
		case "blobId":
			ok = json.Unmarshal(v, &p.blobID) == nil && p.blobID != ""
		case "isActive":
			var b bool
			ok = json.Unmarshal(v, &b) == nil && b == (cur != nil && cur.Active)
		case "id":
			var s string
			ok = cur != nil && json.Unmarshal(v, &s) == nil && s == scriptID(cur.ID)
		default:
			ok = false
		}
		if !ok {
			bad = append(bad, k)
		}
	}
	return p, bad, true
}

// scriptSet is SieveScript/set (RFC 9661 §3.5): creates, updates and
// destroys through the admin service, as ManageSieve's PUTSCRIPT,
// RENAMESCRIPT and DELETESCRIPT, then the activation asked for when all
// of them succeeded.
func (h *Handler) scriptSet(ctx context.Context, c *jmap.Call) (any, error) {
	var a scriptSetArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	if err := c.CheckSet(len(a.Create) + len(a.Update) + len(a.Destroy)); err != nil {
		return nil, err
	}
	defer h.lock(acct.ID)()
	list, err := h.o.Store.SieveScripts(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	old := scriptState(list)
	if a.IfInState != nil && *a.IfInState != old {
		return nil, jmap.NewError(jmap.StateMismatch, "")
	}
	s := &scriptSetRun{h: h, c: c, ctx: asUser(ctx, acct), acct: acct, list: list,
		resp: setResponse{AccountID: a.AccountID, OldState: &old}}
	defer func() {
		if s.changed {
			h.o.Changed(acct.ID)
		}
	}()
	for cid, raw := range a.Create {
		if err := s.create(cid, raw); err != nil {
			return nil, err
		}
	}
	for id, raw := range a.Update {
		if err := s.update(id, raw); err != nil {
			return nil, err
		}
	}
	for _, id := range a.Destroy {
		if err := s.destroy(id); err != nil {
			return nil, err
		}
	}
	if s.resp.NotCreated == nil && s.resp.NotUpdated == nil && s.resp.NotDestroyed == nil {
		if err := s.activate(a.OnSuccessActivateScript, a.OnSuccessDeactivateScript); err != nil {
			return nil, err
		}
	}
	if err := s.reload(); err != nil {
		return nil, err
	}
	s.resp.NewState = scriptState(s.list)
	return s.resp, nil
}

// scriptSetRun is one SieveScript/set under way.
type scriptSetRun struct {
	h       *Handler
	c       *jmap.Call
	ctx     context.Context // carries the actor
	acct    store.Account
	list    []store.SieveScript // as of the last change
	resp    setResponse
	created map[string]map[string]any // by creation id, the objects in resp.Created
	changed bool
}

func (s *scriptSetRun) reload() error {
	var err error
	s.list, err = s.h.o.Store.SieveScripts(s.ctx, s.acct.ID)
	return err
}

func (s *scriptSetRun) byName(name string) (store.SieveScript, bool) {
	for _, sc := range s.list {
		if sc.Name == name {
			return sc, true
		}
	}
	return store.SieveScript{}, false
}

// freeName is a name for a script created without one.
func (s *scriptSetRun) freeName() string {
	for n := 1; ; n++ {
		name := fmt.Sprintf("script-%d", n)
		if _, taken := s.byName(name); !taken {
			return name
		}
	}
}

// refusal maps an admin refusal of a script to its SetError; other errors
// go up.
func refusal(err error) (*jmap.Error, error) {
	var se *admin.SieveError
	switch {
	case errors.As(err, &se):
		return setError(InvalidSieve, se.Error()), nil
	case errors.Is(err, admin.ErrSieveQuotaSize):
		return setError(jmap.TooLarge, err.Error()), nil
	case errors.Is(err, admin.ErrSieveQuotaScripts):
		return setError(jmap.OverQuota, err.Error()), nil
	}
	return adminSetError(err, map[string]string{"name": "name", "script": "blobId"})
}

// content reads the script a blobId names: another script's content, or
// an uploaded blob. A failure the client caused is a SetError.
func (s *scriptSetRun) content(blobID string) ([]byte, *jmap.Error, error) {
	src, err := s.h.readBlob(s.ctx, s.acct.ID, blobID)
	switch {
	case errors.Is(err, jmap.ErrBlobNotFound):
		return nil, setError(BlobNotFound, "").With("notFound", []string{blobID}), nil
	case errors.Is(err, jmap.ErrBlobTooLarge):
		return nil, setError(jmap.TooLarge, fmt.Sprintf("a script may have at most %d octets", admin.MaxSieveScriptSize)), nil
	}
	return src, nil, err
}

// readBlob returns a blob's content, at most admin.MaxSieveScriptSize
// octets (jmap.ErrBlobTooLarge beyond).
func (h *Handler) readBlob(ctx context.Context, accountID int64, blobID string) ([]byte, error) {
	if IsScriptBlobID(blobID) {
		return h.scriptBlob(ctx, accountID, blobID)
	}
	if h.o.Uploads == nil {
		return nil, jmap.ErrBlobNotFound
	}
	rc, _, _, err := h.o.Uploads.Download(ctx, jmap.AccountID(accountID), blobID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	src, err := io.ReadAll(io.LimitReader(rc, admin.MaxSieveScriptSize+1))
	if err == nil && len(src) > admin.MaxSieveScriptSize {
		err = jmap.ErrBlobTooLarge
	}
	return src, err
}

func (s *scriptSetRun) create(cid string, raw json.RawMessage) error {
	p, bad, ok := decodeScriptPatch(raw, nil)
	if !ok {
		s.resp.notCreated(cid, setError(jmap.InvalidProperties, "not a SieveScript object"))
		return nil
	}
	if len(bad) == 0 && p.blobID == "" {
		bad = []string{"blobId"}
	}
	if len(bad) > 0 {
		s.resp.notCreated(cid, setError(jmap.InvalidProperties, "").With("properties", bad))
		return nil
	}
	name := s.freeName()
	if p.name != nil {
		name = *p.name
		if sc, taken := s.byName(name); taken {
			s.resp.notCreated(cid, setError(jmap.AlreadyExists, "").With("existingId", scriptID(sc.ID)))
			return nil
		}
	}
	src, se, err := s.content(p.blobID)
	if err != nil || se != nil {
		if se != nil {
			s.resp.notCreated(cid, se)
		}
		return err
	}
	if err := s.h.o.Admin.PutSieveScript(s.ctx, s.acct.Address, name, src); err != nil {
		se, err := refusal(err)
		if se != nil {
			s.resp.notCreated(cid, se)
		}
		return err
	}
	s.changed = true
	if err := s.reload(); err != nil {
		return err
	}
	sc, _ := s.byName(name)
	obj := map[string]any{"id": scriptID(sc.ID), "blobId": scriptBlobID(sc), "isActive": false}
	if p.name == nil {
		obj["name"] = name
	}
	if s.resp.Created == nil {
		s.resp.Created, s.created = map[string]any{}, map[string]map[string]any{}
	}
	s.resp.Created[cid], s.created[cid] = obj, obj
	s.c.CreatedIDs[cid] = scriptID(sc.ID)
	return nil
}

func (s *scriptSetRun) update(id string, raw json.RawMessage) error {
	sc, found := findScript(s.c, s.list, id)
	if !found {
		s.resp.notUpdated(id, setError(jmap.NotFound, ""))
		return nil
	}
	p, bad, ok := decodeScriptPatch(raw, &sc)
	if !ok {
		s.resp.notUpdated(id, setError(jmap.InvalidPatch, "the patch is not a JSON object"))
		return nil
	}
	if len(bad) > 0 {
		s.resp.notUpdated(id, setError(jmap.InvalidProperties, "").With("properties", bad))
		return nil
	}
	rename := p.name != nil && *p.name != sc.Name
	if rename {
		if other, taken := s.byName(*p.name); taken {
			s.resp.notUpdated(id, setError(jmap.AlreadyExists, "").With("existingId", scriptID(other.ID)))
			return nil
		}
	}
	changed := map[string]any{}
	if p.blobID != "" {
		src, se, err := s.content(p.blobID)
		if err != nil || se != nil {
			if se != nil {
				s.resp.notUpdated(id, se)
			}
			return err
		}
		if err := s.h.o.Admin.PutSieveScript(s.ctx, s.acct.Address, sc.Name, src); err != nil {
			se, err := refusal(err)
			if se != nil {
				s.resp.notUpdated(id, se)
			}
			return err
		}
		s.changed = true
		sc.Source = src
		if now := scriptBlobID(sc); now != p.blobID {
			changed["blobId"] = now
		}
	}
	if rename {
		if err := s.h.o.Admin.RenameSieveScript(s.ctx, s.acct.Address, sc.Name, *p.name); err != nil {
			se, err := refusal(err)
			if se != nil {
				s.resp.notUpdated(id, se)
			}
			return err
		}
		s.changed = true
	}
	if err := s.reload(); err != nil {
		return err
	}
	s.resp.updated(scriptID(sc.ID), changed)
	return nil
}

func (s *scriptSetRun) destroy(id string) error {
	sc, found := findScript(s.c, s.list, id)
	if !found {
		s.resp.notDestroyed(id, setError(jmap.NotFound, ""))
		return nil
	}
	err := s.h.o.Admin.DeleteSieveScript(s.ctx, s.acct.Address, sc.Name)
	if admin.KindOf(err) == admin.KindConflict && errors.Is(err, store.ErrNotPermitted) {
		s.resp.notDestroyed(id, setError(SieveIsActive, "deactivate the script first"))
		return nil
	}
	if err != nil {
		se, err := refusal(err)
		if se != nil {
			s.resp.notDestroyed(id, se)
		}
		return err
	}
	s.changed = true
	s.resp.Destroyed = append(s.resp.Destroyed, id)
	return s.reload()
}

// activate makes the script activateID the active one, or none when
// deactivate (RFC 9661 §3.5); an id that names no script is ignored. Both
// scripts whose isActive changed are reported.
func (s *scriptSetRun) activate(activateID *string, deactivate bool) error {
	var prev store.SieveScript
	for _, sc := range s.list {
		if sc.Active {
			prev = sc
		}
	}
	var next store.SieveScript
	if activateID != nil {
		sc, ok := findScript(s.c, s.list, *activateID)
		if !ok {
			return nil
		}
		next = sc
	} else if !deactivate || prev.ID == 0 {
		return nil
	}
	if next.ID != 0 && next.ID == prev.ID {
		return nil
	}
	if err := s.h.o.Admin.ActivateSieveScript(s.ctx, s.acct.Address, next.Name); err != nil {
		// Only a script that no longer compiles (an include gone) fails
		// here; the changes made stand, the activation is not done.
		if admin.KindOf(err) != 0 {
			s.h.o.Logger.Info("jmap: script not activated", "account", s.acct.Address, "err", err)
			return nil
		}
		return err
	}
	s.changed = true
	if prev.ID != 0 {
		s.mergeUpdated(scriptID(prev.ID), false)
	}
	if next.ID != 0 {
		for _, obj := range s.created {
			if obj["id"] == scriptID(next.ID) {
				obj["isActive"] = true
				return nil
			}
		}
		s.mergeUpdated(scriptID(next.ID), true)
	}
	return nil
}

// mergeUpdated adds isActive to what updated says of id.
func (s *scriptSetRun) mergeUpdated(id string, active bool) {
	if s.resp.Updated == nil {
		s.resp.Updated = map[string]any{}
	}
	m, _ := s.resp.Updated[id].(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	m["isActive"] = active
	s.resp.Updated[id] = m
}

type validateArgs struct {
	AccountID string `json:"accountId"`
	BlobID    string `json:"blobId"`
}

type validateResponse struct {
	AccountID string      `json:"accountId"`
	Error     *jmap.Error `json:"error"`
}

// scriptValidate is SieveScript/validate (RFC 9661 §3.6): the admin
// service's check of a script, stored nowhere. A blob that cannot be read
// is answered as its SetError (blobNotFound, tooLarge) in "error".
func (h *Handler) scriptValidate(ctx context.Context, c *jmap.Call) (any, error) {
	var a validateArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	if a.BlobID == "" {
		return nil, jmap.NewError(jmap.InvalidArguments, "blobId is required")
	}
	s := &scriptSetRun{h: h, ctx: ctx, acct: acct}
	src, se, err := s.content(a.BlobID)
	if err != nil {
		return nil, err
	}
	resp := validateResponse{AccountID: a.AccountID, Error: se}
	if se != nil {
		return resp, nil
	}
	if err := h.o.Admin.CheckSieveScript(ctx, acct.Address, src); err != nil {
		if resp.Error, err = refusal(err); err != nil {
			return nil, err
		}
	}
	return resp, nil
}
