package jmapsubmit

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"postern/internal/jmap"
	"postern/internal/store"
)

// EmailSubmission (RFC 8621 §7): get, changes and set.

var submissionProperties = []string{"id", "identityId", "emailId", "threadId", "envelope", "sendAt",
	"undoStatus", "deliveryStatus", "dsnBlobIds", "mdnBlobIds"}

const utcDate = "2006-01-02T15:04:05Z"

// submissionObject is the JMAP object of a stored submission; status is
// its deliveryStatus as it stands now.
func submissionObject(s store.EmailSubmission, status map[string]deliveryStatus) map[string]any {
	return map[string]any{
		"id":             formatID('s', s.ID),
		"identityId":     formatID('i', s.IdentityID),
		"emailId":        formatID('e', s.EmailID),
		"threadId":       formatID('t', s.ThreadID),
		"envelope":       json.RawMessage(s.Envelope),
		"sendAt":         s.SendAt.UTC().Format(utcDate),
		"undoStatus":     s.UndoStatus,
		"deliveryStatus": status,
		"dsnBlobIds":     []string{},
		"mdnBlobIds":     []string{},
	}
}

// queueView answers the delivery status of queued recipients from the
// outbound queue, reading each queue entry once per call.
type queueView struct {
	st      store.QueueStore
	entries map[int64]*store.QueueMessage // nil: gone
}

// status updates what was recorded at sending with what the queue says
// now: a queued recipient still pending stays queued; one the queue is
// done with is delivered or failed; when its entry is gone (the queue
// drops an entry once every recipient is done) the outcome is unknown.
func (q *queueView) status(ctx context.Context, s store.EmailSubmission) map[string]deliveryStatus {
	var recorded map[string]deliveryStatus
	if json.Unmarshal(s.DeliveryStatus, &recorded) != nil {
		return map[string]deliveryStatus{}
	}
	for rcpt, st := range recorded {
		if st.Delivered != "queued" {
			continue
		}
		st.Delivered, st.SMTPReply = "unknown", "250 2.0.0 Relayed"
		for _, id := range s.QueueIDs {
			m := q.entry(ctx, id)
			if m == nil {
				continue
			}
			for _, r := range m.Recipients {
				if !strings.EqualFold(r.Rcpt, rcpt) {
					continue
				}
				switch r.Status {
				case store.QueuePending:
					st.Delivered, st.SMTPReply = "queued", "250 2.0.0 Queued"
					if r.LastError != "" {
						st.SMTPReply = r.LastError
					}
				case store.QueueDelivered:
					st.Delivered, st.SMTPReply = "yes", "250 2.0.0 Delivered"
				case store.QueueFailed:
					st.Delivered, st.SMTPReply = "no", "550 5.0.0 Failed"
					if r.LastError != "" {
						st.SMTPReply = r.LastError
					}
				}
			}
		}
		recorded[rcpt] = st
	}
	return recorded
}

func (q *queueView) entry(ctx context.Context, id int64) *store.QueueMessage {
	if m, ok := q.entries[id]; ok {
		return m
	}
	var got *store.QueueMessage
	if m, err := q.st.QueueMessage(ctx, id); err == nil {
		got = &m
	}
	q.entries[id] = got
	return got
}

// submissionGet is EmailSubmission/get (RFC 8621 §7.1).
func (h *handler) submissionGet(ctx context.Context, c *jmap.Call) (any, error) {
	var a getArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	props, err := selectProperties(a.Properties, submissionProperties)
	if err != nil {
		return nil, err
	}
	var want []int64
	var wantRaw []string
	if a.IDs != nil {
		if err := c.CheckGet(len(*a.IDs)); err != nil {
			return nil, err
		}
		want = []int64{}
		for _, raw := range *a.IDs {
			id, _ := resolveID(c, raw)
			if n, ok := parseID(id, 's'); ok {
				want = append(want, n)
			}
			wantRaw = append(wantRaw, raw)
		}
	}
	list, state, err := h.st.EmailSubmissions(ctx, acct.ID, want)
	if err != nil {
		return nil, storeErr(err)
	}
	resp := getResponse{AccountID: a.AccountID, State: formatState(state), List: []map[string]any{}, NotFound: []string{}}
	q := &queueView{st: h.st, entries: map[int64]*store.QueueMessage{}}
	found := map[string]bool{}
	for _, s := range list {
		id := formatID('s', s.ID)
		if found[id] {
			continue
		}
		found[id] = true
		var status map[string]deliveryStatus
		if slices.Contains(props, "deliveryStatus") {
			status = q.status(ctx, s)
		}
		resp.List = append(resp.List, only(submissionObject(s, status), props))
	}
	for _, raw := range wantRaw {
		if id, _ := resolveID(c, raw); !found[id] && !slices.Contains(resp.NotFound, raw) {
			resp.NotFound = append(resp.NotFound, raw)
		}
	}
	return resp, nil
}

// submissionChanges is EmailSubmission/changes (RFC 8621 §7.2).
func (h *handler) submissionChanges(ctx context.Context, c *jmap.Call) (any, error) {
	return h.changes(ctx, c, 's', h.st.EmailSubmissionChanges)
}

// submissionSet is EmailSubmission/set (RFC 8621 §7.5). Create sends at
// once (undoStatus "final"); an update may only try to cancel, which a
// final submission refuses (cannotUnsend); destroy forgets the record.
// onSuccessUpdateEmail and onSuccessDestroyEmail then run as an implicit
// Email/set of the same request, whose response follows this one.
func (h *handler) submissionSet(ctx context.Context, c *jmap.Call) (any, error) {
	var a setArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	if err := c.CheckSet(len(a.OnSuccessUpdateEmail) + len(a.OnSuccessDestroyEmail)); err != nil {
		return nil, err
	}
	defer h.lock(acct.ID)()
	have, state, err := h.st.EmailSubmissions(ctx, acct.ID, nil)
	if err != nil {
		return nil, storeErr(err)
	}
	if err := checkSet(c, &a, formatState(state)); err != nil {
		return nil, err
	}
	idents, _, err := h.st.Identities(ctx, acct.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	identities := map[int64]store.Identity{}
	for _, id := range idents {
		identities[id.ID] = id
	}
	byID := map[int64]store.EmailSubmission{}
	for _, s := range have {
		byID[s.ID] = s
	}
	resp := newSetResponse(a.AccountID, formatState(state))
	// succeeded maps the ids the onSuccess arguments may name ("#cid"
	// and submission ids) to the email of each submission that succeeded.
	succeeded := map[string]int64{}
	for _, cid := range sortedKeys(a.Create) {
		s, serr := h.create(ctx, c, acct, identities, a.Create[cid])
		if serr != nil {
			resp.NotCreated[cid] = serr
			continue
		}
		id := formatID('s', s.ID)
		c.CreatedIDs[cid] = id
		// The whole object, the envelope made from the Email included.
		q := &queueView{st: h.st, entries: map[int64]*store.QueueMessage{}}
		resp.Created[cid] = submissionObject(s, q.status(ctx, s))
		succeeded["#"+cid] = s.EmailID
		byID[s.ID] = s
	}
	if err := h.updateAndDestroy(ctx, c, acct, &a, byID, resp, succeeded); err != nil {
		return nil, err
	}
	// Records older than KeepFor go now, after ifInState was checked
	// against the state the client knows; the new state covers it.
	if _, err := h.st.PurgeEmailSubmissions(ctx, acct.ID, h.opts.Now().Add(-h.opts.KeepFor)); err != nil {
		return nil, storeErr(err)
	}
	if _, after, err := h.st.EmailSubmissions(ctx, acct.ID, []int64{}); err == nil {
		resp.NewState = formatState(after)
	} else {
		return nil, storeErr(err)
	}
	return h.onSuccess(ctx, c, &a, resp, succeeded)
}

// updateAndDestroy applies the updates (none can change anything: see
// checkUpdate) and destroys of an EmailSubmission/set, noting in succeeded
// the email of each that succeeded.
func (h *handler) updateAndDestroy(ctx context.Context, c *jmap.Call, acct store.Account, a *setArgs,
	byID map[int64]store.EmailSubmission, resp *setResponse, succeeded map[string]int64) error {
	for _, key := range sortedKeys(a.Update) {
		id, _ := resolveID(c, key)
		n, ok := parseID(id, 's')
		s, found := byID[n]
		if !ok || !found {
			resp.NotUpdated[key] = jmap.NewError(jmap.NotFound, "")
			continue
		}
		if serr := checkUpdate(a.Update[key]); serr != nil {
			resp.NotUpdated[key] = serr
			continue
		}
		resp.Updated[id] = nil
		succeeded[id] = s.EmailID
	}
	for _, key := range a.Destroy {
		id, _ := resolveID(c, key)
		n, ok := parseID(id, 's')
		s, found := byID[n]
		if !ok || !found {
			resp.NotDestroyed[key] = jmap.NewError(jmap.NotFound, "")
			continue
		}
		if err := h.st.DestroyEmailSubmission(ctx, acct.ID, n); errors.Is(err, store.ErrNotFound) {
			resp.NotDestroyed[key] = jmap.NewError(jmap.NotFound, "")
			continue
		} else if err != nil {
			return err
		}
		resp.Destroyed = append(resp.Destroyed, id)
		succeeded[id] = s.EmailID
	}
	return nil
}

// create sends one submission and records it.
func (h *handler) create(ctx context.Context, c *jmap.Call, acct store.Account, identities map[int64]store.Identity,
	obj map[string]rawProperty) (store.EmailSubmission, *jmap.Error) {
	out, serr := h.send(ctx, c, acct, identities, obj)
	if serr != nil {
		return store.EmailSubmission{}, serr
	}
	env, err := json.Marshal(out.envelope)
	if err != nil {
		return store.EmailSubmission{}, h.fail("recording", acct, err)
	}
	status, err := json.Marshal(out.status)
	if err != nil {
		return store.EmailSubmission{}, h.fail("recording", acct, err)
	}
	s, err := h.st.CreateEmailSubmission(ctx, store.EmailSubmission{AccountID: acct.ID, IdentityID: out.identity,
		EmailID: out.email.ID, ThreadID: out.email.ThreadID, Envelope: env, DeliveryStatus: status,
		SendAt: h.opts.Now().UTC().Truncate(time.Second), UndoStatus: "final", QueueIDs: out.queueIDs})
	if err != nil {
		// Sent, but not recorded: the client must not send it again.
		h.log.Error("submission: sent but not recorded", "account", acct.Address, "email", out.email.ID, "err", err)
		return store.EmailSubmission{}, jmap.NewError(jmap.ServerFail, "the message was sent but its record was not kept")
	}
	return s, nil
}

// checkUpdate accepts a patch that leaves undoStatus "final"; cancelling
// is too late (cannotUnsend), and nothing else may change.
func checkUpdate(patch map[string]rawProperty) *jmap.Error {
	for k, raw := range patch {
		if k != "undoStatus" {
			return invalidProperties("only undoStatus may change", k)
		}
		var v string
		if json.Unmarshal(raw, &v) != nil || (v != "final" && v != "canceled" && v != "pending") {
			return invalidProperties("", "undoStatus")
		}
		if v != "final" {
			return jmap.NewError(cannotUnsend, "the message has been sent")
		}
	}
	return nil
}

// onSuccess runs the Email/set that onSuccessUpdateEmail and
// onSuccessDestroyEmail ask for, for the submissions that succeeded
// (RFC 8621 §7.5), and answers with both responses.
func (h *handler) onSuccess(ctx context.Context, c *jmap.Call, a *setArgs, resp *setResponse, succeeded map[string]int64) (any, error) {
	update := map[string]map[string]rawProperty{}
	for _, key := range sortedKeys(a.OnSuccessUpdateEmail) {
		if email, ok := succeeded[key]; ok {
			update[formatID('e', email)] = a.OnSuccessUpdateEmail[key]
		}
	}
	destroy := []string{}
	for _, key := range a.OnSuccessDestroyEmail {
		if email, ok := succeeded[key]; ok && !slices.Contains(destroy, formatID('e', email)) {
			destroy = append(destroy, formatID('e', email))
		}
	}
	if len(update) == 0 && len(destroy) == 0 {
		return resp, nil
	}
	args := map[string]any{"accountId": a.AccountID}
	if len(update) > 0 {
		args["update"] = update
	}
	if len(destroy) > 0 {
		args["destroy"] = destroy
	}
	more, err := c.Invoke(ctx, "Email/set", args)
	if err != nil {
		return nil, err
	}
	return append(jmap.Responses{{Name: c.Name, Args: resp}}, more...), nil
}
