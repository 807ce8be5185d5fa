package store

import (
	"context"
	"slices"
	"unicode"
	"unicode/utf8"
)

// TextField selects the text a search looks at. The text is what parsing
// at delivery produced (message.Parsed): decoded to UTF-8, transfer
// encodings and RFC 2047 encoded words undone.
type TextField uint8

const (
	// TextBody is the decoded text of the message's text parts
	// (message.Parsed.SearchText).
	TextBody TextField = iota
	// TextHeaders is the decoded top-level header, one "name: value" line
	// per field (message.Parsed.Headers).
	TextHeaders
	// TextAll is both, as IMAP SEARCH TEXT and JMAP's text filter want
	// (RFC 9051 §6.4.4, RFC 8621 §4.4.1).
	TextAll
)

// TextQuery asks for the messages whose text contains Needle: an exact
// substring match after FoldText on both sides, so "eting" finds
// "MEETING" (a word index alone cannot answer that). An empty Needle
// matches every message, except for a named header (below).
type TextQuery struct {
	Field TextField
	// Header, with TextHeaders, names the one header field to look in
	// ("subject", in any case): only the values of fields of that name
	// count, and an empty Needle asks whether the message has the field
	// at all (RFC 9051 §6.4.4 HEADER, RFC 8621 header filter). "" looks
	// in the whole header, names included ("x-tag: blue" matches). It is
	// ignored with the other fields.
	Header string
	Needle string
}

// TextSearcher is the part of a Mailstore that answers questions about
// message text, exactly: callers never look at bodies themselves.
type TextSearcher interface {
	// SearchText returns the UIDs of the mailbox's messages matching q,
	// in ascending order. The answer is exact: the store checks which
	// header field matched, and a message whose text it does not keep
	// (one stored before it kept text) is answered from its body. A
	// store may refuse a Needle or Header longer than 1 KiB (ErrInvalid).
	SearchText(ctx context.Context, mailboxID int64, q TextQuery) ([]uint32, error)
	// References returns, by UID, the References header field (RFC 5322
	// §3.6.4) of every message of the mailbox that has one, as THREAD
	// (RFC 5256 §3) needs; the values of repeated fields are joined with
	// a space. Values may come case-folded (FoldText), and are then
	// folded for every message: callers compare message IDs folded.
	References(ctx context.Context, mailboxID int64) (map[uint32]string, error)
}

// FoldText maps text to the form substring search compares: each
// character to the lower case of its upper case, so that case variants
// (including ones like U+017F LONG S and U+212A KELVIN SIGN) meet.
func FoldText(s string) string {
	return string(AppendFolded(nil, s))
}

// AppendFolded appends FoldText(s) to dst: the form a store keeps, without
// the copies of a string round trip (ASCII, most of mail, takes a byte
// loop). Invalid UTF-8 becomes U+FFFD, as strings.Map would make it.
func AppendFolded(dst []byte, s string) []byte {
	dst = slices.Grow(dst, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(unicode.ToUpper(r)))
		i += n
	}
	return dst
}
