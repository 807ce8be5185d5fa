package jmapsieve

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"postern/internal/jmap"
	"postern/internal/store"
)

// vacationID is the id of the one VacationResponse of an account (RFC 8621
// §8).
const vacationID = "singleton"

// vacationProperties of a VacationResponse, in the order they are
// answered.
var vacationProperties = []string{"id", "isEnabled", "fromDate", "toDate", "subject", "textBody", "htmlBody"}

// vacationFields maps the admin service's field names to properties.
var vacationFields = map[string]string{"subject": "subject", "text": "textBody", "html": "htmlBody", "to": "toDate"}

// maxPatchSize bounds one VacationResponse patch: the bodies' limits and
// their JSON escaping.
const maxPatchSize = 1 << 20

// formatUTCDate writes an RFC 8620 §1.4 UTCDate.
func formatUTCDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// parseUTCDate reads a UTCDate: RFC 3339 with "Z" as the offset.
func parseUTCDate(s string) (time.Time, bool) {
	if !strings.HasSuffix(s, "Z") || len(s) > 40 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err == nil
}

func vacationState(v store.Vacation) string { return strconv.FormatInt(v.Version, 10) }

func optString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func optDate(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatUTCDate(t)
}

func vacationObject(v store.Vacation, props []string) map[string]any {
	o := make(map[string]any, len(props))
	for _, p := range props {
		switch p {
		case "id":
			o[p] = vacationID
		case "isEnabled":
			o[p] = v.Enabled
		case "fromDate":
			o[p] = optDate(v.From)
		case "toDate":
			o[p] = optDate(v.To)
		case "subject":
			o[p] = optString(v.Subject)
		case "textBody":
			o[p] = optString(v.TextBody)
		case "htmlBody":
			o[p] = optString(v.HTMLBody)
		}
	}
	return o
}

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

// selectProperties checks the properties asked for against known; nil
// asks for all. "id" is always returned (RFC 8620 §5.1).
func selectProperties(asked *[]string, known []string) ([]string, error) {
	if asked == nil {
		return known, nil
	}
	props := []string{"id"}
	for _, p := range *asked {
		found := false
		for _, k := range known {
			found = found || p == k
		}
		if !found {
			return nil, jmap.NewError(jmap.InvalidArguments, "unknown property "+strconv.Quote(p))
		}
		if p != "id" {
			props = append(props, p)
		}
	}
	return props, nil
}

// vacationGet is VacationResponse/get (RFC 8621 §8.1).
func (h *Handler) vacationGet(ctx context.Context, c *jmap.Call) (any, error) {
	var a getArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	props, err := selectProperties(a.Properties, vacationProperties)
	if err != nil {
		return nil, err
	}
	if a.IDs != nil {
		if err := c.CheckGet(len(*a.IDs)); err != nil {
			return nil, err
		}
	}
	v, err := h.o.Admin.Vacation(ctx, acct.Address)
	if err != nil {
		return nil, err
	}
	resp := getResponse{AccountID: a.AccountID, State: vacationState(v), List: []map[string]any{}, NotFound: []string{}}
	ids := []string{vacationID}
	if a.IDs != nil {
		ids = *a.IDs
	}
	seen := false
	for _, id := range ids {
		switch {
		case id != vacationID:
			resp.NotFound = append(resp.NotFound, id)
		case !seen:
			seen = true
			resp.List = append(resp.List, vacationObject(v, props))
		}
	}
	return resp, nil
}

type setArgs struct {
	AccountID string                     `json:"accountId"`
	IfInState *string                    `json:"ifInState"`
	Create    map[string]json.RawMessage `json:"create"`
	Update    map[string]json.RawMessage `json:"update"`
	Destroy   []string                   `json:"destroy"`
}

type setResponse struct {
	AccountID    string                 `json:"accountId"`
	OldState     *string                `json:"oldState"`
	NewState     string                 `json:"newState"`
	Created      map[string]any         `json:"created"`
	Updated      map[string]any         `json:"updated"`
	Destroyed    []string               `json:"destroyed"`
	NotCreated   map[string]*jmap.Error `json:"notCreated"`
	NotUpdated   map[string]*jmap.Error `json:"notUpdated"`
	NotDestroyed map[string]*jmap.Error `json:"notDestroyed"`
}

func (r *setResponse) notCreated(id string, e *jmap.Error) {
	if r.NotCreated == nil {
		r.NotCreated = map[string]*jmap.Error{}
	}
	r.NotCreated[id] = e
}

func (r *setResponse) notUpdated(id string, e *jmap.Error) {
	if r.NotUpdated == nil {
		r.NotUpdated = map[string]*jmap.Error{}
	}
	r.NotUpdated[id] = e
}

func (r *setResponse) notDestroyed(id string, e *jmap.Error) {
	if r.NotDestroyed == nil {
		r.NotDestroyed = map[string]*jmap.Error{}
	}
	r.NotDestroyed[id] = e
}

func (r *setResponse) updated(id string, changed map[string]any) {
	if r.Updated == nil {
		r.Updated = map[string]any{}
	}
	if len(changed) == 0 {
		r.Updated[id] = nil
	} else {
		r.Updated[id] = changed
	}
}

// vacationSet is VacationResponse/set (RFC 8621 §8.2): only an update of
// "singleton"; create and destroy are refused with "singleton".
func (h *Handler) vacationSet(ctx context.Context, c *jmap.Call) (any, error) {
	var a setArgs
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
	v, err := h.o.Admin.Vacation(ctx, acct.Address)
	if err != nil {
		return nil, err
	}
	old := vacationState(v)
	if a.IfInState != nil && *a.IfInState != old {
		return nil, jmap.NewError(jmap.StateMismatch, "")
	}
	resp := setResponse{AccountID: a.AccountID, OldState: &old, NewState: old}
	for id := range a.Create {
		resp.notCreated(id, setError(jmap.Singleton, "there is one VacationResponse, \"singleton\"; update it"))
	}
	for _, id := range a.Destroy {
		resp.notDestroyed(id, setError(jmap.Singleton, "the VacationResponse cannot be destroyed; disable it"))
	}
	for id, patch := range a.Update {
		if id != vacationID {
			resp.notUpdated(id, setError(jmap.NotFound, ""))
			continue
		}
		next := v
		sent, bad, ok := decodeVacationPatch(patch, &next)
		if !ok {
			resp.notUpdated(id, setError(jmap.InvalidPatch, "the patch is not a JSON object"))
			continue
		}
		if len(bad) > 0 {
			resp.notUpdated(id, setError(jmap.InvalidProperties, "").With("properties", bad))
			continue
		}
		stored, err := h.o.Admin.SetVacation(asUser(ctx, acct), acct.Address, next)
		if err != nil {
			se, err := adminSetError(err, vacationFields)
			if err != nil {
				return nil, err
			}
			resp.notUpdated(id, se)
			continue
		}
		h.o.Changed(acct.ID)
		v = stored
		resp.NewState = vacationState(stored)
		// Dates are kept to the second: say so when the client sent more.
		changed := map[string]any{}
		for p, s := range sent {
			if got := vacationObject(stored, []string{p})[p]; got != nil && got != s {
				changed[p] = got
			}
		}
		resp.updated(id, changed)
	}
	return resp, nil
}

// decodeVacationPatch applies a PatchObject (RFC 8620 §5.3) to v. It
// returns the dates as sent, and the properties it refuses: unknown ones,
// paths into a property (none of them is an object), server-set ones with
// another value, and values of the wrong type; ok is false when raw is no
// patch at all.
func decodeVacationPatch(raw json.RawMessage, v *store.Vacation) (dates map[string]string, bad []string, ok bool) {
	var patch map[string]json.RawMessage
	if len(raw) > maxPatchSize || json.Unmarshal(raw, &patch) != nil || patch == nil {
		return nil, nil, false
	}
	dates = map[string]string{}
	for p, val := range patch {
		isNull := bytes.Equal(bytes.TrimSpace(val), []byte("null"))
		ok := true
		switch p {
		case "id":
			var id string
			ok = json.Unmarshal(val, &id) == nil && id == vacationID
		case "isEnabled":
			ok = !isNull && json.Unmarshal(val, &v.Enabled) == nil
		case "fromDate", "toDate":
			var t time.Time
			if !isNull {
				var s string
				if ok = json.Unmarshal(val, &s) == nil; ok {
					t, ok = parseUTCDate(s)
					dates[p] = s
				}
			}
			if p == "fromDate" {
				v.From = t
			} else {
				v.To = t
			}
		case "subject":
			v.Subject, ok = decodeOptString(val, isNull)
		case "textBody":
			v.TextBody, ok = decodeOptString(val, isNull)
		case "htmlBody":
			v.HTMLBody, ok = decodeOptString(val, isNull)
		default:
			ok = false
		}
		if !ok {
			bad = append(bad, p)
		}
	}
	return dates, bad, true
}

func decodeOptString(val json.RawMessage, isNull bool) (*string, bool) {
	if isNull {
		return nil, true
	}
	var s string
	if json.Unmarshal(val, &s) != nil {
		return nil, false
	}
	return &s, true
}
