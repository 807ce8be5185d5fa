package jmapsubmit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"postern/internal/deliver"
	"postern/internal/jmap"
	"postern/internal/store"
)

// submissionCreate is a decoded EmailSubmission create object.
type submissionCreate struct {
	identityID, emailID string
	envelope            *envelope
}

// decodeCreate checks the properties of an EmailSubmission create object.
// undoStatus may be given as "final" only: Postern sends at once.
func decodeCreate(obj map[string]rawProperty) (submissionCreate, *jmap.Error) {
	var sc submissionCreate
	var bad []string
	for k, raw := range obj {
		var err error
		switch k {
		case "identityId":
			err = json.Unmarshal(raw, &sc.identityID)
		case "emailId":
			err = json.Unmarshal(raw, &sc.emailID)
		case "envelope":
			sc.envelope, err = decodeEnvelope(raw)
		case "undoStatus":
			var v string
			if err = json.Unmarshal(raw, &v); err == nil && v != "final" {
				err = errors.New("undoStatus")
			}
		default:
			err = errors.New(k)
		}
		if err != nil {
			bad = append(bad, k)
		}
	}
	if sc.identityID == "" && !slices.Contains(bad, "identityId") {
		bad = append(bad, "identityId")
	}
	if sc.emailID == "" && !slices.Contains(bad, "emailId") {
		bad = append(bad, "emailId")
	}
	if bad != nil {
		return sc, invalidProperties("", slices.Sorted(slices.Values(bad))...)
	}
	return sc, nil
}

// sent is what a successful send leaves to record.
type sent struct {
	email    store.Message
	identity int64
	envelope *envelope
	status   map[string]deliveryStatus
	queueIDs []int64
}

// deliveryStatus is a DeliveryStatus (RFC 8621 §7).
type deliveryStatus struct {
	SMTPReply string `json:"smtpReply"`
	Delivered string `json:"delivered"`
	Displayed string `json:"displayed"`
}

// send sends an Email of the account as the submission port would: the
// same header rule (deliver.CheckSubmission), the same DKIM signer, then
// the one pipeline with source JMAP. Every refusal is a SetError.
func (h *handler) send(ctx context.Context, c *jmap.Call, acct store.Account, identities map[int64]store.Identity,
	obj map[string]rawProperty) (sent, *jmap.Error) {
	sc, serr := decodeCreate(obj)
	if serr != nil {
		return sent{}, serr
	}
	var out sent
	idRef, _ := resolveID(c, sc.identityID)
	n, ok := parseID(idRef, 'i')
	if _, found := identities[n]; !ok || !found {
		return sent{}, invalidProperties("no such identity", "identityId")
	}
	out.identity = n
	email, raw, serr := h.loadEmail(ctx, c, acct, sc.emailID)
	if serr != nil {
		return sent{}, serr
	}
	out.email = email
	fields, _, err := deliver.SplitHeader(raw)
	if err != nil {
		return sent{}, jmap.NewError(invalidEmail, "the header does not parse").With("properties", []string{"headers"})
	}
	env := sc.envelope
	if env == nil {
		var bad []string
		if env, bad = deriveEnvelope(fields); env == nil {
			return sent{}, jmap.NewError(invalidEmail, "no envelope can be made from the header").With("properties", bad)
		}
	}
	params, serr := h.checkEnvelope(ctx, acct, env)
	if serr != nil {
		return sent{}, serr
	}
	out.envelope = env
	id := newID()
	msg, serr := h.prepare(ctx, acct, raw, id)
	if serr != nil {
		return sent{}, serr
	}
	out.status, out.queueIDs, serr = h.handOver(ctx, acct, env, params, msg, id)
	return out, serr
}

// loadEmail finds the Email a create names (an id or "#creationId") among
// the account's and reads it, within the submission size limit.
func (h *handler) loadEmail(ctx context.Context, c *jmap.Call, acct store.Account, emailID string) (store.Message, []byte, *jmap.Error) {
	ref, _ := resolveID(c, emailID)
	n, ok := parseID(ref, 'e')
	var msgs []store.Message
	if ok {
		var err error
		if msgs, err = h.st.MessagesByID(ctx, acct.ID, []int64{n}); err != nil {
			return store.Message{}, nil, h.fail("reading the email", acct, err)
		}
	}
	if len(msgs) != 1 {
		return store.Message{}, nil, invalidProperties("no such email", "emailId")
	}
	if max := h.opts.MaxMessageBytes; max > 0 && msgs[0].Size > max {
		return store.Message{}, nil, jmap.NewError(jmap.TooLarge, "").With("maxSize", max)
	}
	raw, err := h.readMessage(ctx, msgs[0])
	if err != nil {
		return store.Message{}, nil, h.fail("reading the email", acct, err)
	}
	return msgs[0], raw, nil
}

// handOver gives the message to the pipeline, every recipient or none:
// a recipient the pipeline refuses makes invalidRecipients. It returns
// each recipient's status and the queue entries made.
func (h *handler) handOver(ctx context.Context, acct store.Account, env *envelope, params sendParams, msg []byte,
	id string) (map[string]deliveryStatus, []int64, *jmap.Error) {
	tx := h.opts.Pipeline.Begin(deliver.Envelope{ID: id, Source: deliver.SourceJMAP, Sender: env.MailFrom.Email,
		Account: &acct, Ret: params.ret, EnvID: params.envID, RequireTLS: params.requireTLS})
	status := map[string]deliveryStatus{}
	var refused []string
	for i, r := range env.RcptTo {
		o := params.rcpts[i]
		o.DeclaredSize = int64(len(msg))
		if err := tx.AddRecipient(ctx, r.Email, o); err != nil {
			if !isRecipientRefusal(err) {
				return nil, nil, h.fail("resolving a recipient", acct, err)
			}
			refused = append(refused, r.Email)
			continue
		}
		status[r.Email] = h.initialStatus(ctx, r.Email)
	}
	if refused != nil {
		return nil, nil, jmap.NewError(invalidRecipients, "").With("invalidRecipients", refused)
	}
	res, err := tx.Deliver(ctx, bytes.NewReader(msg))
	switch {
	case errors.Is(err, deliver.ErrAllOverQuota):
		return nil, nil, jmap.NewError(forbiddenToSend, "every recipient's mailbox is full")
	case err != nil:
		return nil, nil, h.fail("sending", acct, err)
	}
	h.log.Info("sent", "id", id, "account", acct.Address, "from", env.MailFrom.Email, "rcpts", len(env.RcptTo),
		"delivered", len(res.Delivered), "queued", res.Remote)
	return status, res.QueueIDs, nil
}

// checkEnvelope applies the submission port's rules to an envelope: the
// sender must be the account's (deliver.Pipeline.Owns, as MAIL FROM on
// port 587; the null sender passes, as there), the recipients within
// MaxRecipients and addresses; parameters those submission supports.
func (h *handler) checkEnvelope(ctx context.Context, acct store.Account, env *envelope) (sendParams, *jmap.Error) {
	if env.MailFrom.Email != "" {
		addr, err := deliver.ParseAddress(env.MailFrom.Email)
		if err != nil {
			return sendParams{}, jmap.NewError(forbiddenMailFrom, "not an address")
		}
		owned, err := h.opts.Pipeline.Owns(ctx, acct, addr)
		if err != nil {
			return sendParams{}, h.fail("checking the sender", acct, err)
		}
		if !owned {
			return sendParams{}, jmap.NewError(forbiddenMailFrom, "the account may not send as "+env.MailFrom.Email)
		}
	}
	switch {
	case len(env.RcptTo) == 0:
		return sendParams{}, jmap.NewError(noRecipients, "")
	case h.opts.MaxRecipients > 0 && len(env.RcptTo) > h.opts.MaxRecipients:
		return sendParams{}, jmap.NewError(tooManyRecipients, "").With("maxRecipients", h.opts.MaxRecipients)
	}
	var invalid []string
	for _, r := range env.RcptTo {
		if _, err := deliver.ParseAddress(r.Email); err != nil {
			invalid = append(invalid, r.Email)
		}
	}
	if invalid != nil {
		return sendParams{}, jmap.NewError(invalidRecipients, "").With("invalidRecipients", invalid)
	}
	return checkParameters(env, h.opts.Extensions)
}

// prepare applies the submission header rule, signs and adds the Received
// field, as the submission port does with what comes over DATA.
func (h *handler) prepare(ctx context.Context, acct store.Account, raw []byte, id string) ([]byte, *jmap.Error) {
	msg, domain, err := h.opts.Pipeline.CheckSubmission(ctx, acct, raw, deliver.SubmitOptions{ID: id, Hostname: h.opts.Hostname})
	if he, ok := deliver.IsHeaderError(err); ok {
		switch he.Problem {
		case deliver.HeaderNotOwned:
			return nil, jmap.NewError(forbiddenFrom, he.Error())
		case deliver.HeaderNoFrom, deliver.HeaderUnparsable:
			prop := strings.ToLower(he.Field)
			if prop != "from" && prop != "sender" {
				prop = "headers"
			}
			return nil, jmap.NewError(invalidEmail, he.Error()).With("properties", []string{prop})
		}
		return nil, jmap.NewError(invalidEmail, he.Error()).With("properties", []string{"headers"})
	} else if err != nil {
		return nil, h.fail("checking the header", acct, err)
	}
	if h.opts.Signer != nil && domain != "" {
		sig, err := h.opts.Signer.Sign(ctx, domain, msg)
		if err != nil {
			return nil, h.fail("DKIM signing", acct, err)
		}
		msg = append(sig, msg...)
	}
	received := fmt.Sprintf("Received: by %s (Postern, JMAP submission) id %s;\r\n\t%s\r\n",
		h.opts.Hostname, id, h.opts.Now().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	return append([]byte(received), msg...), nil
}

// readMessage reads a stored message whole (it was checked against
// MaxMessageBytes), with bare LF line ends made CRLF as SMTP has them.
func (h *handler) readMessage(ctx context.Context, m store.Message) ([]byte, error) {
	rc, err := h.st.OpenBlob(ctx, m.BlobID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	limit := m.Size + 1
	if max := h.opts.MaxMessageBytes; max > 0 {
		limit = max + 1
	}
	raw, err := io.ReadAll(io.LimitReader(rc, limit))
	if err != nil {
		return nil, err
	}
	return toCRLF(raw), nil
}

func toCRLF(b []byte) []byte {
	if !bytes.Contains(b, []byte("\n")) || bytes.Count(b, []byte("\r\n")) == bytes.Count(b, []byte("\n")) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/40)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// isRecipientRefusal tells the pipeline's refusals of a recipient from
// local failures.
func isRecipientRefusal(err error) bool {
	for _, e := range []error{deliver.ErrBadAddress, deliver.ErrRelayDenied, deliver.ErrUnknownUser,
		deliver.ErrAliasLoop, deliver.ErrOverQuota, deliver.ErrRouting} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// initialStatus is a recipient's status once the message is handed over:
// delivered for a local mailbox, queued for anything that leaves (also
// through an alias that forwards).
func (h *handler) initialStatus(ctx context.Context, rcpt string) deliveryStatus {
	queued := deliveryStatus{SMTPReply: "250 2.0.0 Queued", Delivered: "queued", Displayed: "unknown"}
	addr, err := deliver.ParseAddress(rcpt)
	if err != nil {
		return queued
	}
	res, err := h.opts.Pipeline.Resolve(ctx, addr)
	if err != nil || len(res.Remote) > 0 || len(res.Accounts) == 0 {
		return queued
	}
	return deliveryStatus{SMTPReply: "250 2.0.0 Delivered", Delivered: "yes", Displayed: "unknown"}
}

// fail logs a local failure and gives the client its SetError.
func (h *handler) fail(what string, acct store.Account, err error) *jmap.Error {
	h.log.Error("submission: "+what, "account", acct.Address, "err", err)
	if store.IsDiskFull(err) {
		return jmap.NewError(jmap.ServerFail, "the server is out of storage")
	}
	return jmap.NewError(jmap.ServerFail, "")
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns a transaction id like the SMTP sessions' ones: 60 random
// bits, for the Received field and the logs.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])[:12]
}
