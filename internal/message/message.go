// Package message parses a raw RFC 5322 message once, at delivery or IMAP
// APPEND, into everything the protocol servers need later without reading
// the body again: the IMAP ENVELOPE, the BODYSTRUCTURE tree with the byte
// offsets of every part, a preview (RFC 8970) and decoded text for search.
//
// Parsing is streaming and bounded: memory stays at a few hundred KiB plus
// the search-text budget whatever the size of the message. A message that
// breaks the rules, or exceeds a structural limit, is never refused: the
// parser degrades and treats what it cannot understand as an opaque body,
// because a mail server must not lose mail to a strict parser. Only I/O
// errors are errors.
package message

import (
	"io"
	"slices"
)

// Limits bound the work and memory of Parse.
type Limits struct {
	// MaxHeaderBytes is the largest header block kept per part; fields
	// beyond it are not parsed (the block is still measured exactly).
	MaxHeaderBytes int
	// MaxHeaderFields is the number of header fields kept per part.
	MaxHeaderFields int
	// MaxDepth is the deepest nesting of multipart and message/rfc822
	// entities parsed; deeper ones are opaque application/octet-stream.
	MaxDepth int
	// MaxParts is the number of body parts parsed in the whole message;
	// later parts are skipped (their bytes belong to no part).
	MaxParts int
	// MaxSearchText is the number of bytes of decoded text kept for search.
	MaxSearchText int
	// TextParts keeps each text part's decoded text as it is, in
	// Parsed.TextParts, instead of the whitespace-collapsed SearchText:
	// what an index of words needs, without a copy of every body's text.
	TextParts bool
	// MaxPreview is the preview length in characters (RFC 8970 §3: 256).
	MaxPreview int
}

// DefaultLimits are generous for real mail and bounded for hostile mail.
func DefaultLimits() Limits {
	return Limits{
		MaxHeaderBytes:  256 * 1024,
		MaxHeaderFields: 1000,
		MaxDepth:        20,
		MaxParts:        1000,
		MaxSearchText:   1024 * 1024,
		MaxPreview:      256,
	}
}

// Parsed is what parsing a message produced.
type Parsed struct {
	Envelope *Envelope
	// Body is the top-level entity: the message itself, with
	// HeaderStart 0 and End equal to Size.
	Body *Part
	// Preview is up to MaxPreview characters of the first text part, in
	// UTF-8 with whitespace collapsed (RFC 8970).
	Preview string
	// SearchText is the decoded text of all text parts, UTF-8, bounded by
	// MaxSearchText, white space collapsed.
	SearchText string
	// TextParts, with Limits.TextParts (and then no SearchText), are the
	// decoded texts of the text parts, bounded by MaxSearchText in all;
	// TextCut tells that the bound cut some.
	TextParts []string
	TextCut   bool
	// Headers are the top-level header fields decoded to UTF-8, one
	// "Name: value" per line, for header search.
	Headers string
	// Size is the length of the raw message in octets; Lines its number
	// of lines.
	Size  int64
	Lines int64
	// Degraded lists why parts of the message were treated as opaque
	// (limits hit, broken structure), for the delivery log. Empty for
	// well-formed mail.
	Degraded []string
}

// Param is one MIME parameter. Keys are lower-case; RFC 2231
// continuations are joined (RFC 2231 §3: IMAP servers should decode them
// for BODYSTRUCTURE), and a charset-encoded value keeps its "*" key and
// charset'language'%XX form.
type Param struct {
	Key, Value string
}

// Part is one MIME entity, with what IMAP BODYSTRUCTURE (RFC 3501 §7.4.2,
// RFC 9051 §7.5.2) reports and where it lies in the raw message.
type Part struct {
	// Type and Subtype are lower-case ("text", "plain").
	Type, Subtype string
	// Params are the Content-Type parameters (for multipart, the
	// extension data "body parameter parenthesized list").
	Params      []Param
	ID          string // Content-ID
	Description string // Content-Description, raw
	// Encoding is the Content-Transfer-Encoding, lower-case ("7bit" when absent).
	Encoding string
	// Size is the body size in octets, as IMAP reports it: End - BodyStart.
	Size int64
	// Lines is the number of lines of the body (counted for every part;
	// IMAP reports it for text/* and message/rfc822).
	Lines int64
	MD5   string // Content-MD5
	// Disposition is the lower-case disposition type ("" when absent).
	Disposition       string
	DispositionParams []Param
	Language          []string // Content-Language
	Location          string   // Content-Location
	// Children are the parts of a multipart; never empty for one.
	Children []*Part
	// Message and Envelope are the encapsulated message of a
	// message/rfc822 (or message/global) part. Message.HeaderStart is this
	// part's BodyStart.
	Message  *Part
	Envelope *Envelope
	// HeaderStart, BodyStart and End are byte offsets into the raw
	// message: the header block (with its blank line) is
	// [HeaderStart, BodyStart), the body [BodyStart, End). For a
	// multipart child, the CRLF before the next boundary is not part of
	// it (RFC 2046 §5.1.1).
	HeaderStart, BodyStart, End int64
}

// HasAttachment tells whether the part is or holds an attachment: a part
// with Content-Disposition attachment, or a leaf neither text nor
// multipart (an encapsulated message counts as one), as JMAP's
// hasAttachment (RFC 8621 §4.1.4) and its filter have it.
func (p *Part) HasAttachment() bool {
	if p == nil {
		return false
	}
	if p.Disposition == "attachment" {
		return true
	}
	if p.IsMultipart() {
		return slices.ContainsFunc(p.Children, (*Part).HasAttachment)
	}
	return p.Type != "text"
}

// IsMultipart tells whether the part has children.
func (p *Part) IsMultipart() bool { return p.Type == "multipart" }

// IsMessage tells whether the part encapsulates a message whose envelope
// and structure were parsed.
func (p *Part) IsMessage() bool { return p.Message != nil }

// Param returns the value of a Content-Type parameter (key lower-case).
func (p *Part) Param(key string) string { return paramValue(p.Params, key) }

// Envelope is the IMAP ENVELOPE (RFC 3501 §7.4.2, RFC 9051 §7.5.2). String
// fields are the raw header values, unfolded, with encoded-words kept, as
// IMAP returns them; "" means the field is absent (NIL).
type Envelope struct {
	Date      string
	Subject   string
	From      []Address
	Sender    []Address // From when absent
	ReplyTo   []Address // From when absent
	To        []Address
	Cc        []Address
	Bcc       []Address
	InReplyTo string
	MessageID string
}

// AddressKind tells a mailbox from the markers of RFC 5322 group syntax.
type AddressKind uint8

const (
	// Mailbox is an ordinary address.
	Mailbox AddressKind = iota
	// GroupStart opens a group; Mailbox holds the group name. IMAP renders
	// it with NIL host (RFC 3501 §7.4.2).
	GroupStart
	// GroupEnd closes a group; every field is NIL in IMAP.
	GroupEnd
)

// Address is one entry of an IMAP address list. Name is the raw display
// name (quotes removed, encoded-words kept); Adl the source route. For a
// Mailbox an empty Host means the address had no domain: render it as ""
// rather than NIL, which IMAP reserves for group markers.
type Address struct {
	Name, Adl, Mailbox, Host string
	Kind                     AddressKind
}

// Parse reads a raw message to its end and returns its parsed form. Lines
// may end in CRLF (as stored) or a bare LF (tolerated from APPEND). The
// only errors are read errors from r.
func Parse(r io.Reader, lim Limits) (*Parsed, error) {
	lim = lim.withDefaults()
	p := newParser(r, lim)
	root := p.parseMessage()
	if p.sc.err != nil {
		return nil, p.sc.err
	}
	out := &Parsed{
		Envelope:   root.env,
		Body:       root.part,
		Size:       p.sc.off,
		Lines:      p.sc.nl,
		Preview:    p.text.preview(),
		SearchText: p.text.search.String(),
		TextParts:  p.text.parts,
		TextCut:    p.text.cut,
		Headers:    root.headers,
		Degraded:   p.degraded,
	}
	if p.sc.last != '\n' && p.sc.off > 0 {
		out.Lines++
	}
	return out, nil
}

// withDefaults fills zero limits from DefaultLimits, so a partly filled
// Limits is still bounded.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxHeaderFields <= 0 {
		l.MaxHeaderFields = d.MaxHeaderFields
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxSearchText <= 0 {
		l.MaxSearchText = d.MaxSearchText
	}
	if l.MaxPreview <= 0 {
		l.MaxPreview = d.MaxPreview
	}
	return l
}
