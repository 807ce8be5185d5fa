package jmapsubmit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"unicode/utf8"

	"postern/internal/deliver"
	"postern/internal/jmap"
	"postern/internal/store"
)

// Identity (RFC 8621 §6): the addresses an account sends as.

var identityProperties = []string{"id", "name", "email", "replyTo", "bcc", "textSignature", "htmlSignature", "mayDelete"}

// Limits of what a client may store in an identity.
const (
	maxNameBytes      = 256
	maxEmailBytes     = 254 // RFC 5321 §4.5.3.1.3 path, without the brackets
	maxSignatureBytes = 64 << 10
	maxAddressList    = 100
)

// rawProperty is one property of a create object or patch, as sent.
type rawProperty = json.RawMessage

// emailAddress is an EmailAddress (RFC 8621 §4.1.2.3).
type emailAddress struct {
	Name  *string `json:"name"`
	Email string  `json:"email"`
}

// identityFields are the properties a client sets, decoded and checked.
type identityFields struct {
	name, email                  *string
	replyTo, bcc                 []byte // canonical JSON, nil for null
	textSignature, htmlSignature *string
	replyToSet, bccSet           bool
}

// decodeIdentity checks the properties of an Identity create object or
// patch: it returns what they set, or the names of the invalid ones.
// Server-set properties (id, mayDelete) are invalid to set.
func decodeIdentity(obj map[string]rawProperty) (identityFields, []string) {
	var f identityFields
	var bad []string
	for k, raw := range obj {
		ok := true
		switch k {
		case "name":
			f.name, ok = decodeString(raw, maxNameBytes)
		case "email":
			f.email, ok = decodeString(raw, maxEmailBytes)
		case "textSignature":
			f.textSignature, ok = decodeString(raw, maxSignatureBytes)
		case "htmlSignature":
			f.htmlSignature, ok = decodeString(raw, maxSignatureBytes)
		case "replyTo":
			f.replyTo, ok = decodeAddressList(raw)
			f.replyToSet = true
		case "bcc":
			f.bcc, ok = decodeAddressList(raw)
			f.bccSet = true
		default:
			ok = false
		}
		if !ok {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	return f, bad
}

// decodeString reads a JSON string of at most max octets of UTF-8 (null
// is not a string).
func decodeString(raw rawProperty, max int) (*string, bool) {
	var s *string
	if json.Unmarshal(raw, &s) != nil || s == nil || len(*s) > max || !utf8.ValidString(*s) {
		return nil, false
	}
	return s, true
}

// decodeAddressList reads EmailAddress[]|null and returns it re-encoded
// (nil for null): each email must parse as an address.
func decodeAddressList(raw rawProperty) ([]byte, bool) {
	var list *[]emailAddress
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if d.Decode(&list) != nil {
		return nil, false
	}
	if list == nil {
		return nil, true
	}
	if len(*list) > maxAddressList {
		return nil, false
	}
	for _, a := range *list {
		if _, err := deliver.ParseAddress(a.Email); err != nil || len(a.Email) > maxEmailBytes {
			return nil, false
		}
		if a.Name != nil && (len(*a.Name) > maxNameBytes || !utf8.ValidString(*a.Name)) {
			return nil, false
		}
	}
	b, err := json.Marshal(*list)
	return b, err == nil
}

// identityObject is the JMAP object of a stored identity.
func identityObject(id store.Identity) map[string]any {
	return map[string]any{
		"id":            formatID('i', id.ID),
		"name":          id.Name,
		"email":         id.Email,
		"replyTo":       rawOrNull(id.ReplyTo),
		"bcc":           rawOrNull(id.Bcc),
		"textSignature": id.TextSignature,
		"htmlSignature": id.HTMLSignature,
		"mayDelete":     !id.IsDefault,
	}
}

func rawOrNull(b []byte) json.RawMessage {
	if b == nil {
		return json.RawMessage("null")
	}
	return b
}

// identityGet is Identity/get (RFC 8621 §6.1).
func (h *handler) identityGet(ctx context.Context, c *jmap.Call) (any, error) {
	var a getArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	props, err := selectProperties(a.Properties, identityProperties)
	if err != nil {
		return nil, err
	}
	if a.IDs != nil {
		if err := c.CheckGet(len(*a.IDs)); err != nil {
			return nil, err
		}
	}
	list, state, err := h.st.Identities(ctx, acct.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	resp := getResponse{AccountID: a.AccountID, State: formatState(state), List: []map[string]any{}, NotFound: []string{}}
	byID := map[string]store.Identity{}
	for _, id := range list {
		byID[formatID('i', id.ID)] = id
	}
	if a.IDs == nil {
		for _, id := range list {
			resp.List = append(resp.List, only(identityObject(id), props))
		}
		return resp, nil
	}
	seen := map[string]bool{}
	for _, raw := range *a.IDs {
		id, _ := resolveID(c, raw)
		if seen[id] {
			continue
		}
		seen[id] = true
		if got, ok := byID[id]; ok {
			resp.List = append(resp.List, only(identityObject(got), props))
		} else {
			resp.NotFound = append(resp.NotFound, raw)
		}
	}
	return resp, nil
}

// identityChanges is Identity/changes (RFC 8621 §6.2).
func (h *handler) identityChanges(ctx context.Context, c *jmap.Call) (any, error) {
	return h.changes(ctx, c, 'i', h.st.IdentityChanges)
}

// identitySet is Identity/set (RFC 8621 §6.3). An identity may be created
// only for an address the account may send as: the rule of the submission
// port (deliver.Pipeline.Owns), else forbiddenFrom. The email of an
// identity never changes; the default identity cannot be destroyed.
func (h *handler) identitySet(ctx context.Context, c *jmap.Call) (any, error) {
	var a setArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	if a.OnSuccessUpdateEmail != nil || a.OnSuccessDestroyEmail != nil {
		return nil, jmap.NewError(jmap.InvalidArguments, "onSuccess arguments belong to EmailSubmission/set")
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	defer h.lock(acct.ID)()
	list, state, err := h.st.Identities(ctx, acct.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	if err := checkSet(c, &a, formatState(state)); err != nil {
		return nil, err
	}
	resp := newSetResponse(a.AccountID, formatState(state))
	byID := map[int64]store.Identity{}
	for _, id := range list {
		byID[id.ID] = id
	}
	for _, cid := range sortedKeys(a.Create) {
		made, serr := h.createIdentity(ctx, acct, a.Create[cid])
		if serr != nil {
			resp.NotCreated[cid] = serr
			continue
		}
		id := formatID('i', made.ID)
		c.CreatedIDs[cid] = id
		// The whole object: the server set id and mayDelete, and the
		// defaults of what the client left out (RFC 8620 §5.3).
		resp.Created[cid] = identityObject(made)
		byID[made.ID] = made
	}
	for _, key := range sortedKeys(a.Update) {
		id, _ := resolveID(c, key)
		n, ok := parseID(id, 'i')
		have, found := byID[n]
		if !ok || !found {
			resp.NotUpdated[key] = jmap.NewError(jmap.NotFound, "")
			continue
		}
		if serr := h.updateIdentity(ctx, have, a.Update[key]); serr != nil {
			resp.NotUpdated[key] = serr
			continue
		}
		resp.Updated[id] = nil
	}
	for _, key := range a.Destroy {
		id, _ := resolveID(c, key)
		n, ok := parseID(id, 'i')
		if !ok {
			resp.NotDestroyed[key] = jmap.NewError(jmap.NotFound, "")
			continue
		}
		err := h.st.DestroyIdentity(ctx, acct.ID, n)
		switch {
		case errors.Is(err, store.ErrNotFound):
			resp.NotDestroyed[key] = jmap.NewError(jmap.NotFound, "")
		case errors.Is(err, store.ErrNotPermitted):
			resp.NotDestroyed[key] = jmap.NewError(jmap.Forbidden, "the identity of the account's own address cannot be destroyed")
		case err != nil:
			return nil, err
		default:
			resp.Destroyed = append(resp.Destroyed, id)
		}
	}
	if _, after, err := h.st.Identities(ctx, acct.ID); err == nil {
		resp.NewState = formatState(after)
	} else {
		return nil, storeErr(err)
	}
	return resp, nil
}

func (h *handler) createIdentity(ctx context.Context, acct store.Account, obj map[string]rawProperty) (store.Identity, *jmap.Error) {
	f, bad := decodeIdentity(obj)
	if len(bad) > 0 {
		return store.Identity{}, invalidProperties("", bad...)
	}
	if f.email == nil {
		return store.Identity{}, invalidProperties("email is required", "email")
	}
	addr, err := deliver.ParseAddress(*f.email)
	if err != nil {
		return store.Identity{}, invalidProperties("not an email address", "email")
	}
	owned, err := h.opts.Pipeline.Owns(ctx, acct, addr)
	if err != nil {
		h.log.Error("identity: checking the address", "account", acct.Address, "err", err)
		return store.Identity{}, jmap.NewError(jmap.ServerFail, "")
	}
	if !owned {
		return store.Identity{}, jmap.NewError(forbiddenFrom, "the account may not send as "+addr.String())
	}
	id := store.Identity{AccountID: acct.ID, Email: addr.String(), ReplyTo: f.replyTo, Bcc: f.bcc}
	if f.name != nil {
		id.Name = *f.name
	}
	if f.textSignature != nil {
		id.TextSignature = *f.textSignature
	}
	if f.htmlSignature != nil {
		id.HTMLSignature = *f.htmlSignature
	}
	made, err := h.st.CreateIdentity(ctx, id)
	if err != nil {
		h.log.Error("identity: create", "account", acct.Address, "err", err)
		return store.Identity{}, jmap.NewError(jmap.ServerFail, "")
	}
	return made, nil
}

func (h *handler) updateIdentity(ctx context.Context, have store.Identity, patch map[string]rawProperty) *jmap.Error {
	f, bad := decodeIdentity(patch)
	if len(bad) > 0 {
		return invalidProperties("", bad...)
	}
	if f.email != nil && *f.email != have.Email {
		return invalidProperties("email cannot be changed", "email")
	}
	if f.name != nil {
		have.Name = *f.name
	}
	if f.textSignature != nil {
		have.TextSignature = *f.textSignature
	}
	if f.htmlSignature != nil {
		have.HTMLSignature = *f.htmlSignature
	}
	if f.replyToSet {
		have.ReplyTo = f.replyTo
	}
	if f.bccSet {
		have.Bcc = f.bcc
	}
	if _, err := h.st.UpdateIdentity(ctx, have); errors.Is(err, store.ErrNotFound) {
		return jmap.NewError(jmap.NotFound, "")
	} else if err != nil {
		h.log.Error("identity: update", "id", have.ID, "err", err)
		return jmap.NewError(jmap.ServerFail, "")
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
