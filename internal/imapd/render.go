package imapd

import (
	"strings"

	"postern/internal/message"
)

// writeEnvelope renders an ENVELOPE (RFC 9051 §7.5.2).
func (w *respWriter) envelope(e *message.Envelope) {
	if e == nil {
		e = &message.Envelope{}
	}
	w.byte('(')
	w.nstring(e.Date)
	w.byte(' ')
	w.nstring(e.Subject)
	for _, l := range [][]message.Address{e.From, orFrom(e.Sender, e.From), orFrom(e.ReplyTo, e.From), e.To, e.Cc, e.Bcc} {
		w.byte(' ')
		w.addressList(l)
	}
	w.byte(' ')
	w.nstring(e.InReplyTo)
	w.byte(' ')
	w.nstring(e.MessageID)
	w.byte(')')
}

// RFC 9051 §7.5.2: sender and reply-to default to from.
func orFrom(l, from []message.Address) []message.Address {
	if len(l) == 0 {
		return from
	}
	return l
}

func (w *respWriter) addressList(l []message.Address) {
	if len(l) == 0 {
		w.str("NIL")
		return
	}
	w.byte('(')
	for _, a := range l {
		w.byte('(')
		switch a.Kind {
		case message.GroupStart:
			w.str("NIL NIL ")
			w.nstring(a.Mailbox)
			w.str(" NIL")
		case message.GroupEnd:
			w.str("NIL NIL NIL NIL")
		default:
			w.nstring(a.Name)
			w.byte(' ')
			w.nstring(a.Adl)
			w.byte(' ')
			w.string(a.Mailbox)
			w.byte(' ')
			w.string(a.Host)
		}
		w.byte(')')
	}
	w.byte(')')
}

// bodyStructure renders BODY (ext false) or BODYSTRUCTURE (ext true),
// RFC 9051 §7.5.2 body. depth guards against hostile stored trees.
func (w *respWriter) bodyStructure(p *message.Part, ext bool, depth int) {
	if p == nil || depth > 2*maxListDepth {
		w.str(`("text" "plain" NIL NIL NIL "7bit" 0 0)`)
		return
	}
	w.byte('(')
	if p.IsMultipart() && len(p.Children) > 0 {
		for _, c := range p.Children {
			w.bodyStructure(c, ext, depth+1)
		}
		w.byte(' ')
		w.string(p.Subtype)
		if ext {
			w.byte(' ')
			w.params(p.Params)
			w.extTail(p)
		}
		w.byte(')')
		return
	}
	w.string(orDefault(p.Type, "text"))
	w.byte(' ')
	w.string(orDefault(p.Subtype, "plain"))
	w.byte(' ')
	w.params(p.Params)
	w.byte(' ')
	w.nstring(p.ID)
	w.byte(' ')
	w.nstring(p.Description)
	w.byte(' ')
	w.string(orDefault(p.Encoding, "7bit"))
	w.byte(' ')
	w.num(uint64(max(p.Size, 0)))
	switch {
	case p.Message != nil:
		w.byte(' ')
		w.envelope(p.Envelope)
		w.byte(' ')
		w.bodyStructure(p.Message, ext, depth+1)
		w.byte(' ')
		w.num(uint64(max(p.Lines, 0)))
	case strings.EqualFold(p.Type, "text"):
		w.byte(' ')
		w.num(uint64(max(p.Lines, 0)))
	}
	if ext {
		w.byte(' ')
		w.nstring(p.MD5)
		w.extTail(p)
	}
	w.byte(')')
}

// extTail writes body-fld-dsp SP body-fld-lang SP body-fld-loc.
func (w *respWriter) extTail(p *message.Part) {
	w.byte(' ')
	if p.Disposition == "" {
		w.str("NIL")
	} else {
		w.byte('(')
		w.string(p.Disposition)
		w.byte(' ')
		w.params(p.DispositionParams)
		w.byte(')')
	}
	w.byte(' ')
	if len(p.Language) == 0 {
		w.str("NIL")
	} else {
		w.byte('(')
		for i, l := range p.Language {
			if i > 0 {
				w.byte(' ')
			}
			w.string(l)
		}
		w.byte(')')
	}
	w.byte(' ')
	w.nstring(p.Location)
}

func (w *respWriter) params(ps []message.Param) {
	if len(ps) == 0 {
		w.str("NIL")
		return
	}
	w.byte('(')
	for i, p := range ps {
		if i > 0 {
			w.byte(' ')
		}
		w.string(p.Key)
		w.byte(' ')
		w.string(p.Value)
	}
	w.byte(')')
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// appendStoredEnvelope appends the ENVELOPE of an envelope in its stored
// binary form, byte for byte what envelope renders for the decoded form,
// without decoding it: a client's message list is a FETCH of thousands.
// ok is false, and dst to be discarded, when stored is not in the
// current binary form or is corrupt; the caller then decodes it.
func appendStoredEnvelope(dst, stored []byte) (out []byte, ok bool) {
	r, ok := message.NewEnvelopeReader(stored)
	if !ok {
		return dst, false
	}
	dst = append(dst, '(')
	dst = appendNString(dst, r.Str()) // date
	dst = append(dst, ' ')
	dst = appendNString(dst, r.Str()) // subject
	from := r
	for i := range 6 {
		dst = append(dst, ' ')
		before := r
		n := r.ListLen()
		if n == 0 && (i == 1 || i == 2) {
			// RFC 9051 §7.5.2: sender and reply-to default to from.
			again := from
			dst = appendStoredAddresses(dst, &again, again.ListLen())
			continue
		}
		if i == 0 {
			from = before
		}
		dst = appendStoredAddresses(dst, &r, n)
	}
	dst = append(dst, ' ')
	dst = appendNString(dst, r.Str()) // in-reply-to
	dst = append(dst, ' ')
	dst = appendNString(dst, r.Str()) // message-id
	dst = append(dst, ')')
	return dst, r.OK()
}

// appendStoredAddresses appends an address list of n entries read from r,
// as addressList renders it.
func appendStoredAddresses(dst []byte, r *message.EnvelopeReader, n int) []byte {
	if n == 0 {
		return append(dst, "NIL"...)
	}
	dst = append(dst, '(')
	for range n {
		a := r.Address()
		dst = append(dst, '(')
		switch a.Kind {
		case message.GroupStart:
			dst = append(dst, "NIL NIL "...)
			dst = appendNString(dst, a.Mailbox)
			dst = append(dst, " NIL"...)
		case message.GroupEnd:
			dst = append(dst, "NIL NIL NIL NIL"...)
		default:
			dst = appendNString(dst, a.Name)
			dst = append(dst, ' ')
			dst = appendNString(dst, a.Adl)
			dst = append(dst, ' ')
			dst = appendString(dst, a.Mailbox)
			dst = append(dst, ' ')
			dst = appendString(dst, a.Host)
		}
		dst = append(dst, ')')
	}
	return append(dst, ')')
}
