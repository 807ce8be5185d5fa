package store

import (
	"context"
	"slices"
	"unicode"
	"unicode/utf8"
)

// TextField selects the text a substring search looks at.
type TextField uint8

const (
	// TextBody is the decoded text of the message's text parts.
	TextBody TextField = iota
	// TextHeaders is the decoded top-level header, one "name: value" per line.
	TextHeaders
	// TextAll is both, as IMAP SEARCH TEXT wants (RFC 9051 §6.4.4).
	TextAll
)

// TextHit is one message whose text contains the needle. Headers holds
// its folded header lines when the search was on TextHeaders, so that a
// caller can check which field matched (IMAP SEARCH HEADER).
type TextHit struct {
	UID     uint32
	Headers string
}

// SubstringSearcher is the part of a Mailstore that does exact,
// case-insensitive substring search over the decoded text kept at
// delivery, which a word index cannot answer ("eting" in "meeting").
type SubstringSearcher interface {
	// SearchSubstring returns the messages of the mailbox whose field
	// contains FoldText(needle), in UID order, and separately the
	// messages for which no text is stored (delivered before the store
	// kept it): the caller has to look at their bodies itself.
	SearchSubstring(ctx context.Context, mailboxID int64, field TextField, needle string) (hits []TextHit, missing []uint32, err error)
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
