// Package msgmeta is the delivery-time parser: it turns a raw message into
// what the store keeps beside the body (envelope, body structure, preview,
// text for search, thread keys). Every way mail enters the store (SMTP
// delivery, IMAP APPEND, JMAP import and drafts) uses it, so a message
// reads the same whichever way it came.
package msgmeta

import (
	"io"

	"postern/internal/message"
	"postern/internal/store"
)

// Parse reads r to its end and returns the metadata of the message.
func Parse(r io.Reader) (store.MessageMeta, error) {
	lim := message.DefaultLimits()
	lim.TextParts = true // the store indexes words; no collapsed copy needed
	p, err := message.Parse(r, lim)
	if err != nil {
		return store.MessageMeta{}, err
	}
	meta := store.MessageMeta{
		Envelope:      p.Envelope.Marshal(),
		BodyStructure: p.Body.Marshal(),
		Preview:       p.Preview,
		TextParts:     p.TextParts,
		TextCut:       p.TextCut,
		Headers:       p.Headers,
		Thread:        store.ThreadKeys{Parents: message.ThreadParents(p)},
	}
	if ids := message.ParseMsgIDs(p.Envelope.MessageID); len(ids) > 0 {
		meta.Thread.MessageID = ids[0]
	}
	meta.Thread.BaseSubject, meta.Thread.IsReply = message.BaseSubject(p.Envelope.DecodedSubject())
	return meta, nil
}
