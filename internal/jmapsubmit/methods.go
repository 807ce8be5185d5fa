package jmapsubmit

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"postern/internal/jmap"
	"postern/internal/store"
)

// What the standard methods share (RFC 8620 §5.1, §5.2).

type getArgs struct {
	AccountID  string    `json:"accountId"`
	IDs        *[]string `json:"ids"`
	Properties *[]string `json:"properties"`
}

type getResponse struct {
	AccountID string           `json:"accountId"`
	State     string           `json:"state"`
	List      []map[string]any `json:"list"`
	NotFound  []string         `json:"notFound"`
}

// selectProperties checks the properties asked for against all and
// returns them, "id" always first (RFC 8620 §5.1); nil asks for all.
func selectProperties(asked *[]string, all []string) ([]string, error) {
	if asked == nil {
		return all, nil
	}
	props := []string{"id"}
	for _, p := range *asked {
		if !slices.Contains(all, p) {
			return nil, jmap.NewError(jmap.InvalidArguments, "unknown property "+p)
		}
		if !slices.Contains(props, p) {
			props = append(props, p)
		}
	}
	return props, nil
}

// only keeps the properties of obj that props names.
func only(obj map[string]any, props []string) map[string]any {
	out := make(map[string]any, len(props))
	for _, p := range props {
		out[p] = obj[p]
	}
	return out
}

type changesArgs struct {
	AccountID  string `json:"accountId"`
	SinceState string `json:"sinceState"`
	MaxChanges *int64 `json:"maxChanges"`
}

type changesResponse struct {
	AccountID      string   `json:"accountId"`
	OldState       string   `json:"oldState"`
	NewState       string   `json:"newState"`
	HasMoreChanges bool     `json:"hasMoreChanges"`
	Created        []string `json:"created"`
	Updated        []string `json:"updated"`
	Destroyed      []string `json:"destroyed"`
}

// changes answers a /changes call from the store's changes of one kind,
// whose ids take prefix. With maxChanges it answers an intermediate state
// (see firstChanges).
func (h *handler) changes(ctx context.Context, c *jmap.Call, prefix byte,
	read func(ctx context.Context, acct int64, since uint64) (store.ObjectChanges, error)) (any, error) {
	var a changesArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	if a.MaxChanges != nil && *a.MaxChanges <= 0 {
		return nil, jmap.NewError(jmap.InvalidArguments, "maxChanges must be a positive integer")
	}
	since, ok := parseState(a.SinceState)
	if !ok {
		return nil, jmap.NewError(jmap.CannotCalculateChanges, "not a state of this server")
	}
	ch, err := read(ctx, acct.ID, since)
	switch {
	case errors.Is(err, store.ErrStateTooOld), errors.Is(err, store.ErrInvalid):
		return nil, jmap.NewError(jmap.CannotCalculateChanges, "")
	case err != nil:
		return nil, storeErr(err)
	}
	resp := changesResponse{AccountID: a.AccountID, OldState: a.SinceState, NewState: formatState(ch.State),
		Created: []string{}, Updated: []string{}, Destroyed: []string{}}
	list := ch.Changes
	if a.MaxChanges != nil && int64(len(list)) > *a.MaxChanges {
		var upto uint64
		list, upto = firstChanges(list, int(*a.MaxChanges))
		resp.NewState, resp.HasMoreChanges = formatState(upto), true
	}
	for _, x := range list {
		id := formatID(prefix, x.ID)
		switch {
		case x.Created:
			resp.Created = append(resp.Created, id)
		case x.Destroyed:
			resp.Destroyed = append(resp.Destroyed, id)
		default:
			resp.Updated = append(resp.Updated, id)
		}
	}
	return resp, nil
}

// firstChanges picks the first max changes and the state they bring the
// client to (RFC 8620 §5.2's intermediate state). An object counts at its
// creation when it was created after the client's state, else at its last
// change, so every object created up to the new state is reported as
// created. What the store does not keep is an object's earlier updates: one
// changed before the new state and again after it is reported in the next
// step, as updated.
func firstChanges(list []store.ObjectChange, max int) ([]store.ObjectChange, uint64) {
	at := func(x store.ObjectChange) uint64 {
		if x.Created {
			return x.CreatedModSeq
		}
		return x.ModSeq
	}
	sorted := slices.Clone(list)
	slices.SortFunc(sorted, func(a, b store.ObjectChange) int { return cmp.Compare(at(a), at(b)) })
	sorted = sorted[:max]
	return sorted, at(sorted[max-1])
}

// setArgs are the arguments of a /set method (RFC 8620 §5.3); updates are
// patch objects, decoded by the method.
type setArgs struct {
	AccountID string                            `json:"accountId"`
	IfInState *string                           `json:"ifInState"`
	Create    map[string]map[string]rawProperty `json:"create"`
	Update    map[string]map[string]rawProperty `json:"update"`
	Destroy   []string                          `json:"destroy"`

	// EmailSubmission/set only (RFC 8621 §7.5).
	OnSuccessUpdateEmail  map[string]map[string]rawProperty `json:"onSuccessUpdateEmail"`
	OnSuccessDestroyEmail []string                          `json:"onSuccessDestroyEmail"`
}

type setResponse struct {
	AccountID    string                 `json:"accountId"`
	OldState     string                 `json:"oldState"`
	NewState     string                 `json:"newState"`
	Created      map[string]any         `json:"created"`
	Updated      map[string]any         `json:"updated"`
	Destroyed    []string               `json:"destroyed"`
	NotCreated   map[string]*jmap.Error `json:"notCreated"`
	NotUpdated   map[string]*jmap.Error `json:"notUpdated"`
	NotDestroyed map[string]*jmap.Error `json:"notDestroyed"`
}

func newSetResponse(accountID, state string) *setResponse {
	return &setResponse{AccountID: accountID, OldState: state, NewState: state,
		Created: map[string]any{}, Updated: map[string]any{}, Destroyed: []string{},
		NotCreated: map[string]*jmap.Error{}, NotUpdated: map[string]*jmap.Error{}, NotDestroyed: map[string]*jmap.Error{}}
}

// checkSet checks the size of a /set call and its ifInState.
func checkSet(c *jmap.Call, a *setArgs, state string) error {
	if err := c.CheckSet(len(a.Create) + len(a.Update) + len(a.Destroy)); err != nil {
		return err
	}
	if a.IfInState != nil && *a.IfInState != state {
		return jmap.NewError(jmap.StateMismatch, "")
	}
	return nil
}

func invalidProperties(desc string, props ...string) *jmap.Error {
	return jmap.NewError(jmap.InvalidProperties, desc).With("properties", props)
}

// SetError types of EmailSubmission/set and Identity/set (RFC 8621 §6.3,
// §7.5).
const (
	forbiddenFrom     jmap.ErrorType = "forbiddenFrom"
	forbiddenMailFrom jmap.ErrorType = "forbiddenMailFrom"
	forbiddenToSend   jmap.ErrorType = "forbiddenToSend"
	invalidEmail      jmap.ErrorType = "invalidEmail"
	tooManyRecipients jmap.ErrorType = "tooManyRecipients"
	noRecipients      jmap.ErrorType = "noRecipients"
	invalidRecipients jmap.ErrorType = "invalidRecipients"
	cannotUnsend      jmap.ErrorType = "cannotUnsend"
)
