package jmapmail

import (
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

// Email/get (RFC 8621 §4.1, §4.2) answers the metadata properties from
// the store row (id, blob, thread, mailbox, flags and keywords, size,
// received date), the envelope and body structure that parsing at
// delivery kept, and the preview. The other properties read the message
// from the blob, and only when asked for: references, sender and replyTo
// (the envelope lacks references, and fills sender and replyTo with From
// when absent, while JMAP wants null) and the header and body properties
// of email_body.go.

// emailProperties are the Email properties answered, in the RFC's order.
var emailProperties = []string{"id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt",
	"messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject",
	"sentAt", "hasAttachment", "preview", "headers", "bodyStructure", "bodyValues", "textBody", "htmlBody",
	"attachments"}

// emailDefaultProperties is the RFC's default list (§4.2).
var emailDefaultProperties = []string{"id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt",
	"messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject",
	"sentAt", "hasAttachment", "preview", "bodyValues", "textBody", "htmlBody", "attachments"}

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
	bo, err := newBodyOptions(a.BodyProperties, a.FetchTextBodyValues, a.FetchHTMLBodyValues, a.FetchAllBodyValues, a.MaxBodyValueBytes)
	if err != nil {
		return nil, err
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
		o, err := h.emailObject(ctx, m, props, bo)
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

// emailProps checks the properties asked for: those of emailProperties
// and header:{name}[:as{Form}][:all] forms.
func emailProps(asked *[]string) ([]string, error) {
	if asked == nil {
		return emailDefaultProperties, nil
	}
	isKnown := func(p string) bool { return slices.Contains(emailProperties, p) }
	if err := checkHeaderProps(*asked, isKnown, "Email"); err != nil {
		return nil, err
	}
	props := []string{"id"} // always returned (RFC 8620 §5.1)
	for _, p := range *asked {
		if !slices.Contains(props, p) {
			props = append(props, p)
		}
	}
	return props, nil
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

// needsBlob tells whether props need the message's bytes (its header
// block or its body), not only the stored metadata.
func needsBlob(props []string) bool {
	for _, p := range props {
		switch p {
		case "references", "sender", "replyTo", "headers", "bodyStructure", "bodyValues", "textBody", "htmlBody", "attachments":
			return true
		}
		if strings.HasPrefix(p, "header:") {
			return true
		}
	}
	return false
}

// emailObject is the Email object of m with the properties props.
func (h *handler) emailObject(ctx context.Context, m store.Message, props []string, bo bodyOptions) (map[string]any, error) {
	var env *message.Envelope
	var root *message.Part
	if needsMeta(props) {
		var err error
		if env, root, err = h.parsedForms(ctx, m); err != nil {
			return nil, err
		}
	}
	var src *emailSource
	if needsBlob(props) {
		src = h.storedSource(ctx, m, root)
		defer src.close()
	}
	var hdr *headerFields
	if slices.Contains(props, "references") || slices.Contains(props, "sender") || slices.Contains(props, "replyTo") {
		var err error
		if hdr, err = readHeader(src); err != nil {
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
		case "preview":
			o[p] = m.Preview
		default:
			if v, ok := envelopeValue(p, env, root, hdr); ok {
				o[p] = v
			}
		}
	}
	if src != nil {
		if err := src.addBodyProps(o, props, bo); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// envelopeValue is an Email property that the envelope, the body
// structure and the header fields hdr give; ok is false for others.
func envelopeValue(p string, env *message.Envelope, root *message.Part, hdr *headerFields) (any, bool) {
	switch p {
	case "messageId":
		return msgIDs(env.MessageID), true
	case "inReplyTo":
		return msgIDs(env.InReplyTo), true
	case "references":
		return msgIDs(hdr.references), true
	case "sender":
		return addressesIf(hdr.sender, env.Sender), true
	case "from":
		return addresses(env.From), true
	case "to":
		return addresses(env.To), true
	case "cc":
		return addresses(env.Cc), true
	case "bcc":
		return addresses(env.Bcc), true
	case "replyTo":
		return addressesIf(hdr.replyTo, env.ReplyTo), true
	case "subject":
		if env.Subject == "" {
			return nil, true
		}
		return env.DecodedSubject(), true
	case "sentAt":
		if t, ok := env.Time(); ok {
			return t.Format(time.RFC3339), true
		}
		return nil, true
	case "hasAttachment":
		return root.HasAttachment(), true
	}
	return nil, false
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

// readHeader picks from the message's header block the fields the
// envelope lacks.
func readHeader(src *emailSource) (*headerFields, error) {
	fields, err := src.fields(src.root)
	if errors.Is(err, store.ErrNotFound) {
		return &headerFields{}, nil
	}
	if err != nil {
		return nil, err
	}
	hf := &headerFields{}
	for _, f := range fields {
		switch strings.ToLower(f.name) {
		case "references":
			hf.references = unfolded(f.value) // RFC 8621 §4.1.3: the last one
		case "sender":
			hf.sender = true
		case "reply-to":
			hf.replyTo = true
		}
	}
	return hf, nil
}

// storedSource is the emailSource of a stored message; the blob is
// opened on first need.
func (h *handler) storedSource(ctx context.Context, m store.Message, root *message.Part) *emailSource {
	var rc io.ReadCloser
	src := &emailSource{ctx: ctx, body: m.BlobID, root: root}
	src.open = func() (io.ReaderAt, error) {
		r, err := h.st.OpenBlob(ctx, m.BlobID)
		if err != nil {
			return nil, err
		}
		ra, ok := r.(io.ReaderAt)
		if !ok {
			r.Close()
			return nil, errors.New("jmapmail: blob without random access")
		}
		rc = r
		return ra, nil
	}
	src.close = func() {
		if rc != nil {
			rc.Close()
		}
	}
	return src
}
