package jmapmail

// A stored message opened for a face other than JMAP methods: the
// webmail's HTML view and raw source. It is the same body structure,
// htmlBody algorithm and decoding as Email/get, so what the webmail shows
// is what a JMAP client would get.

import (
	"context"
	"errors"
	"io"
	"strings"

	"postern/internal/message"
	"postern/internal/store"
)

// StoredEmail is one open stored message; Close releases it.
type StoredEmail struct {
	msg   store.Message
	env   *message.Envelope
	src   *emailSource
	lists *partLists
}

// BodyPart is a leaf part of a StoredEmail.
type BodyPart struct {
	// PartID is the IMAP section path ("1.2"), as the JMAP partId.
	PartID string
	// Type is the media type, lower-case ("text/html").
	Type string
	// CID is the Content-ID without its angle brackets ("" when none).
	CID  string
	part *message.Part
}

// OpenEmail opens the message with JMAP id emailID ("e<N>") of store
// account acct; store.ErrNotFound when the account has no such message.
func OpenEmail(ctx context.Context, st store.Store, acct int64, emailID string) (*StoredEmail, error) {
	n, ok := parseID(emailID, 'e')
	if !ok {
		return nil, store.ErrNotFound
	}
	ms, err := st.MessagesByID(ctx, acct, []int64{n})
	if err != nil {
		return nil, err
	}
	if len(ms) != 1 {
		return nil, store.ErrNotFound
	}
	h := &handler{st: st}
	env, root, err := h.parsedForms(ctx, ms[0])
	if err != nil {
		return nil, err
	}
	return &StoredEmail{msg: ms[0], env: env, src: h.storedSource(ctx, ms[0], root)}, nil
}

// Close releases the message's body.
func (e *StoredEmail) Close() { e.src.close() }

// From is the address of the first From mailbox, lower-case; "" when
// there is none.
func (e *StoredEmail) From() string {
	for _, a := range e.env.From {
		if a.Kind == message.Mailbox && a.Mailbox != "" {
			return strings.ToLower(a.Mailbox + "@" + a.Host)
		}
	}
	return ""
}

func (e *StoredEmail) bodyPart(jp *jpart) BodyPart {
	return BodyPart{PartID: jp.path, Type: strings.ToLower(mediaType(jp.p)),
		CID: strings.Trim(strings.TrimSpace(jp.p.ID), "<>"), part: jp.p}
}

// HTMLBody returns the message's htmlBody parts in order (RFC 8621
// §4.1.4): text/html parts, and the text/plain or images that stand in
// for HTML where a message has none.
func (e *StoredEmail) HTMLBody() []BodyPart {
	if e.lists == nil {
		l := flatten(e.src.jroot())
		e.lists = &l
	}
	out := make([]BodyPart, 0, len(e.lists.html))
	for _, jp := range e.lists.html {
		out = append(out, e.bodyPart(jp))
	}
	return out
}

// PartByCID finds the leaf part whose Content-ID is cid (compared without
// angle brackets, case-sensitively as RFC 2392 asks).
func (e *StoredEmail) PartByCID(cid string) (BodyPart, bool) {
	var found *jpart
	var walk func(*jpart)
	walk = func(jp *jpart) {
		if found != nil {
			return
		}
		if !jp.p.IsMultipart() {
			if strings.Trim(strings.TrimSpace(jp.p.ID), "<>") == cid {
				found = jp
			}
			return
		}
		for _, c := range jp.sub {
			walk(c)
		}
	}
	if cid != "" {
		walk(e.src.jroot())
	}
	if found == nil {
		return BodyPart{}, false
	}
	return e.bodyPart(found), true
}

// Text decodes a text part to UTF-8 from its charset, at most maxBytes
// octets; truncated says it was cut.
func (e *StoredEmail) Text(p BodyPart, maxBytes int64) (text string, truncated bool, err error) {
	if p.part == nil || p.part.Type != "text" {
		return "", false, errors.New("jmapmail: not a text part")
	}
	ra, err := e.src.raw()
	if err != nil {
		return "", false, err
	}
	v, err := readBodyValue(ra, p.part, maxBytes)
	return v.Value, v.IsTruncated, err
}

// Open returns the content of a part with its transfer encoding undone.
func (e *StoredEmail) Open(p BodyPart) (io.Reader, error) {
	if p.part == nil {
		return nil, errors.New("jmapmail: no such part")
	}
	ra, err := e.src.raw()
	if err != nil {
		return nil, err
	}
	return partReader(ra, p.part), nil
}

// Raw returns the whole message as stored.
func (e *StoredEmail) Raw() (io.Reader, error) {
	ra, err := e.src.raw()
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(ra, 0, e.msg.Size), nil
}
