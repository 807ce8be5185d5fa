package jmapmail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"postern/internal/jmap"
	"postern/internal/message"
	"postern/internal/store"
)

// Email/get (RFC 8621 §4.1, §4.2) answers the properties that the stored
// metadata holds: the store row (id, blob, thread, mailbox, flags and
// keywords, size, received date), the envelope and body structure that
// parsing at delivery kept, and the preview. Three properties need the
// message's header block, which is read from the blob (never the body)
// only when one of them is asked for: references (not in the envelope),
// and sender and replyTo, which the envelope fills with From when absent
// (RFC 3501 §7.4.2) while JMAP wants null.
//
// Not supported yet (asked for, they are refused with invalidArguments):
// headers, header:{name}[:as...][:all], bodyStructure, bodyValues,
// textBody, htmlBody, attachments. So the default properties are the RFC's
// list without bodyValues, textBody, htmlBody and attachments; the
// arguments bodyProperties and fetch*BodyValues are accepted and have
// nothing to act on.

// emailProperties are the Email properties answered, in the RFC's order.
var emailProperties = []string{"id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt",
	"messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject",
	"sentAt", "hasAttachment", "preview"}

// emailUnsupported are Email properties of RFC 8621 §4.1 not answered yet.
var emailUnsupported = []string{"headers", "bodyStructure", "bodyValues", "textBody", "htmlBody", "attachments"}

// maxHeaderRead bounds the header block read for references, sender and
// replyTo (message.DefaultLimits parses no more of a header).
const maxHeaderRead = 256 << 10

type emailGetArgs struct {
	AccountID           string    `json:"accountId"`
	IDs                 *[]string `json:"ids"`
	Properties          *[]string `json:"properties"`
	BodyProperties      *[]string `json:"bodyProperties"`
	FetchTextBodyValues bool      `json:"fetchTextBodyValues"`
	FetchHTMLBodyValues bool      `json:"fetchHTMLBodyValues"`
	FetchAllBodyValues  bool      `json:"fetchAllBodyValues"`
	MaxBodyValueBytes   *int64    `json:"maxBodyValueBytes"`
}

// emailAddress is an EmailAddress (RFC 8621 §4.1.2.3).
type emailAddress struct {
	Name  *string `json:"name"`
	Email string  `json:"email"`
}

// emailGet is Email/get. With ids null it answers every email of the
// account (RFC 8620 §5.1), or requestTooLarge when they are more than
// maxObjectsInGet.
func (h *handler) emailGet(ctx context.Context, c *jmap.Call) (any, error) {
	var a emailGetArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	if a.MaxBodyValueBytes != nil && *a.MaxBodyValueBytes <= 0 {
		return nil, jmap.NewError(jmap.InvalidArguments, "maxBodyValueBytes must be a positive integer")
	}
	props, err := emailProps(a.Properties)
	if err != nil {
		return nil, err
	}
	if a.IDs != nil {
		if err := c.CheckGet(len(*a.IDs)); err != nil {
			return nil, err
		}
	}
	var ids []string
	var state uint64
	var rows map[int64]store.Message
	if a.IDs == nil {
		// The state is the listing's: a change after it shows again in
		// the next Email/changes.
		ix, err := h.loadIndex(ctx, acct)
		if err != nil {
			return nil, err
		}
		all := ix.messageIDs()
		if err := c.CheckGet(len(all)); err != nil {
			return nil, err
		}
		for _, id := range all {
			ids = append(ids, emailID(id))
		}
		if rows, err = h.read(ctx, acct, ix, all, needsMeta(props)); err != nil {
			return nil, err
		}
		state = ix.modseq
	} else {
		ids = dedup(*a.IDs)
		want := make([]int64, 0, len(ids))
		for _, id := range ids {
			if n, ok := parseID(resolveCreated(c, id), 'e'); ok {
				want = append(want, n)
			}
		}
		// The state is read before the messages: a change in between
		// shows again in the next Email/changes. The messages are looked
		// up by id, at a cost that follows the answer, not the account.
		if state, err = h.st.AccountModSeq(ctx, acct); err != nil {
			return nil, storeErr(err)
		}
		found, err := h.st.MessagesByID(ctx, acct, want)
		if err != nil {
			return nil, storeErr(err)
		}
		rows = make(map[int64]store.Message, len(found))
		for _, m := range found {
			rows[m.ID] = m
		}
	}
	resp := getResponse{AccountID: a.AccountID, State: formatState(state), List: []map[string]any{}, NotFound: []string{}}
	for _, id := range ids {
		n, _ := parseID(resolveCreated(c, id), 'e')
		m, ok := rows[n]
		if !ok {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		o, err := h.emailObject(ctx, m, props)
		if err != nil {
			return nil, err
		}
		resp.List = append(resp.List, o)
	}
	return resp, nil
}

// resolveCreated maps "#creationId" to the id created in this request
// (RFC 8620 §5.3), leaving other ids as they are.
func resolveCreated(c *jmap.Call, id string) string {
	if len(id) > 1 && id[0] == '#' {
		if v, ok := c.CreatedIDs[id[1:]]; ok {
			return v
		}
	}
	return id
}

// emailProps checks the properties asked for.
func emailProps(asked *[]string) ([]string, error) {
	if asked != nil {
		for _, p := range *asked {
			if strings.HasPrefix(p, "header:") || slices.Contains(emailUnsupported, p) {
				return nil, jmap.NewError(jmap.InvalidArguments, "property "+p+" is not supported")
			}
		}
	}
	return pickProperties(asked, emailProperties, nil)
}

// needsMeta tells whether props need more than the light store row.
func needsMeta(props []string) bool {
	for _, p := range props {
		switch p {
		case "id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt":
		default:
			return true
		}
	}
	return false
}

// emailObject is the Email object of m with the properties props.
func (h *handler) emailObject(ctx context.Context, m store.Message, props []string) (map[string]any, error) {
	var env *message.Envelope
	var root *message.Part
	if needsMeta(props) {
		var err error
		if env, root, err = h.parsedForms(ctx, m); err != nil {
			return nil, err
		}
	}
	var hdr *headerFields
	if slices.Contains(props, "references") || slices.Contains(props, "sender") || slices.Contains(props, "replyTo") {
		var err error
		if hdr, err = h.readHeader(ctx, m, root); err != nil {
			return nil, err
		}
	}
	o := make(map[string]any, len(props))
	for _, p := range props {
		switch p {
		case "id":
			o[p] = emailID(m.ID)
		case "blobId":
			o[p] = blobID(m.BlobID)
		case "threadId":
			o[p] = threadID(m.ThreadID)
		case "mailboxIds":
			o[p] = map[string]bool{mailboxID(m.MailboxID): true}
		case "keywords":
			o[p] = keywordsOf(m)
		case "size":
			o[p] = m.Size
		case "receivedAt":
			o[p] = m.InternalDate.UTC().Format(time.RFC3339)
		case "messageId":
			o[p] = msgIDs(env.MessageID)
		case "inReplyTo":
			o[p] = msgIDs(env.InReplyTo)
		case "references":
			o[p] = msgIDs(hdr.references)
		case "sender":
			o[p] = addressesIf(hdr.sender, env.Sender)
		case "from":
			o[p] = addresses(env.From)
		case "to":
			o[p] = addresses(env.To)
		case "cc":
			o[p] = addresses(env.Cc)
		case "bcc":
			o[p] = addresses(env.Bcc)
		case "replyTo":
			o[p] = addressesIf(hdr.replyTo, env.ReplyTo)
		case "subject":
			o[p] = nil
			if env.Subject != "" {
				o[p] = env.DecodedSubject()
			}
		case "sentAt":
			o[p] = nil
			if t, ok := env.Time(); ok {
				o[p] = t.Format(time.RFC3339)
			}
		case "hasAttachment":
			o[p] = hasAttachment(root)
		case "preview":
			o[p] = m.Preview
		}
	}
	return o, nil
}

// msgIDs is a header:...:asMessageIds value (RFC 8621 §4.1.2.4): the ids
// without angle brackets, null when the field is absent or holds none.
func msgIDs(field string) []string {
	ids := message.ParseMsgIDs(field)
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// addresses is a header:...:asAddresses value (RFC 8621 §4.1.2.3): the
// mailboxes of the list, groups flattened, names decoded; null when
// there are none.
func addresses(list []message.Address) []emailAddress {
	var out []emailAddress
	for _, a := range list {
		if a.Kind != message.Mailbox {
			continue
		}
		e := emailAddress{Email: a.Addr()}
		if n := a.DisplayName(); n != "" {
			e.Name = &n
		}
		out = append(out, e)
	}
	return out
}

// addressesIf is addresses of list when the header has the field, else
// null.
func addressesIf(present bool, list []message.Address) []emailAddress {
	if !present {
		return nil
	}
	return addresses(list)
}

// hasAttachment tells whether a part of the message is an attachment: one
// with Content-Disposition attachment, or a leaf neither text nor
// multipart (an encapsulated message counts as one attachment).
func hasAttachment(p *message.Part) bool {
	if p == nil {
		return false
	}
	if p.Disposition == "attachment" {
		return true
	}
	if p.IsMultipart() {
		for _, c := range p.Children {
			if hasAttachment(c) {
				return true
			}
		}
		return false
	}
	return p.Type != "text" && p.Type != "multipart"
}

// parsedForms decodes the stored envelope and body structure of m; when
// the store holds no usable form, it parses the message once (as imapd
// does).
func (h *handler) parsedForms(ctx context.Context, m store.Message) (*message.Envelope, *message.Part, error) {
	env, err1 := message.UnmarshalEnvelope(m.Envelope)
	root, err2 := message.UnmarshalBody(m.BodyStructure)
	if err1 == nil && err2 == nil {
		return env, root, nil
	}
	rc, err := h.st.OpenBlob(ctx, m.BlobID)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	p, err := message.Parse(rc, message.DefaultLimits())
	if err != nil {
		return nil, nil, err
	}
	return p.Envelope, p.Body, nil
}

// headerFields is what Email/get reads from a message's header block.
type headerFields struct {
	references      string // the last References field, "" when none
	sender, replyTo bool   // whether the fields are there
}

// readHeader reads m's header block (up to the body's start, as the body
// structure tells, and at most maxHeaderRead) and picks the fields the
// envelope lacks.
func (h *handler) readHeader(ctx context.Context, m store.Message, root *message.Part) (*headerFields, error) {
	n := int64(maxHeaderRead)
	if root != nil && root.BodyStart > 0 && root.BodyStart < n {
		n = root.BodyStart
	}
	rc, err := h.st.OpenBlob(ctx, m.BlobID)
	if errors.Is(err, store.ErrNotFound) {
		return &headerFields{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	block, err := io.ReadAll(io.LimitReader(rc, n))
	if err != nil {
		return nil, err
	}
	hf := &headerFields{}
	eachHeaderField(block, func(name, value []byte) {
		switch {
		case bytes.EqualFold(name, []byte("references")):
			hf.references = string(value) // RFC 8621 §4.1.3: the last one
		case bytes.EqualFold(name, []byte("sender")):
			hf.sender = true
		case bytes.EqualFold(name, []byte("reply-to")):
			hf.replyTo = true
		}
	})
	return hf, nil
}

// eachHeaderField calls fn with the name and unfolded value of each field
// of a header block (RFC 5322 §2.2), stopping at the blank line that ends
// it. Lines without a colon are skipped.
func eachHeaderField(block []byte, fn func(name, value []byte)) {
	var name, value []byte
	flush := func() {
		if name != nil {
			fn(name, bytes.TrimSpace(value))
		}
		name, value = nil, nil
	}
	for len(block) > 0 {
		line := block
		if i := bytes.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			block = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if name != nil {
				value = append(value, line...)
			}
			continue
		}
		flush()
		if i := bytes.IndexByte(line, ':'); i > 0 {
			name = bytes.TrimSpace(line[:i])
			value = append([]byte(nil), line[i+1:]...)
		}
	}
	flush()
}
